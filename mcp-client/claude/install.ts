/**
 * `claude-relay install` and `claude-relay uninstall`: connect Claude Code to the relay on this machine.
 *
 * install:
 *   1. registers the bridge as the MCP server `relay`:
 *        user scope (default): `claude mcp add relay -s user [-e RELAY_URL=…] [-e RELAY_ROOM=…]
 *                               [-e CLAUDE_RELAY_SESSION_ID=…] -- <node> <abs dist/cli.js> mcp`
 *        project scope:        merged into ./.mcp.json (the file `claude mcp add -s project` writes)
 *   2. merges the hooks (settings.ts HOOK_SPECS) into Claude Code's settings.json ($CLAUDE_CONFIG_DIR or
 *      ~/.claude): prompt (UserPromptSubmit), stop (Stop), wake (asyncRewake, on Stop and SessionStart),
 *      guard (PreToolUse for Edit|Write|MultiEdit|NotebookEdit; --guard MODE goes into its command).
 *      Hooks stay in the user's settings.json for either scope: they do nothing in sessions that are not
 *      bridged, and their absolute paths belong to this machine, not to a project's shared files.
 * Every file write: a backup first (into $RELAY_HOME/backups/, never beside the file: a backup beside a
 * project's .mcp.json would be one more file in the project, for git to show or commit), then an atomic
 * replace; other content untouched,
 * indentation kept. Idempotent: a second run changes nothing and says so. `--dry-run` prints the plan
 * (commands and a diff) and changes nothing.
 *
 * uninstall removes exactly what install adds: `claude mcp remove relay -s <scope>` (or the entry in
 * ./.mcp.json) and our hook entries; containers that only held ours go too.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { paths, relayHome } from "../../server/paths.js";
import { checkName } from "../../server/protocol.js";
import { UserError } from "../../sessions/cli-errors.js";
import { parseHubUrls } from "../hub-urls.js";
import { readSmallFile } from "./hook-common.js";
import { runProgram } from "./run.js";
import {
	claudePaths,
	HOOK_SPECS,
	jsonEqual,
	lineDiff,
	mergeRelayHooks,
	parseSettings,
	removeRelayHooks,
	SettingsError,
	serializeLike,
	shellQuote,
	type HookSpec,
	wantedHookSpecs,
} from "./settings.js";

// write-file-atomic hashes CommonJS `__filename` into its temp names, which an ESM bundle lacks: load it from
// node_modules at run time instead of bundling it.
const writeFileAtomic = createRequire(import.meta.url)("write-file-atomic") as typeof import("write-file-atomic");

export const SERVER_NAME = "relay";
export type Scope = "user" | "project";

export interface InstallOptions {
	scope: Scope;
	url?: string;
	room?: string;
	id?: string;
	/** Written into the guard hook's command as --guard MODE (deny|ask|warn|off). */
	guard?: string;
	/** The optional block-git hook: true adds it, false removes it, undefined keeps what is there. */
	blockGit?: boolean | undefined;
	dryRun: boolean;
	env?: NodeJS.ProcessEnv;
	cwd?: string;
	print?: (line: string) => void;
}

/** The directory of the package: the nearest parent of this module with claude-relay's package.json. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
	let dir = from;
	for (;;) {
		const manifest = join(dir, "package.json");
		if (existsSync(manifest)) {
			try {
				if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === "claude-relay") return dir;
			} catch {
				// not ours
			}
		}
		const parent = dirname(dir);
		if (parent === dir) throw new UserError("cannot find the claude-relay package directory (its package.json)");
		dir = parent;
	}
}

/** node and the real path of dist/cli.js: what the registration and the hooks run. */
export function cliLocation(): { node: string; cli: string } {
	const root = packageRoot();
	const cli = join(root, "dist", "cli.js");
	if (!existsSync(cli)) throw new UserError(`${cli} does not exist; run \`npm run build\` in ${root} first`);
	return { node: process.execPath, cli: realpathSync(cli) };
}

/** `'<node>' '<cli>'`, quoted for the shell Claude Code runs hook commands with. */
export function cliPrefix(loc = cliLocation()): string {
	return `${shellQuote(loc.node)} ${shellQuote(loc.cli)}`;
}

interface ServerEntry {
	type?: string;
	command: string;
	args: string[];
	env?: Record<string, string>;
}

