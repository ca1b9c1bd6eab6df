/**
 * The real Codex and Gemini CLIs read what `install --for codex|gemini` wrote, and start the bridge from it.
 * They are about 520 MB together, so they are not devDependencies: `.ci/run` installs pinned versions, best
 * effort, into ${XDG_CACHE_HOME:-~/.cache}/claude-relay-ci/agents (the same command works for a local run,
 * see the README), and each case skips, saying why, when its CLI is not there.
 *
 * - Codex: `codex mcp list --json` lists the relay server as written (env_vars included); `codex exec`,
 *   pointed at a local stand-in for the model API (no account, no network), starts the bridge, which reaches
 *   the test's hub as the session named in the shell (CLAUDE_RELAY_SESSION_ID, forwarded only because
 *   env_vars lists it) and says client "codex".
 *   In a tmux pane, the autowake daemon's tmux driver accepts npm's `codex` (a node script in front of the
 *   native binary that runs the bridge) as the harness's own program.
 * - Gemini: `gemini mcp list` starts the bridge and reports it Connected; the bridge knew it ran under
 *   gemini (from its parent process or the GEMINI_CLI=1 Gemini sets: `gemini mcp list` names itself
 *   mcp-test-client).
 */
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { mkdtempSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { viaLauncher } from "../mcp-client/autowake/drivers/tmux.js";
import type { HubClient } from "../mcp-client/hub-client.js";
import { minimalEnv } from "./fixtures/env.js";
import { until } from "./fixtures/faults.js";
import { connectClient, startHub, type TestHub } from "./fixtures/hub.js";
import { CLI } from "./fixtures/processes.js";

const AGENTS_BIN = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "claude-relay-ci", "agents", "node_modules", ".bin");
const binOf = (name: string) => (existsSync(join(AGENTS_BIN, name)) ? join(AGENTS_BIN, name) : undefined);
const CODEX = binOf("codex");
const HAS_TMUX = spawnSync("tmux", ["-V"]).status === 0;
const GEMINI = binOf("gemini");
const why = (name: string, pkg: string) => `: skipped, ${name} is not in ${AGENTS_BIN} (.ci/run installs it: npm install --prefix ${dirname(dirname(AGENTS_BIN))} ${pkg})`;

let h: TestHub;
let probe: HubClient;
let tmp: string;
let cliReal: string;

