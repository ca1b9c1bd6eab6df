/**
 * `claude-relay state …` and `claude-relay claims` as scripts run them: the built CLI as a real process
 * against a real hub on port 0, JSON in and out, and the exit codes (0 done, 1 failed incl. E_CONFLICT,
 * 2 bad arguments).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import { connectClient, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { ErrorCode, type RelayError } from "../server/errors.js";
import { assertBuilt, CLI, freePort, spawnHub } from "./fixtures/processes.js";

let hub: TestHub;
let tmp: ReturnType<typeof tempDir>;
let peer: HubClient;

beforeAll(async () => {
	assertBuilt();
	hub = await startHub();
	tmp = tempDir("relay-state-cli-");
	peer = await connectClient(hub.url, "Peer");
});
afterAll(async () => {
	await peer?.close({ bye: false });
	await hub?.stop();
	tmp?.cleanup();
});

function cli(args: string[], opts: { stdin?: string; cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, [CLI, ...args], {
			cwd: opts.cwd ?? tmp.dir,
			env: { PATH: process.env.PATH, HOME: tmp.dir, RELAY_HOME: join(tmp.dir, "home"), RELAY_URL: hub.url, RELAY_CLIENT_ID: "Script", ...opts.env },
		});
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", (d) => {
			stdout += d;
		});
		child.stderr.on("data", (d) => {
			stderr += d;
		});
		child.on("close", (code) => resolve({ code, stdout, stderr }));
		child.stdin.end(opts.stdin ?? "");
	});
}
const json = (s: string) => JSON.parse(s.trim());

describe("claude-relay state", () => {
	it("set, get, append, list, delete: JSON out, exit 0", async () => {
		const set = await cli(["state", "set", "build/status", '{"ok":true,"n":1}']);
		expect(set.code).toBe(0);
		expect(json(set.stdout)).toMatchObject({ created: true, entry: { key: "build/status", version: 1, updatedBy: "Script" } });
		const got = await cli(["state", "get", "build/status"]);
		expect(json(got.stdout)).toMatchObject({ entry: { version: 1, value: { ok: true, n: 1 } } });
		expect((await peer.request("state_get", { key: "build/status" })).entry?.value).toEqual({ ok: true, n: 1 });
		expect(json((await cli(["state", "append", "build/log", "-", "--string", "--max-items", "2"], { stdin: "first line\n" })).stdout)).toMatchObject({ length: 1 });
		await cli(["state", "append", "build/log", '"second"']);
		await cli(["state", "append", "build/log", '"third"', "--max-items", "2"]);
		expect((await peer.request("state_get", { key: "build/log" })).entry?.value).toEqual(["second", "third"]);
		const list = await cli(["state", "list", "build/"]);
		expect(json(list.stdout).entries.map((e: { key: string }) => e.key)).toEqual(["build/log", "build/status"]);
		expect(json((await cli(["state", "get", "missing"])).stdout)).toEqual({ entry: null });
		expect(json((await cli(["state", "delete", "build/status", "--expect", "1"])).stdout)).toEqual({ deleted: true, version: 1 });
	});

	it("a lost compare-and-set exits 1 with E_CONFLICT and the current value as JSON", async () => {
		await peer.request("state_set", { key: "counter", value: 7 });
		const lost = await cli(["state", "set", "counter", "1", "--expect", "0"]);
		expect(lost.code).toBe(1);
		expect(json(lost.stdout)).toMatchObject({ error: { code: "E_CONFLICT", details: { current: { key: "counter", version: 1, value: 7, updatedBy: "Peer" } } } });
		expect(lost.stderr).toMatch(/^claude-relay state: E_CONFLICT: /);
		expect((await cli(["state", "set", "counter", "8", "--expect", "1"])).code).toBe(0);
	});

	it("bad arguments exit 2: a value that is not JSON, a malformed key, no key; an unreachable hub exits 1", async () => {
		const notJson = await cli(["state", "set", "k", "not json"]);
		expect(notJson.code).toBe(2);
		expect(notJson.stderr).toContain("--string");
		expect((await cli(["state", "set", "bad key", "1"])).code).toBe(2);
		expect(json((await cli(["state", "get", "bad key"])).stdout)).toMatchObject({ error: { code: "E_BAD_KEY" } });
		expect((await cli(["state", "get"])).code).toBe(2);
		expect((await cli(["state", "set", "k"])).code).toBe(2);
		const down = await cli(["state", "get", "k"], { env: { RELAY_URL: "ws://127.0.0.1:1" } });
		expect(down.code).toBe(1);
		expect(json(down.stdout).error.code).toBe("E_UNREACHABLE");
	});
});

describe("claude-relay claims", () => {
	it("lists this directory's repository's claims, --all, --repo, --session, --json", async () => {
		const repo = join(tmp.dir, "api");
		mkdirSync(repo);
		spawnSync("git", ["init", "-q", repo]);
		spawnSync("git", ["-C", repo, "remote", "add", "origin", "https://github.com/acme/api.git"]);
		await peer.request("claim", { repo: "github.com/acme/api", paths: ["src/auth/**"], reason: "auth \u001b[31mrework" });
		await peer.request("claim", { repo: "github.com/acme/web", paths: ["ui/**"] });
		const here = await cli(["claims"], { cwd: repo });
		expect(here.code).toBe(0);
		expect(here.stdout).toMatch(/^github.com\/acme\/api {2}src\/auth\/\*\* {2}Peer {2}expires in 30m {2}"auth \[31mrework"\n$/);
		const all = json((await cli(["claims", "--all", "--json"])).stdout);
		expect(all.claims.map((c: { repo: string }) => c.repo)).toEqual(["github.com/acme/api", "github.com/acme/web"]);
		expect(json((await cli(["claims", "--repo", "github.com/acme/web", "--json"])).stdout).claims).toHaveLength(1);
		expect((await cli(["claims", "--all", "--session", "Nobody"])).stdout).toMatch(/^No live claims/);
		expect((await cli(["claims"], { cwd: tmp.dir })).code).toBe(2);
		expect((await cli(["claims", "--all"], { env: { RELAY_URL: "ws://127.0.0.1:1" } })).code).toBe(1);
	});
});

describe("claude-relay hub: the state and claims bounds as flags and environment twins", () => {
	it("--state-max-keys, --claim-max-ttl and RELAY_MAX_WATCHES reach the hub", async () => {
		const port = await freePort();
		const child = await spawnHub(port, ["--db", ":memory:", "--state-max-keys", "1", "--claim-max-ttl", "60"], {
			PATH: process.env.PATH ?? "",
			HOME: tmp.dir,
			RELAY_HOME: join(tmp.dir, "hub-home"),
			RELAY_MAX_WATCHES: "1",
		});
		try {
			const c = await connectClient(`ws://127.0.0.1:${port}`, "Flags");
			const err = (p: Promise<unknown>) => p.then(() => null, (e: RelayError) => e.code);
			await c.request("state_set", { key: "one", value: 1 });
			expect(await err(c.request("state_set", { key: "two", value: 1 }))).toBe(ErrorCode.LIMIT);
			expect(await err(c.request("claim", { repo: "r", paths: ["a"], ttlSeconds: 61 }))).toBe(ErrorCode.LIMIT);
			expect((await c.request("claim", { repo: "r", paths: ["a"] })).claims[0]?.expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);
			await c.request("watch", { prefix: "a" });
			expect(await err(c.request("watch", { prefix: "b" }))).toBe(ErrorCode.LIMIT);
			await c.close({ bye: false });
		} finally {
			child.kill("SIGTERM");
			await new Promise((r) => child.once("exit", r));
		}
	});
});
