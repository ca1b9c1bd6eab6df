/**
 * `claude-relay doctor`, the built CLI, against a real in-process hub, with a fake `claude` on PATH and HOME,
 * CLAUDE_CONFIG_DIR and RELAY_HOME in temp directories.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HubClient } from "../mcp-client/hub-client.js";
import { FileSecretStore } from "../mcp-client/secrets.js";
import { paths } from "../server/paths.js";
import { minimalEnv } from "./fixtures/env.js";
import { startHub, type TestHub } from "./fixtures/hub.js";
import { CLI, freePort, ROOT } from "./fixtures/processes.js";

const FAKE_BIN = join(ROOT, "test", "fixtures", "fake-claude");
const TOKEN = "doctor-test-token-0123456789";
let tmp: string;
let relayHome: string;
let hub: TestHub | undefined;
const clients: HubClient[] = [];

beforeAll(() => {
	if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`);
});

beforeEach(() => {
	tmp = realpathSync(mkdtempSync(join(tmpdir(), "relay-doctor-")));
	relayHome = join(tmp, "relay");
	mkdirSync(join(tmp, "home"), { recursive: true });
});

afterEach(async () => {
	for (const c of clients.splice(0)) await c.close({ bye: false });
	await hub?.stop();
	hub = undefined;
	rmSync(tmp, { recursive: true, force: true });
});

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
	return minimalEnv({
		PATH: [FAKE_BIN, dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
		HOME: join(tmp, "home"),
		CLAUDE_CONFIG_DIR: join(tmp, "home", ".claude"),
		RELAY_HOME: relayHome,
		...extra,
	});
}

/** Async, so that the in-process hub keeps answering while the CLI runs. */
function cli(args: string[], e: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, [CLI, ...args], { env: e, cwd: tmp, stdio: ["ignore", "pipe", "pipe"] });
		let stdout = "";
		let stderr = "";
		child.stdout.setEncoding("utf8").on("data", (d: string) => {
			stdout += d;
		});
		child.stderr.setEncoding("utf8").on("data", (d: string) => {
			stderr += d;
		});
		child.on("close", (code) => resolve({ code, stdout, stderr }));
	});
}

const line = (out: string, start: string) => out.split("\n").find((l) => l.startsWith(start));