beforeAll(async () => {
	if (!CODEX && !GEMINI) return;
	if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`);
	cliReal = realpathSync(CLI);
	tmp = realpathSync(mkdtempSync(join(tmpdir(), "relay-agents-")));
	h = await startHub({ port: 0 });
	probe = await connectClient(h.url, "Probe");
});
afterAll(async () => {
	await probe?.close({ bye: false });
	await h?.stop();
	if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
	return minimalEnv({ PATH: [dirname(process.execPath), AGENTS_BIN, "/usr/bin", "/bin"].join(":"), HOME: join(tmp, "home"), RELAY_HOME: join(tmp, "relay"), RELAY_URL: h.url, ...extra });
}

async function sessionMeta(id: string) {
	const { sessions } = await probe.request("sessions", {});
	return sessions.find((s) => s.session === id)?.meta;
}

describe.skipIf(!CODEX)(`Codex CLI${CODEX ? "" : why("codex", "@openai/codex")}`, () => {
	let fake: Server;
	afterAll(() => fake?.close());

	it("lists the relay server from the config install wrote, and starts it with the session's ID", async () => {
		const codexHome = join(tmp, "codex");
		mkdirSync(codexHome, { recursive: true });
		const e = env({ CODEX_HOME: codexHome });
		// A stand-in for the model API: it answers 500, but only once the bridge is at the hub, so that Codex
		// (which starts its MCP servers beside the first model request) is still running then.
		fake = createServer((req, res) => {
			req.resume();
			void until(() => Boolean(h.hub.presence.holder("default", "CX-1")), 30_000, "CX-1 at the hub")
				.catch(() => undefined)
				.then(() => {
					res.writeHead(500, { "content-type": "application/json" });
					res.end('{"error":{"message":"stand-in model API"}}');
				});
		});
		await new Promise<void>((r) => fake.listen(0, "127.0.0.1", r));
		const port = (fake.address() as { port: number }).port;
		// The user's own settings first: install keeps them.
		appendFileSync(
			join(codexHome, "config.toml"),
			`# local stand-in model\nmodel = "stand-in"\nmodel_provider = "standin"\n\n[model_providers.standin]\nname = "stand-in"\nbase_url = "http://127.0.0.1:${port}/v1"\nwire_api = "responses"\nrequest_max_retries = 0\nstream_max_retries = 0\n`,
		);
		const install = spawnSync(process.execPath, [CLI, "install", "--for", "codex"], { env: e, encoding: "utf8", timeout: 60_000 });
		expect(install.status).toBe(0);

		const list = spawnSync(CODEX as string, ["mcp", "list", "--json"], { env: e, encoding: "utf8", timeout: 60_000 });
		expect(list.status).toBe(0);
		const relay = (JSON.parse(list.stdout) as Array<{ name: string; enabled: boolean; transport: { command: string; args: string[]; env_vars: string[] } }>).find((s) => s.name === "relay");
		expect(relay?.enabled).toBe(true);
		expect(relay?.transport.command).toBe(process.execPath);
		expect(relay?.transport.args).toEqual([cliReal, "mcp"]);
		expect(relay?.transport.env_vars).toEqual(expect.arrayContaining(["CLAUDE_RELAY_SESSION_ID", "RELAY_URL", "RELAY_HOME"]));

		const work = join(tmp, "work");
		mkdirSync(work, { recursive: true });
		const run = spawn(CODEX as string, ["exec", "--skip-git-repo-check", "say hello"], { env: { ...e, CLAUDE_RELAY_SESSION_ID: "CX-1" }, cwd: work, stdio: ["ignore", "pipe", "pipe"] });
		let output = "";
		run.stdout.on("data", (d) => (output += d));
		run.stderr.on("data", (d) => (output += d));
		const exited = new Promise<number | null>((r) => run.on("exit", (code) => r(code)));
		try {
			await until(() => Boolean(h.hub.presence.holder("default", "CX-1")), 45_000, "the bridge Codex started, at the hub as CX-1");
		} catch (err) {
			throw new Error(`${(err as Error).message}; codex said:\n${output.slice(-2000)}`);
		} finally {
			const code = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 30_000))]);
			if (code === "timeout") run.kill("SIGKILL");
		}
		expect((await sessionMeta("CX-1"))?.client).toBe("codex");
	}, 120_000);

	it.skipIf(!HAS_TMUX)(`in a tmux pane, the autowake tmux driver sees npm's node launcher in front as Codex's own${HAS_TMUX ? "" : " (skipped: no tmux)"}`, async () => {
		const socket = `relay-agents-${process.pid}`;
		const tmux = (...args: string[]) => spawnSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8" }).stdout.trim();
		try {
			tmux("new-session", "-d", "-x", "120", "-y", "30", `CODEX_HOME='${join(tmp, "codex")}' exec '${CODEX}'`);
			let native: number | undefined;
			await until(() => {
				const pane = Number(tmux("display-message", "-p", "-t", "0", "#{pane_pid}"));
				native = Number(spawnSync("ps", ["-o", "pid=", "--ppid", String(pane)], { encoding: "utf8" }).stdout.trim().split("\n")[0]) || undefined;
				return native !== undefined;
			}, 15_000, "codex's native process");
			const shown = tmux("display-message", "-p", "-t", "0", "#{pane_current_command}");
			expect(shown).toBe("node"); // tmux names the launcher, not the binary the bridge runs under
			expect(viaLauncher(native as number, shown)).toBe(true);
			expect(viaLauncher(native as number, "bash")).toBe(false);
		} finally {
			tmux("kill-server");
		}
	}, 60_000);
});

describe.skipIf(!GEMINI)(`Gemini CLI${GEMINI ? "" : why("gemini", "@google/gemini-cli")}`, () => {
	it("gemini mcp list starts the bridge from the settings install wrote: Connected, and the bridge knew it was gemini", async () => {
		const geminiHome = join(tmp, "gemini");
		mkdirSync(geminiHome, { recursive: true });
		// GEMINI_CLI_TRUST_WORKSPACE: Gemini starts MCP servers only in folders it trusts.
		const e = env({ GEMINI_CLI_HOME: geminiHome, GEMINI_CLI_TRUST_WORKSPACE: "true" });
		const install = spawnSync(process.execPath, [CLI, "install", "--for", "gemini"], { env: e, encoding: "utf8", timeout: 60_000 });
		expect(install.status).toBe(0);
		expect(JSON.parse(readFileSync(join(geminiHome, ".gemini", "settings.json"), "utf8")).mcpServers.relay.args).toEqual([cliReal, "mcp"]);

		const list = spawnSync(GEMINI as string, ["mcp", "list"], { env: { ...e, CLAUDE_RELAY_SESSION_ID: "GM-1" }, cwd: tmp, encoding: "utf8", timeout: 90_000 });
		const text = `${list.stdout}\n${list.stderr}`;
		expect(text).toMatch(new RegExp(`relay: ${process.execPath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} .*\\(stdio\\) - Connected`));
		// The bridge it started took GM-1 (Gemini passes the environment on) and found its harness.
		const log = join(tmp, "relay", "logs", "bridge-GM-1.log");
		await until(() => existsSync(log) && /"harness detected"/.test(readFileSync(log, "utf8")), 10_000, "the bridge's log");
		// From its parent (`node …/gemini`), or, when gemini has already ended it and gone, from GEMINI_CLI=1.
		expect(readFileSync(log, "utf8")).toMatch(/"client":"gemini","from":"(parent|env)"/);
	}, 120_000);
});