function desiredServer(loc: { node: string; cli: string }, opts: InstallOptions): ServerEntry {
	const env: Record<string, string> = {};
	if (opts.url) env.RELAY_URL = opts.url;
	if (opts.room) env.RELAY_ROOM = opts.room;
	if (opts.id) env.CLAUDE_RELAY_SESSION_ID = opts.id;
	const entry: ServerEntry = { type: "stdio", command: loc.node, args: [loc.cli, "mcp"] };
	if (Object.keys(env).length > 0) entry.env = env;
	return entry;
}

function sameServer(a: unknown, b: ServerEntry): boolean {
	if (typeof a !== "object" || a === null) return false;
	const x = a as Partial<ServerEntry>;
	return (
		(x.type ?? "stdio") === "stdio" &&
		x.command === b.command &&
		jsonEqual(x.args ?? [], b.args) &&
		jsonEqual(x.env && Object.keys(x.env).length > 0 ? x.env : {}, b.env ?? {})
	);
}

/** A server entry that runs claude-relay's bridge (any copy): ours to replace or remove. */
export function isRelayServer(value: unknown): boolean {
	if (typeof value !== "object" || value === null) return false;
	const x = value as Partial<ServerEntry>;
	const words = [x.command ?? "", ...(Array.isArray(x.args) ? x.args : [])].map(String);
	return words.some((w) => /claude-relay|(^|\/)cli\.js$/.test(w)) && words.includes("mcp");
}

function addArgs(server: ServerEntry, scope: Scope): string[] {
	const args = ["mcp", "add", SERVER_NAME, "-s", scope];
	for (const [k, v] of Object.entries(server.env ?? {})) args.push("-e", `${k}=${v}`);
	return [...args, "--", server.command, ...server.args];
}

const display = (program: string, args: readonly string[]) => [program, ...args].map(shellQuote).join(" ");

/** The `relay` server at user scope as Claude Code stored it: found, absent, or unknown (file unreadable). */
function userServer(env: NodeJS.ProcessEnv): { state: "found"; value: unknown } | { state: "absent" } | { state: "unknown" } {
	const file = claudePaths(env).globalConfig;
	if (!existsSync(file)) return { state: "absent" };
	const text = readSmallFile(file, 64 * 1024 * 1024);
	if (text === undefined) return { state: "unknown" };
	try {
		const servers = (JSON.parse(text) as { mcpServers?: Record<string, unknown> }).mcpServers;
		if (servers && typeof servers === "object" && Object.hasOwn(servers, SERVER_NAME)) return { state: "found", value: servers[SERVER_NAME] };
		return { state: "absent" };
	} catch {
		return { state: "unknown" };
	}
}

function timestamp(): string {
	return new Date().toISOString().replace(/[:.]/g, "-");
}

/**
 * Copies `file` to $RELAY_HOME/backups/<its absolute path, flattened>.bak-<time> (mode 700 directory: a
 * settings.json may hold tokens in hook commands); returns the copy's path.
 */
export function backupFile(file: string, env: NodeJS.ProcessEnv): string {
	const dir = paths.backups(relayHome(env));
	mkdirSync(dir, { recursive: true, mode: 0o700 });
	const flat = resolve(file).replace(/^[/\\]+/, "").replace(/[/\\:]/g, "_");
	const backup = join(dir, `${flat}.bak-${timestamp()}`);
	copyFileSync(file, backup);
	return backup;
}

/** Backs `file` up (when it exists) and replaces it atomically with `text`; returns the backup's path. */
export async function writeWithBackup(file: string, text: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
	let backup: string | undefined;
	let mode = 0o644;
	if (existsSync(file)) {
		backup = backupFile(file, env);
		mode = statSync(file).mode & 0o777;
	}
	mkdirSync(dirname(file), { recursive: true });
	await writeFileAtomic(file, text, { mode });
	return backup;
}

