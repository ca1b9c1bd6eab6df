/**
 * `claude-relay install` / `uninstall`, run as a user runs them (the built CLI), with HOME and
 * CLAUDE_CONFIG_DIR in temp directories and a fake `claude` first on PATH that records its arguments and
 * keeps user-scope servers in .claude.json like Claude Code does. Plus the plugin layout.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PLUGIN_NAME } from "../mcp-client/claude/constants.js";
import { hooksObject, relayHookKind } from "../mcp-client/claude/settings.js";
import { minimalEnv } from "./fixtures/env.js";
import { CLI, ROOT } from "./fixtures/processes.js";

const FAKE_BIN = join(ROOT, "test", "fixtures", "fake-claude");
const NODE = process.execPath;
let cliReal: string;

let tmp: string;
let home: string;
let configDir: string;
let log: string;

beforeAll(() => {
	if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`);
	cliReal = realpathSync(CLI);
});

beforeEach(() => {
	tmp = realpathSync(mkdtempSync(join(tmpdir(), "relay-install-")));
	home = join(tmp, "home");
	configDir = join(home, ".claude-work");
	log = join(tmp, "claude-args.log");
	mkdirSync(home, { recursive: true });
});

afterEach(() => {
	rmSync(tmp, { recursive: true, force: true });
});

function env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
	return minimalEnv({
		PATH: [FAKE_BIN, dirname(NODE), "/usr/bin", "/bin"].join(":"),
		HOME: home,
		CLAUDE_CONFIG_DIR: configDir,
		RELAY_HOME: join(tmp, "relay"),
		FAKE_CLAUDE_LOG: log,
		...extra,
	});
}

function cli(args: string[], e: NodeJS.ProcessEnv = env(), cwd = tmp) {
	const r = spawnSync(NODE, [CLI, ...args], { env: e, cwd, encoding: "utf8", timeout: 60_000 });
	return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function claudeCalls(): string[][] {
	return existsSync(log)
		? readFileSync(log, "utf8")
				.trim()
				.split("\n")
				.filter(Boolean)
				.map((l) => JSON.parse(l) as string[])
		: [];
}

const settingsFile = () => join(configDir, "settings.json");
/** Backups of `file` that install/uninstall made: in $RELAY_HOME/backups, named after the file's path. */
const backupDir = () => join(tmp, "relay", "backups");
const backups = (file: string) => (existsSync(backupDir()) ? readdirSync(backupDir()).filter((f) => f.startsWith(`${file.replace(/^\/+/, "").replace(/\//g, "_")}.bak-`)) : []);

/** Settings with unrelated content and other people's hooks on the same events. */
const ORIGINAL = {
	model: "opus",
	permissions: { allow: ["Bash(npm test)"], deny: [] },
	hooks: {
		UserPromptSubmit: [{ hooks: [{ type: "command", command: "/usr/local/bin/lint-prompt" }] }],
		Stop: [{ matcher: "", hooks: [{ type: "command", command: "say done", timeout: 5 }] }],
		PreToolUse: [{ matcher: "Bash", hooks: [{ type: "command", command: "/opt/guard.sh" }] }],
	},
	statusLine: { type: "command", command: "~/.claude/statusline.sh" },
};

function writeOriginal(value: unknown = ORIGINAL): string {
	mkdirSync(configDir, { recursive: true });
	const text = `${JSON.stringify(value, null, 2)}\n`;
	writeFileSync(settingsFile(), text);
	return text;
}

const readSettings = () => JSON.parse(readFileSync(settingsFile(), "utf8"));

