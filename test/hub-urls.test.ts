/**
 * Several hub URLs (`RELAY_URL=ws://a:9999,ws://b:9999`): the list is checked, HubClient tries them in
 * turn (a reconnecting client moves to the next when its hub dies or refuses it; a one-shot tries each once),
 * and every client takes the list: the bridge (relay_status), `send`, the test client, the hooks, `sessions`
 * and `sessions forget`. A dead URL here is a port nothing listens on; the live hubs are real, in-process.
 * (doctor: test/doctor.test.ts; hubs sharing Redis and a hub killed under load: test/multi-hub-crash.test.ts.)
 */
import { spawn } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HubClient } from "../mcp-client/hub-client.js";
import { MAX_HUB_URLS, parseHubUrls } from "../mcp-client/hub-urls.js";
import { FileSecretStore } from "../mcp-client/secrets.js";
import { ErrorCode } from "../server/errors.js";
import { paths } from "../server/paths.js";
import { startBridge, type TestBridge } from "./fixtures/bridge.js";
import { until } from "./fixtures/faults.js";
import { connectClient, memorySecrets, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI, freePort, ROOT } from "./fixtures/processes.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

interface Run {
	code: number | null;
	stdout: string;
	stderr: string;
}

/** Runs the built CLI with a scrubbed environment (none of the caller's RELAY_* or CLAUDE_* variables). */
function cli(args: string[], env: Record<string, string>, stdin = ""): Promise<Run> {
	const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: env.RELAY_HOME, NO_COLOR: "1", ...env };
	const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: base, stdio: ["pipe", "pipe", "pipe"] });
	let stdout = "";
	let stderr = "";
	child.stdout.setEncoding("utf8").on("data", (d: string) => {
		stdout += d;
	});
	child.stderr.setEncoding("utf8").on("data", (d: string) => {
		stderr += d;
	});
	child.stdin.end(stdin);
	return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("parseHubUrls", () => {
	it("splits, trims and dedupes a comma-separated list, keeping its order", () => {
		expect(parseHubUrls(" ws://a:9999 , wss://b.example:443/x,ws://a:9999,")).toEqual({ ok: true, urls: ["ws://a:9999", "wss://b.example:443/x"] });
		expect(parseHubUrls(["ws://a:1,ws://b:2", "ws://c:3"])).toEqual({ ok: true, urls: ["ws://a:1", "ws://b:2", "ws://c:3"] });
	});

	it("refuses an entry that is not a ws:// URL, an empty list and a list too long, naming the setting", () => {
		const bad = parseHubUrls("ws://a:1,http://b:2", "--url");
		expect(bad).toEqual({ ok: false, problem: expect.stringMatching(/"http:\/\/b:2" is not a ws:\/\/ or wss:\/\/ URL; fix --url/) });
		expect(parseHubUrls(" , ")).toMatchObject({ ok: false, problem: expect.stringMatching(/No hub URL/) });
		const many = Array.from({ length: MAX_HUB_URLS + 1 }, (_, i) => `ws://h${i}:1`).join(",");
		expect(parseHubUrls(many)).toMatchObject({ ok: false, problem: expect.stringMatching(/at most 16/) });
	});
});

