/**
 * `claude-relay send <to> <message...>`: the built CLI against a real in-process hub. Live vs queued
 * wording, warnings, --json, stdin, the sender's identity, exit codes, and one-line failures.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import { FileSecretStore } from "../mcp-client/secrets.js";
import { paths } from "../server/paths.js";
import { type Message, SendResult } from "../server/protocol.js";
import { stableFallbackId } from "../scripts/connect.js";
import { testEnv } from "./fixtures/env.js";
import { connectClient, connectCollecting, memorySecrets, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI, freePort, ROOT } from "./fixtures/processes.js";

let hub: TestHub;
let home: { dir: string; cleanup: () => void };
const clients: HubClient[] = [];
/** The test's own sessions keep their secrets here, so that they can come back. */
const secrets = memorySecrets();

interface Run {
	code: number | null;
	stdout: string;
	stderr: string;
}

/** Runs `claude-relay send ...args` (asynchronously: the hub lives in this process). */
function send(args: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string; url?: string } = {}): Promise<Run> {
	const env = testEnv({ RELAY_HOME: home.dir, RELAY_URL: opts.url ?? hub.url, NO_COLOR: "1", ...opts.env });
	const child = spawn(process.execPath, [CLI, "send", ...args], { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
	let stdout = "";
	let stderr = "";
	child.stdout.setEncoding("utf8").on("data", (d: string) => {
		stdout += d;
	});
	child.stderr.setEncoding("utf8").on("data", (d: string) => {
		stderr += d;
	});
	child.stdin.end(opts.stdin ?? "");
	return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}

async function online(id: string): Promise<{ client: HubClient; got: Message[] }> {
	const c = await connectCollecting(hub.url, id, { secrets });
	clients.push(c.client);
	return c;
}

const noStack = (r: Run) => expect(`${r.stdout}${r.stderr}`).not.toMatch(/\n\s+at /);

beforeAll(async () => {
	assertBuilt();
	hub = await startHub();
	home = tempDir("relay-send-");
});

afterEach(async () => {
	await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
	await hub?.stop();
	home?.cleanup();
});

describe("claude-relay send", () => {
	it("to a session online: 'delivered live', exit 0, and it arrives from --from", async () => {
		const b = await online("BRAVO");
		const r = await send(["BRAVO", "build", "done", "--from", "CI"]);
		expect(r).toMatchObject({ code: 0, stderr: "" });
		expect(r.stdout).toMatch(/^delivered live to BRAVO \(m-\d+-\w+\)\n$/);
		await expect.poll(() => b.got.map((m) => `${m.from}:${m.body}`)).toEqual(["CI:build done"]);
	});

	it("to a session offline: 'queued for X (offline)'; to an unknown one also a warning", async () => {
		const c = await online("CHARLIE");
		await c.client.close();
		const known = await send(["CHARLIE", "later"], { env: { RELAY_CLIENT_ID: "ci" } });
		expect(known).toMatchObject({ code: 0, stderr: "" });
		expect(known.stdout).toMatch(/^queued for CHARLIE \(offline\) \(m-/);

		const unknown = await send(["NEWCOMER", "hello?"], { env: { RELAY_CLIENT_ID: "ci" } });
		expect(unknown.code).toBe(0);
		expect(unknown.stdout).toMatch(/^queued for NEWCOMER \(offline\)/);
		expect(unknown.stderr).toMatch(/^warning: NEWCOMER has never connected to room default; the message is queued .* Known: .*CHARLIE/);

		// It was sent as RELAY_CLIENT_ID, and CHARLIE gets it when it comes back.
		const back = await online("CHARLIE");
		await expect.poll(() => back.got.map((m) => `${m.from}:${m.body}`)).toEqual(["ci:later"]);
	});

	it("--json prints the hub's result; - reads the message from stdin; --reply-to is passed on", async () => {
		const d = await online("DELTA");
		const r = await send(["DELTA", "-", "--json", "--from", "CI", "--reply-to", "m-1-abcdef"], { stdin: "line one\nline two\n" });
		expect(r.code).toBe(0);
		const result = SendResult.parse(JSON.parse(r.stdout));
		expect(result).toMatchObject({ live: ["DELTA"], queued: [], duplicate: false, message: { from: "CI", to: "DELTA", body: "line one\nline two", replyTo: "m-1-abcdef" } });
		await expect.poll(() => d.got.map((m) => m.body)).toEqual(["line one\nline two"]);
	});

	it("a message starting with '-' after --; '*' reaches everyone", async () => {
		const e = await online("ECHO");
		const f = await online("FOXTROT");
		const r = await send(["*", "--from", "CI", "--", "-x", "is", "set"]);
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/delivered live to (ECHO, FOXTROT|FOXTROT, ECHO)/);
		for (const c of [e, f]) await expect.poll(() => c.got.map((m) => `${m.to}:${m.body}`)).toEqual(["*:-x is set"]);
	});

	it("once its secret is stored, sends as an observer: never contests a live holder of the ID", async () => {
		// The bridge of a Claude session holds GOLF with the secret from this RELAY_HOME.
		const holder = await connectClient(hub.url, "GOLF", { secrets: new FileSecretStore(paths.secrets(home.dir)) });
		clients.push(holder);
		let dropped = false;
		holder.on("disconnected", () => {
			dropped = true;
		});
		const h = await online("HOTEL");
		const joined: string[] = [];
		h.client.on("peer_joined", (p) => joined.push(p.session));
		const r = await send(["HOTEL", "from GOLF's shell"], { env: { CLAUDE_RELAY_SESSION_ID: "GOLF" } });
		expect(r).toMatchObject({ code: 0, stderr: "" });
		expect(r.stdout).toMatch(/^delivered live to HOTEL/);
		await expect.poll(() => h.got.map((m) => `${m.from}:${m.body}`)).toEqual(["GOLF:from GOLF's shell"]);
		expect(dropped).toBe(false);
		expect(holder.ready).toBe(true);
		expect(joined).toEqual([]);
	});

	it("without an ID configured anywhere, sends as <host>-cli every time (not a new <host>-<pid>)", async () => {
		const i = await online("INDIA");
		expect((await send(["INDIA", "one"])).code).toBe(0);
		expect((await send(["INDIA", "two"])).code).toBe(0);
		const id = stableFallbackId();
		await expect.poll(() => i.got.map((m) => `${m.from}:${m.body}`)).toEqual([`${id}:one`, `${id}:two`]);
	});

	it("hub down: exit 1 with the hint, one line, no stack trace", async () => {
		const port = await freePort();
		const r = await send(["X", "hi", "--from", "CI", "--url", `ws://127.0.0.1:${port}`]);
		expect(r.code).toBe(1);
		expect(r.stdout).toBe("");
		expect(r.stderr).toMatch(/^claude-relay send: Cannot reach the relay hub at ws:\/\/127\.0\.0\.1:\d+\. Is the hub running .*SSH tunnel up/);
		expect(r.stderr.trim().split("\n")).toHaveLength(1);
		noStack(r);
		const json = await send(["X", "hi", "--from", "CI", "--json", "--url", `ws://127.0.0.1:${port}`]);
		expect(json.code).toBe(1);
		expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "E_UNREACHABLE" } });
	});

	it("to a #topic: its subscribers only; to A,B: one message, a delivery each; no subscribers: a warning", async () => {
		const sub = await online("TOPSUB");
		const bystander = await online("BYSTANDER");
		await sub.client.request("subscribe", { topic: "shop:api" });
		const topic = await send(["#shop:api", "cursor", "field", "--from", "CI"]);
		expect(topic).toMatchObject({ code: 0, stderr: "" });
		expect(topic.stdout).toMatch(/^delivered live to TOPSUB \(m-\d+-\w+\)\n$/);
		await expect.poll(() => sub.got.map((m) => `${m.to}:${m.body}`)).toEqual(["#shop:api:cursor field"]);
		expect(bystander.got).toEqual([]);

		const list = await send(["TOPSUB,BYSTANDER", "both", "--from", "CI", "--json"]);
		expect(list.code).toBe(0);
		expect(JSON.parse(list.stdout).message.to).toBe("TOPSUB,BYSTANDER");
		await expect.poll(() => bystander.got.map((m) => m.body)).toEqual(["both"]);

		const nobody = await send(["#empty.topic", "anyone?", "--from", "CI"]);
		expect(nobody.code).toBe(0);
		expect(nobody.stdout).toMatch(/^stored; it reached no one \(m-/);
		expect(nobody.stderr).toMatch(/^warning: Nobody else subscribes to #empty\.topic in room default/);
		for (const bad of ["#", "#a/b", "#a..b", "TOPSUB,*", "TOPSUB,,X"]) {
			const r = await send([bad, "hi", "--from", "CI"]);
			expect(r.code, bad).toBe(2);
			expect(r.stderr.trim().split("\n"), bad).toHaveLength(1);
		}
	});

	it("too large, to itself, an ID someone else owns: exit 1, one sentence each", async () => {
		const big = await send(["JULIET", "-", "--from", "CI"], { stdin: "x".repeat(70_000) });
		expect(big.code).toBe(1);
		expect(big.stderr).toMatch(/^claude-relay send: Message body of 70000 bytes is over the hub's 65536-byte limit; split it or send a file path\.\n$/);
		// Over the hub's hard frame ceiling too: refused by the client, not cut off by the hub (1009).
		const huge = await send(["JULIET", "-", "--from", "CI"], { stdin: "x".repeat(2 * 1024 * 1024) });
		expect(huge.code).toBe(1);
		expect(huge.stderr).toBe("claude-relay send: Message body of 2097152 bytes is over the hub's 65536-byte limit; split it or send a file path.\n");

		const self = await send(["CI", "hi", "--from", "CI"]);
		expect(self.code).toBe(2);
		expect(self.stderr).toMatch(/^claude-relay send: A session cannot send to itself\.\n$/);

		const channel = await send(["CI,JULIET", "hi", "--from", "CI"]);
		expect(channel.code).toBe(2);
		expect(channel.stderr).toMatch(/^claude-relay send: A session cannot send to itself\.\n$/);

		const owner = await connectClient(hub.url, "KILO"); // its secret is not in this RELAY_HOME
		await owner.close();
		const taken = await send(["JULIET", "hi", "--from", "KILO"]);
		expect(taken.code).toBe(1);
		expect(taken.stderr).toMatch(/^claude-relay send: KILO is already registered in room default and this hello has no secret\..*--from <ID>/);
		for (const r of [big, self, channel, taken]) {
			expect(r.stderr.trim().split("\n")).toHaveLength(1);
			noStack(r);
		}
	});

	it("bad arguments: exit 2 with the reason", async () => {
		const name = await send(["bad name", "hi"]);
		expect(name.code).toBe(2);
		expect(name.stderr).toMatch(/^claude-relay send: recipient must start with a letter/);
		const empty = await send(["LIMA", "-"], { stdin: "" });
		expect(empty.code).toBe(2);
		expect(empty.stderr).toMatch(/The message is empty/);
		const from = await send(["LIMA", "hi", "--from", "root"]);
		expect(from.code).toBe(2);
		expect(from.stderr).toMatch(/reserved word/);
		const env = await send(["LIMA", "hi"], { env: { RELAY_CLIENT_ID: "9x" } });
		expect(env.code).toBe(2);
		expect(env.stderr).toMatch(/RELAY_CLIENT_ID is not usable.*change or unset RELAY_CLIENT_ID/);
		const reply = await send(["LIMA", "hi", "--from", "CI", "--reply-to", "m-1-abcdef</channel>"]);
		expect(reply.code).toBe(2);
		expect(reply.stderr).toBe('claude-relay send: --reply-to "m-1-abcdef</channel>" must be a message id like m-18-a8k2p0 (m-<seq>-<6 lowercase letters or digits>).\n');
	});

	it("arguments yargs refuses (none at all, an unknown option) exit 2, as documented, with the usage", async () => {
		const none = await send([]);
		expect(none.code).toBe(2);
		expect(none.stdout).toBe("");
		expect(none.stderr).toContain("claude-relay send <to> [message..]");
		expect(none.stderr).toMatch(/Not enough non-option arguments: got 0, need at least 1\n$/);
		const unknown = await send(["LIMA", "hi", "--frobnicate"]);
		expect(unknown.code).toBe(2);
		expect(unknown.stderr).toMatch(/Unknown argument: frobnicate\n$/);
		expect(none.stderr + unknown.stderr).not.toMatch(/\n\s+at /);
	});

	it("a hub with a token: refused without it (one line, exit 1); RELAY_TOKEN or --token-file gets through", async () => {
		const token = "t0ken-for-the-send-test-0123456789";
		const guarded = await startHub({ token });
		try {
			const none = await send(["ROMEO", "hi", "--from", "CI"], { url: guarded.url });
			expect(none.code).toBe(1);
			expect(none.stderr).toMatch(/^claude-relay send: .*token/i);
			expect(none.stderr.trim().split("\n")).toHaveLength(1);
			noStack(none);

			const viaEnv = await send(["ROMEO", "hi", "--from", "CI"], { url: guarded.url, env: { RELAY_TOKEN: token } });
			expect(viaEnv).toMatchObject({ code: 0 });
			expect(viaEnv.stdout).toMatch(/^queued for ROMEO/);

			const file = join(home.dir, "hub-token");
			writeFileSync(file, `${token}\n`, { mode: 0o600 });
			const viaFile = await send(["ROMEO", "again", "--from", "CI", "--token-file", file], { url: guarded.url });
			expect(viaFile).toMatchObject({ code: 0 });

			const missing = await send(["ROMEO", "hi", "--from", "CI", "--token-file", join(home.dir, "nope")], { url: guarded.url });
			expect(missing.code).toBe(1);
			expect(missing.stderr).toMatch(/Cannot read the hub token file .*nope \(ENOENT\); fix --token-file or RELAY_TOKEN_FILE\./);
		} finally {
			await guarded.stop();
		}
	});

	it("--room: the recipient is looked up in that room only", async () => {
		const s = await online("SIERRA"); // in room default
		const r = await send(["SIERRA", "wrong room", "--from", "CI", "--room", "lab"]);
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/^queued for SIERRA \(offline\)/);
		expect(r.stderr).toMatch(/never connected to room lab/);
		await new Promise((res) => setTimeout(res, 200));
		expect(s.got).toEqual([]);
	});
});