describe("install / uninstall at user scope", () => {
	it("registers the bridge, merges the hooks, keeps everything else, backs up first", () => {
		const original = writeOriginal();
		const r = cli(["install"]);
		expect(r.stderr).toBe("");
		expect(r.code).toBe(0);

		// `claude mcp add NAME -s user -- node cli mcp`: the name before any -e.
		expect(claudeCalls()).toEqual([["mcp", "add", "relay", "-s", "user", "--", NODE, cliReal, "mcp"]]);
		const claudeJson = JSON.parse(readFileSync(join(configDir, ".claude.json"), "utf8"));
		expect(claudeJson.mcpServers.relay).toEqual({ type: "stdio", command: NODE, args: [cliReal, "mcp"], env: {} });

		const after = readSettings();
		expect(after.model).toBe("opus");
		expect(after.permissions).toEqual(ORIGINAL.permissions);
		expect(after.statusLine).toEqual(ORIGINAL.statusLine);
		expect(after.hooks.PreToolUse[0]).toEqual(ORIGINAL.hooks.PreToolUse[0]);
		// Other hooks first and unchanged, ours appended as their own groups.
		expect(after.hooks.UserPromptSubmit[0]).toEqual(ORIGINAL.hooks.UserPromptSubmit[0]);
		expect(after.hooks.Stop[0]).toEqual(ORIGINAL.hooks.Stop[0]);
		const prefix = `${NODE} ${cliReal}`;
		expect(after.hooks.UserPromptSubmit[1]).toEqual({ hooks: [{ type: "command", command: `${prefix} hook prompt`, timeout: 10 }] });
		expect(after.hooks.Stop.slice(1)).toEqual([
			{ hooks: [{ type: "command", command: `${prefix} hook stop`, timeout: 10 }] },
			{ hooks: [{ type: "command", command: `${prefix} hook wake`, timeout: 660, asyncRewake: true }] },
		]);
		expect(after.hooks.SessionStart).toEqual([
			{ matcher: "startup|resume", hooks: [{ type: "command", command: `${prefix} hook wake`, timeout: 660, asyncRewake: true }] },
		]);
		// The edit guard: its own group beside the user's PreToolUse hook, for the tools that write files.
		expect(after.hooks.PreToolUse.slice(1)).toEqual([
			{ matcher: "Edit|Write|MultiEdit|NotebookEdit", hooks: [{ type: "command", command: `${prefix} hook guard`, timeout: 10 }] },
		]);
		expect(readFileSync(settingsFile(), "utf8").startsWith('{\n  "model"')).toBe(true);

		const saved = backups(settingsFile());
		expect(saved).toHaveLength(1);
		expect(readFileSync(join(backupDir(), saved[0] as string), "utf8")).toBe(original);
		expect(readdirSync(configDir).filter((f) => f.includes(".bak"))).toEqual([]);
		expect(r.stdout).toContain("✓ Bridge registered at user scope");
		expect(r.stdout).toContain("claude --dangerously-load-development-channels server:relay");
	});

	it("is idempotent: a second install changes nothing, byte for byte, and says so", () => {
		writeOriginal();
		expect(cli(["install"]).code).toBe(0);
		const once = readFileSync(settingsFile(), "utf8");
		const callsOnce = claudeCalls().length;
		const r = cli(["install"]);
		expect(r.code).toBe(0);
		expect(r.stdout).toContain("Nothing to change");
		expect(readFileSync(settingsFile(), "utf8")).toBe(once);
		expect(claudeCalls().length).toBe(callsOnce);
		expect(backups(settingsFile())).toHaveLength(1);
	});

	it("uninstall removes exactly what install added; the original comes back", () => {
		const original = writeOriginal();
		expect(cli(["install"]).code).toBe(0);
		const r = cli(["uninstall"]);
		expect(r.code).toBe(0);
		expect(r.stderr).toBe("");
		expect(readSettings()).toEqual(ORIGINAL);
		expect(readFileSync(settingsFile(), "utf8")).toBe(original);
		expect(claudeCalls().at(-1)).toEqual(["mcp", "remove", "relay", "-s", "user"]);
		expect(JSON.parse(readFileSync(join(configDir, ".claude.json"), "utf8")).mcpServers.relay).toBeUndefined();

		// Again: nothing left to remove, no claude call.
		const calls = claudeCalls().length;
		const again = cli(["uninstall"]);
		expect(again.code).toBe(0);
		expect(again.stdout).toContain("Nothing to remove");
		expect(claudeCalls().length).toBe(calls);
		expect(readFileSync(settingsFile(), "utf8")).toBe(original);
	});

	it("--dry-run prints the plan and writes nothing", () => {
		const original = writeOriginal();
		const r = cli(["install", "--dry-run"]);
		expect(r.code).toBe(0);
		expect(r.stdout).toContain("dry run");
		expect(r.stdout).toContain(`• Would run: claude mcp add relay -s user -- ${NODE} ${cliReal} mcp`);
		expect(r.stdout).toMatch(/^ {4}\+ .*hook prompt/m);
		expect(r.stdout).toMatch(/^ {4}\+ .*"asyncRewake": true/m);
		expect(readFileSync(settingsFile(), "utf8")).toBe(original);
		expect(claudeCalls()).toEqual([]);
		expect(backups(settingsFile())).toHaveLength(0);

		expect(cli(["install"]).code).toBe(0);
		const installed = readFileSync(settingsFile(), "utf8");
		const u = cli(["uninstall", "--dry-run"]);
		expect(u.code).toBe(0);
		expect(u.stdout).toContain("• Would run: claude mcp remove relay -s user");
		expect(u.stdout).toMatch(/^ {4}- .*hook stop/m);
		expect(readFileSync(settingsFile(), "utf8")).toBe(installed);
	});

	it("--url/--id/--room go to the registration (-e after the name) and to every hook; a change replaces in place", () => {
		writeOriginal();
		const r = cli(["install", "--url", "ws://localhost:7777", "--id", "CC-7", "--room", "team"]);
		expect(r.code).toBe(0);
		expect(claudeCalls()).toEqual([
			[
				"mcp",
				"add",
				"relay",
				"-s",
				"user",
				"-e",
				"RELAY_URL=ws://localhost:7777",
				"-e",
				"RELAY_ROOM=team",
				"-e",
				"CLAUDE_RELAY_SESSION_ID=CC-7",
				"--",
				NODE,
				cliReal,
				"mcp",
			],
		]);
		const cmds = () =>
			Object.values(readSettings().hooks as Record<string, Array<{ hooks: Array<{ command: string }> }>>)
				.flat()
				.flatMap((g) => g.hooks.map((h) => h.command))
				.filter((c) => relayHookKind(c));
		expect(cmds()).toHaveLength(5);
		for (const c of cmds()) expect(c).toMatch(/ hook (prompt|stop|wake|guard) --url ws:\/\/localhost:7777 --room team --id CC-7$/);

		const again = cli(["install", "--url", "ws://localhost:8888"]);
		expect(again.code).toBe(0);
		expect(claudeCalls().slice(1)).toEqual([
			["mcp", "remove", "relay", "-s", "user"],
			["mcp", "add", "relay", "-s", "user", "-e", "RELAY_URL=ws://localhost:8888", "--", NODE, cliReal, "mcp"],
		]);
		expect(cmds()).toHaveLength(5);
		for (const c of cmds()) expect(c).toMatch(/ hook (prompt|stop|wake|guard) --url ws:\/\/localhost:8888$/);
		expect(readSettings().hooks.UserPromptSubmit[0]).toEqual(ORIGINAL.hooks.UserPromptSubmit[0]);
	});

	it("--guard MODE goes into the guard's command only; a change of mode replaces it in place; a bad mode is refused", () => {
		writeOriginal();
		expect(cli(["install", "--guard", "deny"]).code).toBe(0);
		const guardCommands = () =>
			(readSettings().hooks.PreToolUse as Array<{ hooks: Array<{ command: string }> }>).flatMap((g) => g.hooks.map((h) => h.command)).filter((c) => relayHookKind(c));
		expect(guardCommands()).toEqual([`${NODE} ${cliReal} hook guard --guard deny`]);
		expect(readSettings().hooks.UserPromptSubmit[1].hooks[0].command).toBe(`${NODE} ${cliReal} hook prompt`);
		expect(cli(["install", "--guard", "warn"]).code).toBe(0);
		expect(guardCommands()).toEqual([`${NODE} ${cliReal} hook guard --guard warn`]);
		const bad = cli(["install", "--guard", "maybe"]);
		expect(bad.code).toBe(1);
		expect(bad.stderr).toMatch(/guard/);
		expect(guardCommands()).toEqual([`${NODE} ${cliReal} hook guard --guard warn`]);
		expect(cli(["uninstall"]).code).toBe(0);
		expect(readSettings().hooks.PreToolUse).toEqual(ORIGINAL.hooks.PreToolUse);
	});

	it("creates settings.json when there is none (~/.claude without CLAUDE_CONFIG_DIR) and uninstall leaves no hooks", () => {
		const e = env({ CLAUDE_CONFIG_DIR: undefined });
		const r = cli(["install"], e);
		expect(r.code).toBe(0);
		const file = join(home, ".claude", "settings.json");
		expect(Object.keys(JSON.parse(readFileSync(file, "utf8")).hooks)).toEqual(["UserPromptSubmit", "Stop", "SessionStart", "PreToolUse"]);
		expect(JSON.parse(readFileSync(join(home, ".claude.json"), "utf8")).mcpServers.relay.command).toBe(NODE);
		expect(cli(["uninstall"], e).code).toBe(0);
		expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({});
	});

	it("refuses a settings.json that is not JSON, before changing anything", () => {
		mkdirSync(configDir, { recursive: true });
		writeFileSync(settingsFile(), "{ not json");
		const r = cli(["install"]);
		expect(r.code).toBe(1);
		expect(r.stderr).toContain("is not valid JSON");
		expect(readFileSync(settingsFile(), "utf8")).toBe("{ not json");
		expect(claudeCalls()).toEqual([]);
	});

	it("says what to do when `claude` is not on PATH, and changes nothing", () => {
		const original = writeOriginal();
		const r = cli(["install"], env({ PATH: [dirname(NODE), "/usr/bin", "/bin"].join(":") }));
		expect(r.code).toBe(1);
		expect(r.stderr).toContain("`claude` command is not on PATH");
		expect(r.stderr).toContain("claude mcp add relay -s user --");
		expect(readFileSync(settingsFile(), "utf8")).toBe(original);
	});

	it("leaves a foreign server named relay alone", () => {
		writeOriginal();
		writeFileSync(join(configDir, ".claude.json"), JSON.stringify({ mcpServers: { relay: { type: "stdio", command: "python", args: ["other.py"] } } }));
		const r = cli(["install"]);
		expect(r.code).toBe(1);
		expect(r.stderr).toContain("not claude-relay's");
		expect(claudeCalls()).toEqual([]);
		const u = cli(["uninstall"]);
		expect(u.code).toBe(0);
		expect(u.stdout).toContain("not claude-relay's: left alone");
	});
});

