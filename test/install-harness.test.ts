/**
 * `claude-relay install|uninstall --for codex|gemini` and `install --print`, run as a user runs them (the
 * built CLI) against temp homes (CODEX_HOME, GEMINI_CLI_HOME, HOME), the results parsed back with smol-toml
 * and jsonc-parser: other settings, tables and comments kept byte for byte, a second install changes
 * nothing, uninstall gives back the original, --dry-run writes nothing.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse as parseJsonc } from "jsonc-parser/lib/esm/main.js";
import { parse as parseToml } from "smol-toml";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { bridgeEnvNames } from "../mcp-client/options.js";
import { minimalEnv } from "./fixtures/env.js";
import { CLI } from "./fixtures/processes.js";

const NODE = process.execPath;
let cliReal: string;
let tmp: string;
let home: string;

beforeAll(() => {
	if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`);
	cliReal = realpathSync(CLI);
});
beforeEach(() => {
	tmp = realpathSync(mkdtempSync(join(tmpdir(), "relay-harness-install-")));
	home = join(tmp, "home");
	mkdirSync(home, { recursive: true });
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

function env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
	// No codex or gemini on this PATH: install never needs them.
	return minimalEnv({ PATH: [dirname(NODE), "/usr/bin", "/bin"].join(":"), HOME: home, RELAY_HOME: join(tmp, "relay"), ...extra });
}
function cli(args: string[], e: NodeJS.ProcessEnv = env()) {
	const r = spawnSync(NODE, [CLI, ...args], { env: e, cwd: tmp, encoding: "utf8", timeout: 60_000 });
	return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const backups = () => (existsSync(join(tmp, "relay", "backups")) ? readdirSync(join(tmp, "relay", "backups")) : []);

const CODEX_ORIGINAL = `# Codex settings, by hand
model = "gpt-5"            # the one we pay for
approval_policy = "on-request"

[mcp_servers.docs]
# documentation lookups
command = "npx"
args = ["-y", "docs-mcp"]

[profiles.fast]
model = "gpt-5-mini"
`;

describe("--for codex", () => {
	const codexHome = () => join(tmp, "codex-home");
	const file = () => join(codexHome(), "config.toml");
	const cenv = (extra: Record<string, string> = {}) => env({ CODEX_HOME: codexHome(), ...extra });
	const write = (text = CODEX_ORIGINAL) => {
		mkdirSync(codexHome(), { recursive: true });
		writeFileSync(file(), text);
	};

	it("adds [mcp_servers.relay] with env_vars, keeps every other byte, backs up first; a second run changes nothing", () => {
		write();
		const r = cli(["install", "--for", "codex"], cenv());
		expect(r.stderr).toBe("");
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/✓ Bridge registered in Codex CLI \(.*config\.toml\) \(backup: .*\.bak-/);
		const text = readFileSync(file(), "utf8");
		expect(text.startsWith(CODEX_ORIGINAL)).toBe(true); // comments and layout of the rest, byte for byte
		const doc = parseToml(text) as { mcp_servers: Record<string, unknown>; profiles: unknown; model: string };
		expect(doc.mcp_servers.relay).toEqual({ command: NODE, args: [cliReal, "mcp"], env_vars: bridgeEnvNames() });
		expect((doc.mcp_servers.relay as { env_vars: string[] }).env_vars).toEqual(expect.arrayContaining(["CLAUDE_RELAY_SESSION_ID", "RELAY_URL", "RELAY_HOME", "TMUX_PANE"]));
		expect(doc.mcp_servers.docs).toEqual({ command: "npx", args: ["-y", "docs-mcp"] });
		expect(doc.profiles).toEqual({ fast: { model: "gpt-5-mini" } });
		expect(backups()).toHaveLength(1);
		expect(readFileSync(join(tmp, "relay", "backups", backups()[0] as string), "utf8")).toBe(CODEX_ORIGINAL);

		const again = cli(["install", "--for", "codex"], cenv());
		expect(again.code).toBe(0);
		expect(again.stdout).toContain("no change");
		expect(again.stdout).toContain("Nothing to change");
		expect(readFileSync(file(), "utf8")).toBe(text);
		expect(backups()).toHaveLength(1);
	});

	it("uninstall removes exactly what install added: the original, byte for byte", () => {
		write();
		expect(cli(["install", "--for", "codex"], cenv()).code).toBe(0);
		const r = cli(["uninstall", "--for", "codex"], cenv());
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/✓ Bridge removed from Codex CLI/);
		expect(readFileSync(file(), "utf8")).toBe(CODEX_ORIGINAL);
		const again = cli(["uninstall", "--for", "codex"], cenv());
		expect(again.stdout).toContain("nothing to remove");
		expect(readFileSync(file(), "utf8")).toBe(CODEX_ORIGINAL);
	});

	it("creates the file when there is none (under ~/.codex without CODEX_HOME) and removes it again", () => {
		const def = join(home, ".codex", "config.toml");
		const r = cli(["install", "--for", "codex", "--url", "ws://localhost:9998", "--room", "team"]);
		expect(r.code).toBe(0);
		expect(r.stdout).toContain("(created)");
		const doc = parseToml(readFileSync(def, "utf8")) as { mcp_servers: { relay: { env: Record<string, string>; env_vars: string[] } } };
		// Fixed values go to env, and are not forwarded as well.
		expect(doc.mcp_servers.relay.env).toEqual({ RELAY_URL: "ws://localhost:9998", RELAY_ROOM: "team" });
		expect(doc.mcp_servers.relay.env_vars).not.toContain("RELAY_URL");
		expect(doc.mcp_servers.relay.env_vars).toContain("CLAUDE_RELAY_SESSION_ID");
		expect(cli(["uninstall", "--for", "codex"]).stdout).toContain("it only held the bridge");
		expect(existsSync(def)).toBe(false);
	});

	it("replaces an older entry of ours in place, keeping keys it does not own and the tables around it", () => {
		write(`${CODEX_ORIGINAL.replace("[profiles.fast]", `[mcp_servers.relay]\ncommand = "node"\nargs = ["/old/claude-relay/dist/cli.js", "mcp"]\nstartup_timeout_sec = 20\n\n[profiles.fast]`)}`);
		const before = readFileSync(file(), "utf8");
		expect(cli(["install", "--for", "codex"], cenv()).code).toBe(0);
		const text = readFileSync(file(), "utf8");
		const doc = parseToml(text) as { mcp_servers: Record<string, Record<string, unknown>> };
		expect(doc.mcp_servers.relay).toEqual({ command: NODE, args: [cliReal, "mcp"], env_vars: bridgeEnvNames(), startup_timeout_sec: 20 });
		expect(Object.keys(doc.mcp_servers)).toEqual(["docs", "relay"]);
		expect(text.slice(0, text.indexOf("[mcp_servers.relay]"))).toBe(before.slice(0, before.indexOf("[mcp_servers.relay]")));
		expect(text.slice(text.indexOf("[profiles.fast]"))).toBe(before.slice(before.indexOf("[profiles.fast]")));
	});

	it("--dry-run prints the diff and writes nothing", () => {
		write();
		const r = cli(["install", "--for", "codex", "--dry-run"], cenv());
		expect(r.code).toBe(0);
		expect(r.stdout).toContain("dry run, nothing is changed");
		expect(r.stdout).toContain("+ [mcp_servers.relay]");
		expect(r.stdout).toContain(`+ command = "${NODE}"`);
		expect(readFileSync(file(), "utf8")).toBe(CODEX_ORIGINAL);
		expect(backups()).toEqual([]);
		expect(cli(["install", "--for", "codex"], cenv()).code).toBe(0);
		const installed = readFileSync(file(), "utf8");
		const u = cli(["uninstall", "--for", "codex", "--dry-run"], cenv());
		expect(u.stdout).toContain("- [mcp_servers.relay]");
		expect(readFileSync(file(), "utf8")).toBe(installed);
	});

	it("refuses, changing nothing: another program's relay, a file that is not TOML, an inline definition", () => {
		for (const text of [
			`${CODEX_ORIGINAL}\n[mcp_servers.relay]\ncommand = "python3"\nargs = ["relay_server.py"]\n`,
			'model = "gpt-5\n',
			`mcp_servers = { docs = { command = "npx" } }\n`,
		]) {
			write(text);
			const r = cli(["install", "--for", "codex"], cenv());
			expect(r.code).toBe(1);
			expect(r.stderr).toMatch(/not claude-relay's|not valid TOML \(line 1|without touching the rest/);
			expect(r.stderr).toContain("Nothing was changed");
			expect(readFileSync(file(), "utf8")).toBe(text);
		}
		expect(backups()).toEqual([]);
	});

	it("edits the target of a symbolic link, which stays a link", () => {
		const real = join(tmp, "dotfiles", "codex.toml");
		mkdirSync(dirname(real), { recursive: true });
		writeFileSync(real, CODEX_ORIGINAL);
		mkdirSync(codexHome(), { recursive: true });
		symlinkSync(real, file());
		expect(cli(["install", "--for", "codex"], cenv()).code).toBe(0);
		expect(readFileSync(real, "utf8").startsWith(CODEX_ORIGINAL)).toBe(true);
		expect(readFileSync(real, "utf8")).toContain("[mcp_servers.relay]");
		expect(realpathSync(file())).toBe(realpathSync(real));
	});
});

const GEMINI_ORIGINAL = `{
  // Gemini settings, by hand
  "ui": { "theme": "GitHub" },
  "mcpServers": {
    "docs": { "command": "npx", "args": ["-y", "docs-mcp"] } // documentation
  },
  "security": {
    "auth": { "selectedType": "gemini-api-key" }
  }
}
`;

describe("--for gemini", () => {
	const geminiHome = () => join(tmp, "gemini-home");
	const file = () => join(geminiHome(), ".gemini", "settings.json");
	const genv = () => env({ GEMINI_CLI_HOME: geminiHome() });
	const write = (text = GEMINI_ORIGINAL) => {
		mkdirSync(dirname(file()), { recursive: true });
		writeFileSync(file(), text);
	};
	const read = () => parseJsonc(readFileSync(file(), "utf8")) as { mcpServers: Record<string, unknown>; ui: unknown; security: unknown };

	it("adds mcpServers.relay, keeps the rest and its comments, backs up first; a second run changes nothing", () => {
		write();
		const r = cli(["install", "--for", "gemini"], genv());
		expect(r.stderr).toBe("");
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/✓ Bridge registered in Gemini CLI \(.*settings\.json\) \(backup: /);
		const text = readFileSync(file(), "utf8");
		const doc = read();
		expect(doc.mcpServers.relay).toEqual({ command: NODE, args: [cliReal, "mcp"] });
		expect(doc.mcpServers.docs).toEqual({ command: "npx", args: ["-y", "docs-mcp"] });
		expect(doc.ui).toEqual({ theme: "GitHub" });
		expect(doc.security).toEqual({ auth: { selectedType: "gemini-api-key" } });
		// Everything outside our entry, byte for byte (the comma after docs aside).
		expect(text).toContain('  // Gemini settings, by hand\n  "ui": { "theme": "GitHub" },\n');
		expect(text).toContain('    "docs": { "command": "npx", "args": ["-y", "docs-mcp"] }, // documentation\n    "relay": {');
		expect(text.slice(text.indexOf('  "security"'))).toBe(GEMINI_ORIGINAL.slice(GEMINI_ORIGINAL.indexOf('  "security"')));
		expect(backups()).toHaveLength(1);

		const again = cli(["install", "--for", "gemini"], genv());
		expect(again.stdout).toContain("no change");
		expect(readFileSync(file(), "utf8")).toBe(text);
		expect(backups()).toHaveLength(1);
	});

	it("uninstall gives back the original byte for byte; from nothing, it removes the file it created", () => {
		write();
		expect(cli(["install", "--for", "gemini", "--id", "GM-9"], genv()).code).toBe(0);
		expect(read().mcpServers.relay).toMatchObject({ env: { CLAUDE_RELAY_SESSION_ID: "GM-9" } });
		expect(cli(["install", "--for", "gemini"], genv()).code).toBe(0); // env removed again, in place
		expect(read().mcpServers.relay).toEqual({ command: NODE, args: [cliReal, "mcp"] });
		expect(cli(["uninstall", "--for", "gemini"], genv()).code).toBe(0);
		expect(readFileSync(file(), "utf8")).toBe(GEMINI_ORIGINAL);

		// No GEMINI_CLI_HOME: ~/.gemini/settings.json.
		const def = join(home, ".gemini", "settings.json");
		expect(cli(["install", "--for", "gemini"]).stdout).toContain("(created)");
		expect(JSON.parse(readFileSync(def, "utf8"))).toEqual({ mcpServers: { relay: { command: NODE, args: [cliReal, "mcp"] } } });
		expect(cli(["uninstall", "--for", "gemini"]).stdout).toContain("it only held the bridge");
		expect(existsSync(def)).toBe(false);
	});

	it("--dry-run writes nothing; a foreign relay and a broken file are refused untouched", () => {
		write();
		const d = cli(["install", "--for", "gemini", "--dry-run"], genv());
		expect(d.stdout).toContain('+     "relay": {');
		expect(readFileSync(file(), "utf8")).toBe(GEMINI_ORIGINAL);
		for (const text of [GEMINI_ORIGINAL.replace('"docs": {', '"relay": { "command": "uvx", "args": ["other-relay"] },\n    "docs": {'), '{ "ui": { "theme": }\n', "[1, 2]\n"]) {
			write(text);
			const r = cli(["install", "--for", "gemini"], genv());
			expect(r.code).toBe(1);
			expect(r.stderr).toMatch(/not claude-relay's|not valid JSON \(ValueExpected on line 1\)|does not hold a JSON object/);
			expect(readFileSync(file(), "utf8")).toBe(text);
		}
		expect(backups()).toEqual([]);
	});
});

describe("flags for one harness, --print for any other client", () => {
	it("refuses Claude Code's flags with another harness, and an unknown harness (exit 2)", () => {
		for (const args of [
			["install", "--for", "codex", "--guard", "deny"],
			["install", "--for", "gemini", "--block-git"],
			["install", "--for", "codex", "--scope", "project"],
			["uninstall", "--for", "gemini", "--scope", "project"],
		]) {
			const r = cli(args);
			expect(r.code).toBe(2);
			expect(r.stderr).toMatch(/Claude Code only/);
		}
		const bad = cli(["install", "--for", "cursor"]);
		expect(bad.code).not.toBe(0);
		expect(bad.stderr).toMatch(/Invalid values|Choices/);
		expect(existsSync(join(home, ".codex"))).toBe(false);
		expect(existsSync(join(home, ".gemini"))).toBe(false);
	});

	it("install --print writes the generic mcpServers JSON to stdout and nothing to disk", () => {
		const r = cli(["install", "--print", "--id", "CURSOR-1", "--url", "ws://localhost:9998"]);
		expect(r.code).toBe(0);
		expect(r.stderr).toBe("");
		expect(JSON.parse(r.stdout)).toEqual({
			mcpServers: { relay: { command: NODE, args: [cliReal, "mcp"], env: { RELAY_URL: "ws://localhost:9998", CLAUDE_RELAY_SESSION_ID: "CURSOR-1" } } },
		});
		expect(readdirSync(home)).toEqual([]);
		expect(existsSync(join(tmp, "relay", "backups"))).toBe(false);
		expect(cli(["install", "--print", "--id", "bad id"]).code).toBe(2);
	});
});
