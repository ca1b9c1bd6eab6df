/**
 * OpenAI Codex CLI: the bridge as `[mcp_servers.relay]` in `$CODEX_HOME/config.toml` (default ~/.codex),
 * the table `codex mcp add relay -- <node> <cli> mcp` writes, edited with smol-toml so that the rest of
 * the file (comments included) stays byte for byte (toml-table.ts says how and why).
 *
 * Codex gives an MCP server only a few variables of its own environment (HOME, PATH, LANG, …: checked with
 * codex-cli 0.171, where `CLAUDE_RELAY_SESSION_ID` set in the shell did not reach a server without it), plus
 * `env` (fixed values) and `env_vars` (names it forwards from its environment). So the table lists every
 * variable the bridge reads in `env_vars` (options.ts bridgeEnvNames): `claude-session CX-1 --harness codex`
 * then names the session exactly as it does for Claude Code. --url, --room and --id go into `env`.
 *
 * Keys of the table install does not write (`startup_timeout_sec`, `enabled`, `enabled_tools`, …) are kept.
 * Codex has hooks of its own, but nothing here installs them: see the README's Codex section.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../sessions/cli-errors.js";
import type { Check } from "../claude/doctor.js";
import { runProgram } from "../claude/run.js";
import { bridgeEnvNames } from "../options.js";
import { type CliLocation, configFileHarness, entryCheck, type HarnessOptions } from "./harness.js";
import { parseToml, setTable, TomlEditError, tableAt } from "./toml-table.js";

const PATH = ["mcp_servers", "relay"] as const;

export function codexHome(env: NodeJS.ProcessEnv): string {
	return env.CODEX_HOME?.trim() || join(env.HOME?.trim() || homedir(), ".codex");
}

type CodexEntry = Record<string, unknown> & { command: string; args: string[]; env_vars: string[]; env?: Record<string, string> };

/** The keys install owns in the table; the user's others are kept. */
const OWNED = ["command", "args", "env", "env_vars"];

function fixedEnv(opts: HarnessOptions): Record<string, string> {
	const env: Record<string, string> = {};
	if (opts.url) env.RELAY_URL = opts.url;
	if (opts.room) env.RELAY_ROOM = opts.room;
	if (opts.id) env.CLAUDE_RELAY_SESSION_ID = opts.id;
	return env;
}

const wrap = <T>(f: () => T): T => {
	try {
		return f();
	} catch (err) {
		if (err instanceof TomlEditError) throw new UserError(err.message);
		throw err;
	}
};

export const codex = configFileHarness<CodexEntry>({
	name: "codex",
	client: "codex",
	title: "Codex CLI",
	format: {
		file: (env) => join(codexHome(env), "config.toml"),
		read: (text, file) => wrap(() => {
			const doc = parseToml(text, file);
			const servers = doc.mcp_servers;
			if (servers !== undefined && (typeof servers !== "object" || servers === null || Array.isArray(servers)))
				throw new UserError(`"mcp_servers" in ${file} is not a table; fix it by hand first. Nothing was changed.`);
			return tableAt(doc, PATH);
		}),
		write: (text, entry, file) => wrap(() => setTable(text ?? "", PATH, entry, file)),
		empty: (text) => text.trim() === "",
		desired(loc: CliLocation, opts: HarnessOptions, current: unknown): CodexEntry {
			const fixed = fixedEnv(opts);
			const extras = Object.fromEntries(Object.entries(typeof current === "object" && current !== null ? current : {}).filter(([k]) => !OWNED.includes(k)));
			const entry: CodexEntry = { command: loc.node, args: [loc.cli, "mcp"], env_vars: bridgeEnvNames().filter((n) => !(n in fixed)), ...extras };
			if (Object.keys(fixed).length > 0) entry.env = fixed;
			return entry;
		},
	},
	next: [
		"In each terminal, name the session before starting Codex: `claude-session CX-1 --harness codex`, then `codex`",
		"  (the table forwards CLAUDE_RELAY_SESSION_ID and the other RELAY_* variables to the bridge: env_vars).",
		"Codex has no channels and runs none of claude-relay's hooks: the model reads mail with relay_receive / relay_wait,",
		"  and `claude-relay autowake` can wake an idle Codex session in tmux.",
		"Check: `claude-relay doctor --for codex` (and `codex mcp list`).",
	],
	async doctor(env, found): Promise<Check[]> {
		const out: Check[] = [entryCheck(found, "Codex CLI", "`claude-relay install --for codex`")];
		const entry = found.entry as Partial<CodexEntry> | undefined;
		if (entry && !found.error) {
			const forwarded = Array.isArray(entry.env_vars) ? entry.env_vars : [];
			const fixedId = typeof entry.env === "object" && entry.env !== null && "CLAUDE_RELAY_SESSION_ID" in entry.env;
			if (!forwarded.includes("CLAUDE_RELAY_SESSION_ID") && !fixedId) {
				out.push({
					status: "fail",
					essential: true,
					text: "The relay table has no env_vars with CLAUDE_RELAY_SESSION_ID: Codex will not pass the session ID to the bridge (every session gets <host>-<pid>)",
					fix: "`claude-relay install --for codex` adds it",
				});
			}
		}
		const list = await runProgram("codex", ["mcp", "list", "--json"], { env, timeoutMs: 30_000 });
		if (list.notFound) {
			out.push({ status: "fail", essential: true, text: "Codex's `codex` command is not on PATH", fix: "install Codex CLI (`npm install -g @openai/codex`)" });
		} else if (list.code !== 0 || list.timedOut) {
			out.push({ status: "fail", essential: true, text: `\`codex mcp list --json\` failed${list.timedOut ? " (timed out)" : ` with exit code ${list.code}`}: ${(list.stderr || list.stdout).trim().split("\n").pop() ?? ""}`, fix: "run it yourself to see why" });
		} else {
			let listed: { name?: string; enabled?: boolean } | undefined;
			try {
				listed = (JSON.parse(list.stdout) as Array<{ name?: string; enabled?: boolean }>).find((s) => s.name === "relay");
			} catch {
				listed = undefined;
			}
			out.push(
				listed === undefined
					? { status: "fail", essential: true, text: "`codex mcp list` does not list the relay server", fix: `is CODEX_HOME the one install wrote (${codexHome(env)})? \`claude-relay install --for codex\`` }
					: listed.enabled === false
						? { status: "fail", essential: true, text: "Codex lists the relay server as disabled", fix: "remove `enabled = false` from [mcp_servers.relay]" }
						: { status: "ok", essential: true, text: "`codex mcp list` lists the relay server (Codex starts it with each session)" },
			);
			const version = await runProgram("codex", ["--version"], { env, timeoutMs: 15_000 });
			const v = /(\d+\.\d+\.\d+)/.exec(version.stdout)?.[1];
			if (v) out.push({ status: "ok", essential: false, text: `Codex CLI ${v}` });
		}
		out.push({
			status: "warn",
			essential: false,
			text: "Codex gets the relay tools only: no channels and no claude-relay hooks, so mail waits until the model calls relay_receive or relay_wait",
			fix: "to wake idle sessions: `claude-relay autowake on CX-1` and run `claude-relay autowake` (tmux, or a [spawn.commands] codex entry)",
		});
		return out;
	},
});