/** Checks --id, --room, --url and --guard; a bad one is a UserError with exit code 2. */
export function validate(opts: Pick<InstallOptions, "id" | "room" | "url" | "guard">): void {
	if (opts.id !== undefined) {
		const check = checkName(opts.id);
		if (!check.ok) throw new UserError(`--id: ${check.reason}`, 2);
	}
	if (opts.room !== undefined) {
		const check = checkName(opts.room, "room name");
		if (!check.ok) throw new UserError(`--room: ${check.reason}`, 2);
	}
	if (opts.url !== undefined) {
		// One hub, or several sharing one Redis (comma-separated): the bridge and the hooks take the list as given.
		const parsed = parseHubUrls(opts.url, "--url");
		if (!parsed.ok) throw new UserError(`--url: ${parsed.problem}`, 2);
	}
	if (opts.guard !== undefined && !["deny", "ask", "warn", "off"].includes(opts.guard)) {
		throw new UserError(`--guard: ${JSON.stringify(opts.guard)} is not one of deny, ask, warn, off`, 2);
	}
}

interface Outcome {
	changed: boolean;
	lines: string[];
}

async function claude(args: string[], env: NodeJS.ProcessEnv, cwd: string) {
	return runProgram("claude", args, { env, cwd, timeoutMs: 60_000 });
}

function claudeMissing(plan: string): UserError {
	return new UserError(
		`Claude Code's \`claude\` command is not on PATH, so the bridge cannot be registered. Install Claude Code (https://code.claude.com), or register it yourself:\n  ${plan}\nNothing was changed.`,
	);
}

// ----- the bridge registration --------------------------------------------------------------------------------

async function registerBridge(opts: InstallOptions, loc: { node: string; cli: string }, env: NodeJS.ProcessEnv, cwd: string): Promise<Outcome> {
	const server = desiredServer(loc, opts);
	if (opts.scope === "project") return registerInMcpJson(join(cwd, ".mcp.json"), server, opts.dryRun, env);

	const add = addArgs(server, "user");
	const current = userServer(env);
	if (current.state === "found" && sameServer(current.value, server)) {
		return { changed: false, lines: [`✓ Bridge already registered at user scope (${display("claude", add)}): no change`] };
	}
	if (current.state === "found" && !isRelayServer(current.value)) {
		throw new UserError(
			`An MCP server named "${SERVER_NAME}" that is not claude-relay's is registered at user scope (${JSON.stringify(current.value)}). Remove it first (\`claude mcp remove ${SERVER_NAME} -s user\`) if you want claude-relay's. Nothing was changed.`,
		);
	}
	const steps: string[][] = current.state === "found" ? [["mcp", "remove", SERVER_NAME, "-s", "user"], add] : [add];
	if (opts.dryRun) return { changed: true, lines: steps.map((s) => `• Would run: ${display("claude", s)}`) };

	const lines: string[] = [];
	for (const step of steps) {
		let r = await claude(step, env, cwd);
		if (r.notFound) throw claudeMissing(display("claude", add));
		if (r.code !== 0 && step === add && /already exists/i.test(r.stdout + r.stderr)) {
			// Registered in a way the config file did not show: replace it.
			await claude(["mcp", "remove", SERVER_NAME, "-s", "user"], env, cwd);
			r = await claude(step, env, cwd);
		}
		if (r.code !== 0 || r.timedOut) {
			throw new UserError(`\`${display("claude", step)}\` failed${r.timedOut ? " (timed out)" : ` with exit code ${r.code}`}: ${(r.stderr || r.stdout).trim()}`);
		}
	}
	lines.push(`✓ Bridge registered at user scope: ${display("claude", add)}`);
	return { changed: true, lines };
}

async function registerInMcpJson(file: string, server: ServerEntry, dryRun: boolean, env: NodeJS.ProcessEnv): Promise<Outcome> {
	const original = readSmallFile(file);
	const config = parseSettings(original, file);
	const servers = config.mcpServers ?? {};
	if (typeof servers !== "object" || servers === null || Array.isArray(servers)) throw new SettingsError(`"mcpServers" in ${file} is not an object; fix it by hand first.`);
	const current = (servers as Record<string, unknown>)[SERVER_NAME];
	if (current !== undefined && sameServer(current, server)) return { changed: false, lines: [`✓ Bridge already in ${file}: no change`] };
	if (current !== undefined && !isRelayServer(current)) {
		throw new UserError(`${file} has an MCP server named "${SERVER_NAME}" that is not claude-relay's; remove it first. Nothing was changed.`);
	}
	const next = { ...config, mcpServers: { ...(servers as Record<string, unknown>), [SERVER_NAME]: server } };
	const text = serializeLike(next, original);
	if (dryRun) return { changed: true, lines: [`• Would change ${file}:`, ...lineDiff(original ?? "", text).map((l) => `    ${l}`)] };
	const backup = await writeWithBackup(file, text, env);
	return { changed: true, lines: [`✓ Bridge registered in ${file}${backup ? ` (backup: ${backup})` : " (created)"}`] };
}