describe("a client with several hub URLs", () => {
	let one: TestHub;
	let two: TestHub;
	let dead: string;
	let home: { dir: string; cleanup: () => void };

	beforeAll(async () => {
		assertBuilt();
		one = await startHub();
		two = await startHub();
		dead = `ws://127.0.0.1:${await freePort()}`;
		home = tempDir("relay-urls-");
	});
	afterAll(async () => {
		await one.stop();
		await two.stop();
		home.cleanup();
	});

	it("skips a hub that is down and connects to the next", async () => {
		const c = await connectClient(`${dead},${one.url}`, "Skip");
		cleanups.push(() => c.close({ bye: false }));
		expect(c.urls).toEqual([dead, one.url]);
		expect(c.url).toBe(one.url);
		expect(one.hub.presence.holder("default", "Skip")).toBeDefined();
	});

	it("moves to the next hub when its hub stops, and comes back around the list", async () => {
		const a = await startHub();
		const b = await startHub();
		const c = new HubClient({ url: [a.url, b.url], session: "Mover", secrets: memorySecrets(), keepaliveMs: 0, minReconnectDelayMs: 20, maxReconnectDelayMs: 200 });
		cleanups.push(() => c.close({ bye: false }));
		const urls: string[] = [];
		c.on("ready", () => urls.push(c.url));
		await c.waitReady(5_000);
		await a.stop();
		await until(() => urls.length === 2, 10_000, "the client to reach the second hub");
		expect(urls).toEqual([a.url, b.url]);
		expect((await c.send("Mover2", "still sending")).message.from).toBe("Mover");
		await b.stop();
	});

	it("a one-shot client tries each hub once: the second answers; with none up it names them all", async () => {
		const once = new HubClient({ url: `${dead},${two.url}`, session: "Once", secrets: memorySecrets(), reconnect: false, keepaliveMs: 0, minReconnectDelayMs: 20 });
		cleanups.push(() => once.close({ bye: false }));
		await once.waitReady(5_000);
		expect(once.url).toBe(two.url);

		const other = `ws://127.0.0.1:${await freePort()}`;
		const none = new HubClient({ url: `${dead},${other}`, session: "Nowhere", secrets: memorySecrets(), reconnect: false, keepaliveMs: 0, minReconnectDelayMs: 20 });
		cleanups.push(() => none.close({ bye: false }));
		const err = await none.waitReady(5_000).then(
			() => null,
			(e: unknown) => e as { code: string; message: string },
		);
		expect(err?.code).toBe(ErrorCode.UNREACHABLE);
		expect(err?.message).toContain(`any of the relay hubs at ${dead}, ${other}`);
	});

	it("claude-relay send, client, sessions and sessions forget take the list", async () => {
		const env = { RELAY_HOME: home.dir, RELAY_URL: `${dead},${one.url}` };
		const sent = await cli(["send", "Absent", "hello", "--from", "Cli"], env);
		expect(sent.stderr).toMatch(/has never connected/);
		expect(sent.code).toBe(0);
		expect(sent.stdout).toMatch(/queued for Absent/);

		const piped = await cli(["client", "Piper", "--url", `${dead},${one.url}`], { RELAY_HOME: home.dir }, "status\n");
		expect(piped.code).toBe(0);
		expect(piped.stdout).toContain(`connected to ${one.url} as Piper`);

		const listed = await cli(["sessions", "--json"], env);
		expect(listed.code).toBe(0);
		expect((JSON.parse(listed.stdout) as { id: string }[]).map((s) => s.id)).toContain("Cli");

		const forgot = await cli(["sessions", "forget", "Cli"], env);
		expect(forgot.stderr).toBe("");
		expect(forgot.code).toBe(0);
		expect(forgot.stdout).toMatch(/Forgot Cli in room default/);
	});

	it("the hooks take the list: hook prompt hands over mail from the hub that answers", async () => {
		const secrets = new FileSecretStore(paths.secrets(home.dir));
		const me = await connectClient(one.url, "Hooked", { secrets });
		cleanups.push(() => me.close({ bye: false }));
		const peer = await connectClient(one.url, "Peer");
		cleanups.push(() => peer.close({ bye: false }));
		await peer.send("Hooked", "for the hook");
		const run = await cli(["hook", "prompt"], { RELAY_HOME: home.dir, RELAY_URL: `${dead},${one.url}`, CLAUDE_RELAY_SESSION_ID: "Hooked" }, "{}");
		expect(run.code).toBe(0);
		expect(run.stdout).toContain("for the hook");
	});

	it("the bridge takes the list: relay_status says which hub it is on, of which", async () => {
		let bridge: TestBridge | undefined;
		try {
			bridge = await startBridge({ url: `${dead},${two.url}`, home: home.dir, id: "Bridged" });
			const b = bridge;
			await until(async () => (await b.call("relay_status")).data?.connected === true, 15_000, "the bridge to connect");
			const status = await b.call("relay_status");
			expect(status.data).toMatchObject({ connected: true, hubUrl: two.url, hubUrls: [dead, two.url] });
			expect(status.text).toContain(`Connected to ${two.url} (of ${dead}, ${two.url})`);
		} finally {
			await bridge?.close();
		}
	});
});