describe("install at project scope", () => {
	it("merges the bridge into ./.mcp.json (no claude call), idempotent, and uninstall restores it", () => {
		writeOriginal();
		const proj = join(tmp, "proj");
		mkdirSync(proj);
		const mcpOriginal = `${JSON.stringify({ mcpServers: { other: { command: "other-server", args: [] } } }, null, 2)}\n`;
		writeFileSync(join(proj, ".mcp.json"), mcpOriginal);
		const r = cli(["install", "--scope", "project"], env(), proj);
		expect(r.code).toBe(0);
		expect(claudeCalls()).toEqual([]);
		const mcp = JSON.parse(readFileSync(join(proj, ".mcp.json"), "utf8"));
		expect(mcp.mcpServers.other).toEqual({ command: "other-server", args: [] });
		expect(mcp.mcpServers.relay).toEqual({ type: "stdio", command: NODE, args: [cliReal, "mcp"] });
		expect(readSettings().hooks.SessionStart).toHaveLength(1);

		const twice = readFileSync(join(proj, ".mcp.json"), "utf8");
		expect(cli(["install", "--scope", "project"], env(), proj).stdout).toContain("Nothing to change");
		expect(readFileSync(join(proj, ".mcp.json"), "utf8")).toBe(twice);

		expect(cli(["uninstall", "--scope", "project"], env(), proj).code).toBe(0);
		expect(readFileSync(join(proj, ".mcp.json"), "utf8")).toBe(mcpOriginal);
		expect(readSettings()).toEqual(ORIGINAL);
		// The backups are in $RELAY_HOME/backups, not in the project (where git would see them).
		expect(readdirSync(proj)).toEqual([".mcp.json"]);
		const saved = backups(join(proj, ".mcp.json"));
		expect(saved).toHaveLength(2);
		expect(saved.map((f) => readFileSync(join(backupDir(), f), "utf8"))).toContain(mcpOriginal);
	});

	it("creates ./.mcp.json when missing and uninstall deletes it again", () => {
		const proj = join(tmp, "proj");
		mkdirSync(proj);
		expect(cli(["install", "--scope", "project"], env(), proj).code).toBe(0);
		expect(existsSync(join(proj, ".mcp.json"))).toBe(true);
		const u = cli(["uninstall", "--scope", "project"], env(), proj);
		expect(u.code).toBe(0);
		expect(existsSync(join(proj, ".mcp.json"))).toBe(false);
		expect(readdirSync(proj)).toEqual([]);
		expect(u.stdout).toContain(`backup: ${backupDir()}/`);
	});
});