async function unregisterBridge(opts: InstallOptions, env: NodeJS.ProcessEnv, cwd: string): Promise<Outcome> {
	if (opts.scope === "project") {
		const file = join(cwd, ".mcp.json");
		const original = readSmallFile(file);
		if (original === undefined) return { changed: false, lines: [`✓ No ${file}: nothing to remove`] };
		const config = parseSettings(original, file);
		const servers = config.mcpServers;
		if (typeof servers !== "object" || servers === null || Array.isArray(servers) || !Object.hasOwn(servers, SERVER_NAME)) {
			return { changed: false, lines: [`✓ Bridge not in ${file}: nothing to remove`] };
		}
		if (!isRelayServer((servers as Record<string, unknown>)[SERVER_NAME])) {
			return { changed: false, lines: [`! ${file} has a "${SERVER_NAME}" server that is not claude-relay's: left alone`] };
		}
		const rest = { ...(servers as Record<string, unknown>) };
		delete rest[SERVER_NAME];
		const next: Record<string, unknown> = { ...config };
		if (Object.keys(rest).length > 0) next.mcpServers = rest;
		else delete next.mcpServers;
		if (opts.dryRun) {
			if (Object.keys(next).length === 0) return { changed: true, lines: [`• Would delete ${file} (it only held the bridge)`] };
			return { changed: true, lines: [`• Would change ${file}:`, ...lineDiff(original, serializeLike(next, original)).map((l) => `    ${l}`)] };
		}
		if (Object.keys(next).length === 0) {
			const backup = backupFile(file, env);
			rmSync(file);
			return { changed: true, lines: [`✓ Removed ${file} (it only held the bridge; backup: ${backup})`] };
		}
		const backup = await writeWithBackup(file, serializeLike(next, original), env);
		return { changed: true, lines: [`✓ Bridge removed from ${file}${backup ? ` (backup: ${backup})` : ""}`] };
	}

	const current = userServer(env);
	const remove = ["mcp", "remove", SERVER_NAME, "-s", "user"];
	if (current.state === "absent") return { changed: false, lines: ["✓ Bridge not registered at user scope: nothing to remove"] };
	if (current.state === "found" && !isRelayServer(current.value)) {
		return { changed: false, lines: [`! The user-scope MCP server "${SERVER_NAME}" is not claude-relay's: left alone`] };
	}
	if (opts.dryRun) return { changed: true, lines: [`• Would run: ${display("claude", remove)}`] };
	const r = await claude(remove, env, cwd);
	if (r.notFound) throw claudeMissing(display("claude", remove));
	if (r.code !== 0) {
		if (/no .*found|not found|does not exist/i.test(r.stdout + r.stderr)) return { changed: false, lines: ["✓ Bridge not registered at user scope: nothing to remove"] };
		throw new UserError(`\`${display("claude", remove)}\` failed with exit code ${r.code}: ${(r.stderr || r.stdout).trim()}`);
	}
	return { changed: true, lines: [`✓ Bridge unregistered: ${display("claude", remove)}`] };
}

// ----- the hooks ----------------------------------------------------------------------------------------------

function hookSummary(specs: readonly HookSpec[] = HOOK_SPECS): string {
	const byEvent = new Map<string, string[]>();
	for (const s of specs) byEvent.set(s.event, [...(byEvent.get(s.event) ?? []), `hook ${s.kind}${s.asyncRewake ? " (asyncRewake)" : ""}`]);
	return [...byEvent].map(([event, kinds]) => `${event} → ${kinds.join(", ")}`).join("; ");
}

