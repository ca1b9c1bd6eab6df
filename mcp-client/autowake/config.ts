/**
 * The autowake daemon's settings: built-in defaults (every rail on), overridden by a TOML file
 * ($RELAY_HOME/autowake.toml, or --config). The file is untrusted input: parsed with smol-toml, checked with
 * zod (unknown keys refused, so a typo never silently disables a rail), and any problem is a ConfigError that
 * names the file, the key and what is wrong; the daemon prints it and exits 2, it never crashes on it.
 *
 *     poll_seconds = 2            # how often the hub is asked what waits
 *     settle_seconds = 1.5        # mail younger than this waits for the rest of its batch
 *     hop_limit = 6               # automatic wakes per thread (or session pair) before it stops
 *     quiet_gap_minutes = 10      # ...until that long without one, or a message from a person
 *     wakes_per_minute = 12       # per session
 *     sensitive = ["infra*", "prod*", "deploy*", "qa*"]   # woken only when `autowake on` named them
 *     human_clients = ["claude-relay-send", "claude-relay-client"]
 *     [tmux]
 *     quiet_ms = 2000             # the pane's screen must not change for this long
 *     lines = 12                  # the bottom lines searched for the prompt
 *     [tmux.prompts]              # per harness (`client` meta: claude-code, codex, gemini, other); "default"
 *                                 # for the rest (regex, one line, nothing typed)
 *     default = '^\s*[│|]?\s*[>›❯]\s*[│|]?\s*$'
 *     [spawn]
 *     timeout_seconds = 600
 *     [spawn.commands]            # per harness, "default" for the rest: argv, no shell; {session}
 *                                 # {claudeSessionId} {nudge} {cwd}
 *     codex = ["codex", "exec", "{nudge}"]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, TomlError } from "smol-toml";
import { z } from "zod";
import { HARNESS_CLIENTS, harnessOf } from "../harness/clients.js";

export const DEFAULT_PROMPT = String.raw`^\s*[│|]?\s*[>›❯]\s*[│|]?\s*$`;
/** The placeholders a spawn command may use; anything else in braces is refused. */
export const SPAWN_PLACEHOLDERS = ["session", "claudeSessionId", "nudge", "cwd"] as const;

const regex = z.string().max(500).refine((s) => {
	try {
		new RegExp(s);
		return true;
	} catch {
		return false;
	}
}, "not a valid regular expression");
const word = z.string().min(1).max(4096);

/**
 * The keys of the per-harness tables ([tmux.prompts], [spawn.commands]): the `client` meta values a bridge
 * sends (harness/clients.ts) and "default". Anything else is refused: a key no session can ever have (say
 * "claude" for "claude-code") would silently never apply.
 */
export const CLIENT_KEYS = [...HARNESS_CLIENTS, "default"] as const;
const knownClients = (table: Record<string, unknown>, ctx: z.RefinementCtx) => {
	for (const key of Object.keys(table))
		if (!(CLIENT_KEYS as readonly string[]).includes(key)) ctx.addIssue({ code: "custom", path: [key], message: `not a harness: the keys are ${CLIENT_KEYS.join(", ")}` });
};

/**
 * A per-harness table's entry for a session's `client` meta: its harness's (an older bridge, which sent
 * "claude-relay-bridge", counts as "other"), else "default".
 */
export function perClient<T>(table: Readonly<Record<string, T>>, client: string | undefined): T | undefined {
	const harness = harnessOf(client);
	return (harness !== undefined ? table[harness] : undefined) ?? table.default;
}

const Schema = z
	.object({
		poll_seconds: z.number().min(0.05).max(3600).default(2),
		settle_seconds: z.number().min(0).max(600).default(1.5),
		hop_limit: z.number().int().min(1).max(1000).default(6),
		quiet_gap_minutes: z.number().min(0).max(10_080).default(10),
		wakes_per_minute: z.number().int().min(1).max(600).default(12),
		sensitive: z.array(z.string().min(1).max(200)).max(100).default(["infra*", "prod*", "deploy*", "qa*"]),
		human_clients: z.array(z.string().min(1).max(64)).max(100).default(["claude-relay-send", "claude-relay-client"]),
		tmux: z
			.object({
				quiet_ms: z.number().int().min(0).max(600_000).default(2000),
				lines: z.number().int().min(1).max(200).default(12),
				prompts: z.record(z.string().max(64), regex).superRefine(knownClients).default({}),
			})
			.strict()
			.default({ quiet_ms: 2000, lines: 12, prompts: {} }),
		spawn: z
			.object({
				timeout_seconds: z.number().min(1).max(86_400).default(600),
				commands: z
					.record(z.string().max(64), z.array(word).min(1).max(64))
					.default({})
					.superRefine(knownClients)
					.superRefine((commands, ctx) => {
						for (const [client, argv] of Object.entries(commands))
							for (const [i, arg] of argv.entries())
								for (const m of arg.matchAll(/\{([^{}]*)\}/g))
									if (!(SPAWN_PLACEHOLDERS as readonly string[]).includes(m[1] ?? ""))
										ctx.addIssue({ code: "custom", path: [client, i], message: `unknown placeholder {${m[1]}} (known: ${SPAWN_PLACEHOLDERS.map((p) => `{${p}}`).join(", ")})` });
					}),
			})
			.strict()
			.default({ timeout_seconds: 600, commands: {} }),
	})
	.strict();

export type AutowakeConfig = z.infer<typeof Schema>;

export class ConfigError extends Error {
	override name = "ConfigError";
}

export const defaultConfigFile = (home: string) => join(home, "autowake.toml");

/** Parses and checks a config text; `file` names it in errors. */
export function parseConfig(text: string, file: string): AutowakeConfig {
	let raw: unknown;
	try {
		raw = parse(text);
	} catch (err) {
		const where = err instanceof TomlError ? ` (line ${err.line}, column ${err.column})` : "";
		throw new ConfigError(`${file} is not valid TOML${where}: ${(err as Error).message.split("\n")[0]}`);
	}
	const parsed = Schema.safeParse(raw);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		const key = issue?.path.length ? issue.path.map(String).join(".") : "(top level)";
		throw new ConfigError(`${file}: ${key}: ${issue?.message ?? "invalid"}`);
	}
	return parsed.data;
}

/** The config: `file` when given (it must exist), else $RELAY_HOME/autowake.toml if present, else the defaults. */
export function loadConfig(home: string, file?: string): { config: AutowakeConfig; file: string | null } {
	const path = file ?? defaultConfigFile(home);
	let text: string;
	try {
		text = readFileSync(path, "utf8");
	} catch (err) {
		if (file === undefined && (err as NodeJS.ErrnoException).code === "ENOENT") return { config: parseConfig("", "(defaults)"), file: null };
		throw new ConfigError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
	}
	if (text.length > 1024 * 1024) throw new ConfigError(`${path} is over 1 MiB; that is not an autowake config`);
	return { config: parseConfig(text, path), file: path };
}
