/**
 * The repository as a Claude Code plugin, checked with the real `claude` CLI (@anthropic-ai/claude-code,
 * node_modules/.bin/claude; none of these commands needs a login), in a temp HOME and CLAUDE_CONFIG_DIR:
 *
 * - `claude plugin validate .` passes with nothing to warn about;
 * - `claude plugin marketplace add <checkout>` + `claude plugin install session-relay@claude-relay`, then
 *   `claude mcp list` from a directory outside the checkout shows the plugin's bridge ✔ Connected (it once
 *   said ✘ Failed to connect: Claude Code does not expand `${CLAUDE_PLUGIN_ROOT:-.}`, only
 *   `${CLAUDE_PLUGIN_ROOT}`), and the checkout's own .mcp.json still works for a session opened in it;
 * - `claude-relay doctor` knows the bridge and the hooks come from the plugin.
 *
 * The checkout is staged as a clone after `npm install` would be (its files, dist/, node_modules linked),
 * since `plugin install` copies what it installs. Claude Code also runs `npm ci --ignore-scripts` in the
 * copy; npm is set offline here so that this step fails at once instead of downloading the dev dependencies
 * (the plugin runs from the marketplace's folder, where node_modules is).
 * Skipped, with the reason, only when the CLI cannot run on this machine.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLUGIN_NAME } from "../mcp-client/claude/constants.js";
import { DEAD_URL, minimalEnv } from "./fixtures/env.js";
import { assertBuilt, CLI, ROOT } from "./fixtures/processes.js";

const CLAUDE = join(ROOT, "node_modules", ".bin", "claude");
const MARKETPLACE = "claude-relay";
const SERVER = `plugin:${PLUGIN_NAME}:relay`;

function probeCli(): string | undefined {
	if (!existsSync(CLAUDE)) return `${CLAUDE} is missing (npm install the dev dependencies)`;
	const home = mkdtempSync(join(tmpdir(), "relay-claude-probe-"));
	try {
		const r = spawnSync(CLAUDE, ["--version"], { env: minimalEnv({ HOME: home, CLAUDE_CONFIG_DIR: join(home, ".claude") }), encoding: "utf8", timeout: 60_000 });
		return r.status === 0 && /Claude Code/.test(r.stdout) ? undefined : `\`claude --version\` failed here (${r.error?.message ?? `exit ${r.status}`}: ${(r.stderr || r.stdout).trim().slice(0, 200)})`;
	} finally {
		rmSync(home, { recursive: true, force: true });
	}
}
const cannotRun = probeCli();
const note = cannotRun ? ` (SKIPPED: ${cannotRun})` : "";

let tmp: string;
let checkout: string;
let env: NodeJS.ProcessEnv;

interface Run {
	code: number | null;
	stdout: string;
	stderr: string;
}

/** Runs a program asynchronously with the test's environment (a spawned bridge may need this process). */
function run(cmd: string, args: string[], cwd: string, extra: Record<string, string> = {}, timeoutMs = 120_000): Promise<Run> {
	return new Promise((resolve) => {
		const child = spawn(cmd, args, { cwd, env: { ...env, ...extra }, stdio: ["ignore", "pipe", "pipe"] });
		let stdout = "";
		let stderr = "";
		const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
		child.stdout.setEncoding("utf8").on("data", (d: string) => {
			stdout += d;
		});
		child.stderr.setEncoding("utf8").on("data", (d: string) => {
			stderr += d;
		});
		child.on("close", (code) => {
			clearTimeout(timer);
			resolve({ code, stdout, stderr });
		});
	});
}

const claude = (args: string[], cwd: string) => run(CLAUDE, args, cwd);

/** The checkout as a clone would have it after `npm install`: every file but .git, with node_modules linked. */
function stage(dest: string): void {
	mkdirSync(dest, { recursive: true });
	for (const name of readdirSync(ROOT)) {
		if (name === ".git" || name === "node_modules" || name.startsWith("dist.")) continue;
		cpSync(join(ROOT, name), join(dest, name), { recursive: true });
	}
	symlinkSync(join(ROOT, "node_modules"), join(dest, "node_modules"));
}

/** The line `claude mcp list` prints for a server, or undefined. */
function listed(out: string, name: string): string | undefined {
	return out.split("\n").find((l) => l.startsWith(`${name}: `));
}