async function installHooks(opts: InstallOptions, prefix: string, env: NodeJS.ProcessEnv): Promise<Outcome> {
	const file = claudePaths(env).settings;
	const original = readSmallFile(file, 16 * 1024 * 1024);
	const settings = parseSettings(original, file);
	const specs = wantedHookSpecs(settings, { "block-git": opts.blockGit });
	const next = mergeRelayHooks(settings, prefix, { url: opts.url, room: opts.room, id: opts.id, guard: opts.guard }, file, specs);
	const text = serializeLike(next, original);
	if (original !== undefined && (text === original || jsonEqual(next, settings))) return { changed: false, lines: [`✓ Hooks already in ${file}: no change`] };
	if (opts.dryRun) return { changed: true, lines: [`• Would change ${file}:`, ...lineDiff(original ?? "", text).map((l) => `    ${l}`)] };
	const backup = await writeWithBackup(file, text, env);
	return { changed: true, lines: [`✓ Hooks in ${file}${backup ? ` (backup: ${backup})` : " (created)"}: ${hookSummary(specs)}`] };
}

async function uninstallHooks(opts: InstallOptions, env: NodeJS.ProcessEnv): Promise<Outcome> {
	const file = claudePaths(env).settings;
	const original = readSmallFile(file, 16 * 1024 * 1024);
	if (original === undefined) return { changed: false, lines: [`✓ No ${file}: no hooks to remove`] };
	const settings = parseSettings(original, file);
	const next = removeRelayHooks(settings, file);
	if (jsonEqual(next, settings)) return { changed: false, lines: [`✓ No claude-relay hooks in ${file}: nothing to remove`] };
	const text = serializeLike(next, original);
	if (opts.dryRun) return { changed: true, lines: [`• Would change ${file}:`, ...lineDiff(original, text).map((l) => `    ${l}`)] };
	const backup = await writeWithBackup(file, text, env);
	return { changed: true, lines: [`✓ Hooks removed from ${file}${backup ? ` (backup: ${backup})` : ""}`] };
}

// ----- entry points -------------------------------------------------------------------------------------------

export const CHANNELS_HINT =
	"To have messages pushed into a running session as they arrive (channels, research preview, Claude Code ≥ 2.1.80), start it with:\n" +
	"    claude --dangerously-load-development-channels server:relay";

export async function runInstall(opts: InstallOptions): Promise<number> {
	const env = opts.env ?? process.env;
	const cwd = opts.cwd ?? process.cwd();
	const print = opts.print ?? ((l: string) => process.stdout.write(`${l}\n`));
	validate(opts);
	const loc = cliLocation();
	print(`claude-relay install (${opts.scope} scope)${opts.dryRun ? ": dry run, nothing is changed" : ""}`);
	// Settings first when they cannot be read: fail before anything changed.
	parseSettings(readSmallFile(claudePaths(env).settings, 16 * 1024 * 1024), claudePaths(env).settings);
	const bridge = await registerBridge(opts, loc, env, cwd);
	const hooks = await installHooks(opts, cliPrefix(loc), env);
	for (const l of [...bridge.lines, ...hooks.lines]) print(l);
	if (!bridge.changed && !hooks.changed) print("Nothing to change: claude-relay is already installed.");
	if (!opts.dryRun && (bridge.changed || hooks.changed)) {
		print("");
		print("Next:");
		print("  • In each terminal, name the session before starting Claude Code: `claude-session CC-1`, then `claude`");
		print("    (the bridge and the hooks both take the ID from CLAUDE_RELAY_SESSION_ID).");
		print(`  • ${CHANNELS_HINT.replace("\n", "\n  ")}`);
		print("  • Check the whole chain: `claude-relay doctor`");
	}
	return 0;
}

export async function runUninstall(opts: InstallOptions): Promise<number> {
	const env = opts.env ?? process.env;
	const cwd = opts.cwd ?? process.cwd();
	const print = opts.print ?? ((l: string) => process.stdout.write(`${l}\n`));
	print(`claude-relay uninstall (${opts.scope} scope)${opts.dryRun ? ": dry run, nothing is changed" : ""}`);
	parseSettings(readSmallFile(claudePaths(env).settings, 16 * 1024 * 1024), claudePaths(env).settings);
	const bridge = await unregisterBridge(opts, env, cwd);
	const hooks = await uninstallHooks(opts, env);
	for (const l of [...bridge.lines, ...hooks.lines]) print(l);
	if (!bridge.changed && !hooks.changed) print("Nothing to remove: claude-relay is not installed here.");
	return 0;
}
