/**
 * A hub with a token, and clients with a wrong token or none: every client says the token is the problem
 * (E_AUTH) and how to fix it, never "cannot reach the hub … is the SSH tunnel up?". A wrong token is
 * refused at the HTTP upgrade (401), a missing one at hello (E_AUTH, close 4001): both paths, for the
 * bridge (the built CLI driven by the MCP SDK's Client), `claude-relay send` and `claude-relay client`.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HubClient } from "../mcp-client/hub-client.js";
import { ErrorCode } from "../server/errors.js";
import { startBridge } from "./fixtures/bridge.js";
import { testEnv } from "./fixtures/env.js";
import { memorySecrets, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI } from "./fixtures/processes.js";

const TOKEN = "the-hubs-own-token-0123456789";
const WRONG = "not-the-hubs-token-9876543210";
let hub: TestHub;
let home: { dir: string; cleanup: () => void };

beforeAll(async () => {
	assertBuilt();
	hub = await startHub({ token: TOKEN });
	home = tempDir("relay-auth-");
});

afterAll(async () => {
	await hub?.stop();
	home?.cleanup();
});

const cases = [
	{ name: "a wrong token (HTTP 401 at the upgrade)", env: { RELAY_TOKEN: WRONG }, says: /refused the token: it is not the hub's token/ },
	{ name: "no token (E_AUTH at hello)", env: {}, says: /requires a token and none was given/ },
] as const;

/** What every refusal must say: the fix, with this client's own token file, and nothing about tunnels. */
function expectTheFix(text: string, says: RegExp): void {
	expect(text).toMatch(says);
	expect(text).toContain("RELAY_TOKEN");
	expect(text).toContain("--token-file");
	expect(text).toContain(join(home.dir, "token"));
	expect(text).toContain("the hub was started with");
	expect(text).not.toMatch(/Cannot reach|SSH tunnel|E_UNREACHABLE/);
}

function run(args: string[], env: Record<string, string>, stdin = ""): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, [CLI, ...args], {
			env: testEnv({ RELAY_HOME: home.dir, RELAY_URL: hub.url, NO_COLOR: "1", ...env }),
			stdio: ["pipe", "pipe", "pipe"],
		});
		let stdout = "";
		let stderr = "";
		child.stdout.setEncoding("utf8").on("data", (d: string) => {
			stdout += d;
		});
		child.stderr.setEncoding("utf8").on("data", (d: string) => {
			stderr += d;
		});
		child.on("close", (code) => resolve({ code, stdout, stderr }));
		child.stdin.end(stdin);
	});
}

describe.each(cases)("$name", ({ env, says }) => {
	it("send: exit 1 with E_AUTH and the fix", async () => {
		const r = await run(["send", "Bob", "hello", "--from", "Alice"], env);
		expect(r.code).toBe(1);
		expect(r.stdout).toBe("");
		expectTheFix(r.stderr, says);
		const json = await run(["send", "Bob", "hello", "--from", "Alice", "--json"], env);
		expect(json.code).toBe(1);
		const parsed = JSON.parse(json.stdout) as { error: { code: string; message: string } };
		expect(parsed.error.code).toBe(ErrorCode.AUTH);
		expectTheFix(parsed.error.message, says);
	});

	it("client: exit 1 at once with the fix", async () => {
		const started = Date.now();
		const r = await run(["client", "Alice", "--timeout", "20"], env, "peers\n");
		expect(r.code).toBe(1);
		expectTheFix(r.stderr, says);
		// Refused, not timed out: it does not wait out its 20 s bound.
		expect(Date.now() - started).toBeLessThan(15_000);
	});

	it("bridge: tools fail with E_AUTH and the fix, relay_status says so, and it stops retrying", async () => {
		const bridge = await startBridge({ url: hub.url, home: home.dir, id: "Carol", env });
		try {
			const sent = await bridge.call("relay_send", { to: "Bob", message: "hello" });
			expect(sent.isError).toBe(true);
			expect(sent.text.startsWith(`${ErrorCode.AUTH}: `)).toBe(true);
			expectTheFix(sent.text, says);
			const status = await bridge.call("relay_status");
			expect(status.data.connected).toBe(false);
			expect(status.data.lastError.code).toBe(ErrorCode.AUTH);
			expectTheFix(status.data.lastError.message, says);
			expect(bridge.stderr()).toContain("the hub refused this session; not retrying");
		} finally {
			await bridge.close();
		}
	});
});

describe("HubClient", () => {
	it("a 401 stops a reconnecting client for good (fatal E_AUTH), instead of retrying as if the hub were down", async () => {
		const c = new HubClient({ url: hub.url, session: "Dave", token: WRONG, secrets: memorySecrets(), home: "/h", minReconnectDelayMs: 20, keepaliveMs: 0 });
		const fatal = new Promise<Error>((resolve) => c.once("fatal", resolve));
		let disconnects = 0;
		c.on("disconnected", () => disconnects++);
		await expect(c.waitReady(5_000)).rejects.toMatchObject({ code: ErrorCode.AUTH });
		expect((await fatal).message).toContain("/h/token");
		await new Promise((r) => setTimeout(r, 300));
		expect(disconnects).toBe(1);
		await c.close();
	});

	it("the right token still connects, at the upgrade and in hello", async () => {
		const c = new HubClient({ url: hub.url, session: "Erin", token: TOKEN, secrets: memorySecrets(), keepaliveMs: 0 });
		await expect(c.waitReady(5_000)).resolves.toMatchObject({ session: "Erin" });
		await c.close();
	});
});
