/**
 * One agent harness that claude-relay can connect (`install|uninstall|doctor --for <name>`): Claude Code
 * (claude.ts), Codex CLI (codex.ts), Gemini CLI (gemini.ts). Each implements `Harness`; index.ts lists them.
 * A fourth is one more file: most harnesses keep their MCP servers in one config file, and
 * `configFileHarness` does everything for such a one (read, compare, refuse what is not ours, a diff for
 * --dry-run, a backup into $RELAY_HOME/backups/, an atomic write, idempotency, exact removal) given how to
 * read and write its entry in that file's format.
 */
import { existsSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { UserError } from "../../sessions/cli-errors.js";
import type { Check } from "../claude/doctor.js";
import { backupFile, cliLocation, isRelayServer, validate, writeWithBackup } from "../claude/install.js";
import { jsonEqual, lineDiff } from "../claude/settings.js";
import type { HarnessClient } from "./clients.js";

export type HarnessName = "claude" | "codex" | "gemini";

export interface HarnessOptions {
	url?: string | undefined;
	room?: string | undefined;
	id?: string | undefined;
	dryRun: boolean;
	env?: NodeJS.ProcessEnv;
	cwd?: string;
	print?: (line: string) => void;
	/** Claude Code only: where the bridge is registered, the edit guard's mode, the optional block-git hook. */
	claude?: { scope: "user" | "project"; guard?: string | undefined; blockGit?: boolean | undefined };
}

export interface Harness {
	/** The --for value. */
	readonly name: HarnessName;
	/** The `client` meta its bridges send (harness/clients.ts). */
	readonly client: HarnessClient;
	readonly title: string;
	install(opts: HarnessOptions): Promise<number>;
	uninstall(opts: HarnessOptions): Promise<number>;
	/** Whether the bridge is registered with it (a quick local check; undefined: cannot tell without more). */
	installed?(env: NodeJS.ProcessEnv): boolean | undefined;
	/** The environment the registration gives the bridge (for doctor's hub URL and room). */
	registeredEnv(env: NodeJS.ProcessEnv): Record<string, string>;
	/** Doctor's lines about this harness (after the hub, token, ID and registry checks they all share). */
	doctor(env: NodeJS.ProcessEnv): Promise<Check[]>;
}

/** node and the bridge's CLI, as the registration runs them. */
export interface CliLocation {
	node: string;
	cli: string;
}

/** The file a harness keeps its MCP servers in, and how our entry is read and written there. */
export interface ConfigFileFormat<Entry extends Record<string, unknown>> {
	/** The config file, from the environment (HOME and the harness's own variables). */
	file(env: NodeJS.ProcessEnv): string;
	/** Our entry as the file has it (undefined: none). Throws a UserError for a file that cannot be read as its format. */
	read(text: string, file: string): unknown;
	/** `text` (undefined: no file yet) with our entry set to `entry`, or removed (undefined); everything else kept. */
	write(text: string | undefined, entry: Entry | undefined, file: string): string;
	/** The entry install wants, given what is there (so that the user's own keys in it are kept). */
	desired(loc: CliLocation, opts: HarnessOptions, current: unknown): Entry;
	/** Whether `text` holds nothing any more (uninstall then removes the file, as install created it). */
	empty(text: string): boolean;
}

/** Reads a config file; undefined when there is none. A file that exists but cannot be read is an error, never "absent". */
export function readConfig(file: string, max = 16 * 1024 * 1024): string | undefined {
	if (!existsSync(file)) return undefined;
	try {
		if (statSync(file).size > max) throw new UserError(`${file} is over ${max >> 20} MiB; that is not a config file claude-relay edits. Nothing was changed.`);
		return readFileSync(file, "utf8");
	} catch (err) {
		if (err instanceof UserError) throw err;
		throw new UserError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); nothing was changed`);
	}
}

/** Where to write: through symbolic links (a config kept in a dotfiles repository stays a link to it). */
const target = (file: string) => (existsSync(file) ? realpathSync(file) : file);

const printer = (opts: HarnessOptions) => opts.print ?? ((l: string) => process.stdout.write(`${l}\n`));

/** A Harness for one whose MCP servers live in one config file. */
export function configFileHarness<Entry extends Record<string, unknown>>(spec: {
	name: HarnessName;
	client: HarnessClient;
	title: string;
	format: ConfigFileFormat<Entry>;
	/** What to do after a first install (how to name a session, how to check). */
	next: string[];
	doctor: (env: NodeJS.ProcessEnv, found: { file: string; entry: unknown; error?: string }) => Promise<Check[]>;
}): Harness {
	const { format } = spec;
	const describe = (file: string) => `${spec.title} (${file})`;
	return {
		name: spec.name,
		client: spec.client,
		title: spec.title,

		async install(opts) {
			const env = opts.env ?? process.env;
			const print = printer(opts);
			validate(opts);
			const loc = cliLocation();
			const file = format.file(env);
			print(`claude-relay install --for ${spec.name}${opts.dryRun ? ": dry run, nothing is changed" : ""}`);
			const text = readConfig(file);
			const current = text === undefined ? undefined : format.read(text, file);
			if (current !== undefined && !isRelayServer(current)) {
				throw new UserError(`${file} has an MCP server named "relay" that is not claude-relay's (${JSON.stringify(current)}); remove or rename it first. Nothing was changed.`);
			}
			const entry = format.desired(loc, opts, current);
			// The same entry already there (however it is laid out): nothing to write.
			if (text !== undefined && current !== undefined && jsonEqual(current, entry)) {
				print(`✓ Bridge already in ${describe(file)}: no change`);
				print("Nothing to change: claude-relay is already installed.");
				return 0;
			}
			const next = format.write(text, entry, file);
			if (opts.dryRun) {
				print(`• Would ${text === undefined ? "create" : "change"} ${file}:`);
				for (const l of lineDiff(text ?? "", next)) print(`    ${l}`);
				return 0;
			}
			const backup = await writeWithBackup(target(file), next, env);
			print(`✓ Bridge registered in ${describe(file)}${backup ? ` (backup: ${backup})` : " (created)"}`);
			print("");
			print("Next:");
			for (const l of spec.next) print(l.startsWith("  ") ? `  ${l}` : `  • ${l}`);
			return 0;
		},

		async uninstall(opts) {
			const env = opts.env ?? process.env;
			const print = printer(opts);
			const file = format.file(env);
			print(`claude-relay uninstall --for ${spec.name}${opts.dryRun ? ": dry run, nothing is changed" : ""}`);
			const text = readConfig(file);
			const current = text === undefined ? undefined : format.read(text, file);
			if (text === undefined || current === undefined) {
				print(`✓ Bridge not in ${describe(file)}: nothing to remove`);
				print("Nothing to remove: claude-relay is not installed here.");
				return 0;
			}
			if (!isRelayServer(current)) {
				print(`! ${file} has a "relay" server that is not claude-relay's: left alone`);
				print("Nothing to remove: claude-relay is not installed here.");
				return 0;
			}
			const next = format.write(text, undefined, file);
			const remove = format.empty(next);
			if (opts.dryRun) {
				if (remove) print(`• Would delete ${file} (it only held the bridge)`);
				else {
					print(`• Would change ${file}:`);
					for (const l of lineDiff(text, next)) print(`    ${l}`);
				}
				return 0;
			}
			if (remove) {
				const backup = backupFile(file, env);
				rmSync(target(file));
				print(`✓ Removed ${file} (it only held the bridge; backup: ${backup})`);
				return 0;
			}
			const backup = await writeWithBackup(target(file), next, env);
			print(`✓ Bridge removed from ${describe(file)}${backup ? ` (backup: ${backup})` : ""}`);
			return 0;
		},

		installed(env) {
			try {
				const text = readConfig(format.file(env));
				const entry = text === undefined ? undefined : format.read(text, format.file(env));
				return entry !== undefined && isRelayServer(entry);
			} catch {
				return undefined;
			}
		},

		registeredEnv(env) {
			try {
				const text = readConfig(format.file(env));
				const entry = text === undefined ? undefined : format.read(text, format.file(env));
				const e = (entry as { env?: unknown } | undefined)?.env;
				return e && typeof e === "object" && !Array.isArray(e) ? (Object.fromEntries(Object.entries(e).filter(([, v]) => typeof v === "string")) as Record<string, string>) : {};
			} catch {
				return {};
			}
		},

		async doctor(env) {
			const file = format.file(env);
			try {
				const text = readConfig(file);
				return await spec.doctor(env, { file, entry: text === undefined ? undefined : format.read(text, file) });
			} catch (err) {
				return await spec.doctor(env, { file, entry: undefined, error: (err as Error).message.replace(/ Nothing was changed\.$/, "") });
			}
		},
	};
}

/** Doctor's line about the entry itself: there, ours, and running this copy of claude-relay. */
export function entryCheck(found: { file: string; entry: unknown; error?: string }, title: string, installHint: string): Check {
	if (found.error) return { status: "fail", essential: true, text: found.error, fix: "fix the file by hand, then run the install again" };
	if (found.entry === undefined) return { status: "fail", essential: true, text: `Bridge not registered with ${title} (no "relay" server in ${found.file})`, fix: installHint };
	if (!isRelayServer(found.entry)) return { status: "fail", essential: true, text: `The "relay" server in ${found.file} is not claude-relay's`, fix: "rename or remove it, then run the install again" };
	let cli: string | undefined;
	try {
		cli = cliLocation().cli;
	} catch {
		cli = undefined;
	}
	const args = (found.entry as { args?: unknown }).args;
	if (cli && !(Array.isArray(args) && args.includes(cli))) {
		return { status: "warn", essential: true, text: `The "relay" server in ${found.file} runs another copy of claude-relay (${JSON.stringify(args)})`, fix: `${installHint} from the copy you use, to point it there` };
	}
	return { status: "ok", essential: true, text: `Bridge registered in ${found.file}` };
}