describe("plugin layout", () => {
	it("plugin.json, .mcp.json and hooks/hooks.json describe the same bridge and hooks as install", () => {
		// Claude Code expands ${CLAUDE_PLUGIN_ROOT} itself: a literal in these files.
		const root = ["$", "{CLAUDE_PLUGIN_ROOT}"].join("");
		const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
		const plugin = JSON.parse(readFileSync(join(ROOT, ".claude-plugin", "plugin.json"), "utf8"));
		expect(plugin.name).toBe(PLUGIN_NAME);
		expect(plugin.version).toBe(pkg.version);
		expect(typeof plugin.description).toBe("string");

		// The plugin's bridge is in the file plugin.json points at, with ${CLAUDE_PLUGIN_ROOT} (Claude Code does
		// not expand ${CLAUDE_PLUGIN_ROOT:-…}). The repository's .mcp.json is the project-scope server for whoever
		// runs claude inside the repository; a plugin reads it too, and the manifest's server of the same name
		// wins (test/plugin.test.ts checks that with the real CLI).
		expect(plugin.mcpServers).toBe("./.claude-plugin/mcp.json");
		const pluginMcp = JSON.parse(readFileSync(join(ROOT, ".claude-plugin", "mcp.json"), "utf8"));
		expect(pluginMcp).toEqual({ mcpServers: { relay: { command: "node", args: [`${root}/dist/cli.js`, "mcp"] } } });
		const mcp = JSON.parse(readFileSync(join(ROOT, ".mcp.json"), "utf8"));
		expect(mcp).toEqual({ mcpServers: { relay: { command: "node", args: ["dist/cli.js", "mcp"] } } });

		const hooks = JSON.parse(readFileSync(join(ROOT, "hooks", "hooks.json"), "utf8"));
		expect(hooks.hooks).toEqual(hooksObject(`node "${root}/dist/cli.js"`));

		const market = JSON.parse(readFileSync(join(ROOT, ".claude-plugin", "marketplace.json"), "utf8"));
		expect(market.plugins[0]).toMatchObject({ name: PLUGIN_NAME, source: "./" });
	});
});