describe("claude-relay doctor", () => {
	it("all green: hub, token, ID and where it came from, observer path, registry, bridge Connected, hooks", async () => {
		hub = await startHub({ token: TOKEN });
		const e = env({ RELAY_URL: hub.url, RELAY_TOKEN: TOKEN, CLAUDE_RELAY_SESSION_ID: "CC-1" });
		expect((await cli(["install"], e)).code).toBe(0);
		const bridge = new HubClient({ url: hub.url, session: "CC-1", token: TOKEN, secrets: new FileSecretStore(paths.secrets(relayHome)), keepaliveMs: 0 });
		clients.push(bridge);
		await bridge.waitReady(5_000);

		const r = await cli(["doctor"], e);
		expect(r.stderr).toBe("");
		expect(r.code).toBe(0);
		expect(r.stdout).not.toContain("✗");
		expect(line(r.stdout, "✓ Node.js")).toBeDefined();
		expect(line(r.stdout, `✓ Hub reachable at ${hub.url}`)).toBeDefined();
		expect(line(r.stdout, "✓ Token accepted by the hub")).toBeDefined();
		expect(line(r.stdout, "✓ Session ID CC-1 (from CLAUDE_RELAY_SESSION_ID)")).toBeDefined();
		expect(line(r.stdout, "✓ Hooks can attach to CC-1: its bridge is connected, 0 unread")).toBeDefined();
		expect(line(r.stdout, "✓ Sessions registry readable")).toBeDefined();
		expect(line(r.stdout, "✓ Bridge registered with Claude Code: `claude mcp get relay` says Connected")).toBeDefined();
		expect(line(r.stdout, "✓ Claude Code 2.1.300: channels available")).toBeDefined();
		expect(line(r.stdout, "✓ Hooks in ")).toContain("UserPromptSubmit/prompt, Stop/stop, Stop/wake, SessionStart/wake");
		expect(r.stdout).toContain("All essential checks passed.");
	});

	it("nothing set up, hub down: ✗ lines with fixes, exit code 1", async () => {
		const port = await freePort();
		const r = await cli(["doctor"], env({ RELAY_URL: `ws://127.0.0.1:${port}` }));
		expect(r.code).toBe(1);
		expect(line(r.stdout, `✗ Hub not reachable at ws://127.0.0.1:${port}`)).toBeDefined();
		expect(line(r.stdout, "! No session ID in this shell")).toBeDefined();
		expect(line(r.stdout, "✗ Bridge not registered with Claude Code")).toBeDefined();
		expect(line(r.stdout, "✗ Hooks missing from")).toBeDefined();
		expect(r.stdout).toContain("    fix: `claude-relay install`");
		expect(r.stdout).toMatch(/\d essential checks failed\./);
	});

	it("several hubs (RELAY_URL a list): checks each; one down is a warning while another answers", async () => {
		hub = await startHub();
		const dead = `ws://127.0.0.1:${await freePort()}`;
		const r = await cli(["doctor"], env({ RELAY_URL: `${dead},${hub.url}`, CLAUDE_RELAY_SESSION_ID: "CC-7" }));
		expect(line(r.stdout, `! Hub not reachable at ${dead}`)).toContain("the client uses the other hubs listed");
		expect(line(r.stdout, `✓ Hub reachable at ${hub.url}`)).toBeDefined();
		expect(line(r.stdout, "✓ No token needed (the hub has none)")).toBeDefined();
		const none = await cli(["doctor"], env({ RELAY_URL: `${dead},ws://127.0.0.1:${await freePort()}` }));
		expect(none.code).toBe(1);
		expect(line(none.stdout, `✗ Hub not reachable at ${dead}`)).toBeDefined();
		const bad = await cli(["doctor"], env({ RELAY_URL: `${hub.url},http://nope` }));
		expect(line(bad.stdout, "✗ The hub URL \"http://nope\" is not a ws:// or wss:// URL")).toBeDefined();
	});

	it("a wrong token, a bridge that fails to connect, an old Claude Code", async () => {
		hub = await startHub({ token: TOKEN });
		const e = env({ RELAY_URL: hub.url, RELAY_TOKEN: "wrong-token-wrong-token", FAKE_CLAUDE_STATUS: "✗ Failed to connect", FAKE_CLAUDE_VERSION: "2.0.5" });
		expect((await cli(["install"], e)).code).toBe(0);
		const r = await cli(["doctor"], e);
		expect(r.code).toBe(1);
		expect(line(r.stdout, "✗ The hub refused the token")).toBeDefined();
		expect(line(r.stdout, "✗ Bridge registered, but Claude Code cannot start it")).toBeDefined();
		expect(line(r.stdout, "! Claude Code 2.0.5: no channels before 2.1.80")).toBeDefined();
		const noToken = await cli(["doctor"], env({ RELAY_URL: hub.url }));
		expect(line(noToken.stdout, "✗ The hub requires a token and none is set")).toBeDefined();
	});

	it("an ID with no secret yet, and a settings.json that is not JSON", async () => {
		hub = await startHub();
		const e = env({ RELAY_URL: hub.url, CLAUDE_RELAY_SESSION_ID: "CC-5" });
		mkdirSync(join(tmp, "home", ".claude"), { recursive: true });
		writeFileSync(join(tmp, "home", ".claude", "settings.json"), "{ nope");
		const r = await cli(["doctor"], e);
		expect(r.code).toBe(1);
		expect(line(r.stdout, "✓ No token needed (the hub has none)")).toBeDefined();
		expect(line(r.stdout, "! No stored secret for CC-5 yet")).toBeDefined();
		expect(line(r.stdout, "✗ ")).toBeDefined();
		expect(r.stdout).toContain("is not valid JSON");
	});
});