describe.skipIf(cannotRun !== undefined)(`the plugin with the real claude CLI${note}`, () => {
	beforeAll(async () => {
		assertBuilt();
		tmp = realpathSync(mkdtempSync(join(tmpdir(), "relay-plugin-")));
		checkout = join(tmp, "claude-relay");
		stage(checkout);
		for (const d of ["home", "config", "relay", "npm", "elsewhere"]) mkdirSync(join(tmp, d));
		env = minimalEnv({
			HOME: join(tmp, "home"),
			CLAUDE_CONFIG_DIR: join(tmp, "config"),
			// The bridges `claude mcp list` starts: their own RELAY_HOME, and a hub URL nothing listens on (a
			// bridge that cannot reach its hub still answers MCP, which is what the health check asks).
			RELAY_HOME: join(tmp, "relay"),
			RELAY_URL: DEAD_URL,
			npm_config_offline: "true",
			npm_config_cache: join(tmp, "npm"),
			npm_config_update_notifier: "false",
			DISABLE_AUTOUPDATER: "1",
			DISABLE_TELEMETRY: "1",
		});
	});

	afterAll(() => {
		if (tmp) rmSync(tmp, { recursive: true, force: true });
	});

	it("`claude plugin validate .` passes, with no error and no warning", async () => {
		const r = await claude(["plugin", "validate", "."], ROOT);
		const out = `${r.stdout}\n${r.stderr}`;
		expect(out).toContain("✔ Validation passed");
		expect(r.code).toBe(0);
		expect(out).not.toMatch(/✘|⚠|warning/i);
		// What it provides: the plugin's bridge with ${CLAUDE_PLUGIN_ROOT}, which Claude Code expands.
		const root = ["$", "{CLAUDE_PLUGIN_ROOT}"].join("");
		expect(out).toContain(`mcpServers: relay stdio node ["${root}/dist/cli.js","mcp"]`);
		expect(out).not.toContain("CLAUDE_PLUGIN_ROOT:-");
	});

	it("installed from the checkout's marketplace, the bridge connects from a directory outside the checkout", async () => {
		const add = await claude(["plugin", "marketplace", "add", checkout], join(tmp, "elsewhere"));
		expect(add.stdout + add.stderr).toContain(`Successfully added marketplace: ${MARKETPLACE}`);
		const install = await claude(["plugin", "install", `${PLUGIN_NAME}@${MARKETPLACE}`], join(tmp, "elsewhere"));
		expect(install.stdout + install.stderr).toContain(`Successfully installed plugin: ${PLUGIN_NAME}@${MARKETPLACE}`);
		const settings = JSON.parse(readFileSync(join(tmp, "config", "settings.json"), "utf8")) as { enabledPlugins?: Record<string, boolean> };
		expect(settings.enabledPlugins?.[`${PLUGIN_NAME}@${MARKETPLACE}`]).toBe(true);

		const list = await claude(["mcp", "list"], join(tmp, "elsewhere"));
		const line = listed(list.stdout, SERVER);
		expect(line, list.stdout + list.stderr).toBeDefined();
		expect(line).toContain("✔ Connected");
		// The path Claude Code ran is absolute: the plugin's root, not the current directory.
		expect(line).toMatch(/node \/\S+\/dist\/cli\.js mcp/);
		expect(line).not.toContain(join(tmp, "elsewhere"));
		// Nothing else of the plugin is listed (the checkout's project .mcp.json is overridden by the manifest's).
		expect(list.stdout.split("\n").filter((l) => l.startsWith(`plugin:${PLUGIN_NAME}:`))).toHaveLength(1);
	});

	it("the checkout's own .mcp.json: a session opened in the checkout gets the project's bridge too", async () => {
		// Approve the project's servers the way a person does at the first start in the folder.
		const file = join(tmp, "config", "settings.json");
		const settings = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
		writeFileSync(file, JSON.stringify({ ...settings, enableAllProjectMcpServers: true }, null, 2));
		const list = await claude(["mcp", "list"], checkout);
		expect(listed(list.stdout, "relay"), list.stdout).toContain("✔ Connected");
		expect(listed(list.stdout, SERVER), list.stdout).toContain("✔ Connected");
	});

	it("`claude-relay doctor` says the bridge and the hooks come from the plugin", async () => {
		const r = await run(process.execPath, [CLI, "doctor"], join(tmp, "elsewhere"), { PATH: `${join(ROOT, "node_modules", ".bin")}:${env.PATH}` });
		expect(r.stdout).toContain(`✓ Bridge provided by the ${PLUGIN_NAME} plugin: \`claude mcp get ${SERVER}\` says Connected`);
		expect(r.stdout).toContain(`✓ Hooks come from the ${PLUGIN_NAME}@${MARKETPLACE} plugin (enabled in settings.json)`);
		expect(r.stdout).not.toContain("Bridge not registered");
	});
});
