/**
 * `claude-relay sessions` merges the local registry with the hub's view (GET /sessions, page by page): online
 * comes from the hub, ended from the registry; a hub that is down leaves the registry view with a note.
 * `claude-relay sessions forget ID` forgets one at the hub with its stored secret or the hub token.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { FileSecretStore } from "../mcp-client/secrets.js";
import { testEnv } from "./fixtures/env.js";
import { connectClient, startHub, tempDir } from "./fixtures/hub.js";
import { CLI, freePort } from "./fixtures/processes.js";

const run = promisify(execFile);
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

async function cli(args: string[], env: NodeJS.ProcessEnv) {
	try {
		const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: testEnv(env) });
		return { code: 0, stdout, stderr };
	} catch (err) {
		const e = err as { code: number; stdout: string; stderr: string };
		return { code: e.code, stdout: e.stdout, stderr: e.stderr };
	}
}

describe("claude-relay sessions", () => {
	it("shows online from the hub and offline/registry-only sessions from the registry", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const hub = await startHub();
		cleanups.push(hub.stop);
		const env = { RELAY_HOME: dir, RELAY_URL: hub.url };
		expect((await cli(["register", "Local-1", "--pid", String(process.pid), "--cwd", "/tmp/l1"], env)).code).toBe(0);
		const online = await connectClient(hub.url, "Remote-1", { meta: { host: "far", cwd: "/srv/r1", client: "codex" } });
		// A bridge from before harness detection: still shown, as a bridge.
		const old = await connectClient(hub.url, "Old-1", { meta: { host: "far", cwd: "/srv/o1", client: "claude-relay-bridge" } });
		cleanups.push(() => old.close({ bye: false }));
		cleanups.push(() => online.close({ bye: false }));

		const res = await cli(["sessions", "--json"], env);
		expect(res.code).toBe(0);
		const rows = JSON.parse(res.stdout) as Array<{ id: string; status: string; host?: string; source: string }>;
		const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
		expect(byId["Remote-1"]).toMatchObject({ status: "online", host: "far", source: "hub", client: "codex" });
		expect(byId["Old-1"]).toMatchObject({ status: "online", client: "bridge" });
		expect(byId["Local-1"]).toMatchObject({ status: "offline", source: "registry" });
		expect(res.stderr).toBe("");

		const table = await cli(["sessions"], env);
		expect(table.stdout).toMatch(/^ID\s+STATUS\s+HARNESS\s+HOST\s+CWD\s+STARTED/);
		expect(table.stdout).toMatch(/Remote-1\s+online\s+codex\s+far\s+\/srv\/r1/);
		expect(table.stdout).toMatch(/Old-1\s+online\s+bridge\s+far\s+\/srv\/o1/);
	});

	it("falls back to the registry with a note when the hub is down", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const port = await freePort();
		const env = { RELAY_HOME: dir, RELAY_URL: `ws://127.0.0.1:${port}` };
		await cli(["register", "Solo", "--pid", String(process.pid)], env);
		const res = await cli(["sessions", "--json"], env);
		expect(res.code).toBe(0);
		expect(res.stderr).toMatch(/not reachable.*local registry only/);
		expect((JSON.parse(res.stdout) as Array<{ id: string }>).map((r) => r.id)).toEqual(["Solo"]);
	});
});

/** What the CLI gets in the cases below: nothing of the caller's RELAY_* or CLAUDE_* environment. */
const baseEnv = (dir: string, url: string) => ({ PATH: process.env.PATH ?? "", HOME: dir, RELAY_HOME: dir, RELAY_URL: url });
async function runClean(args: string[], env: Record<string, string>) {
	try {
		const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env });
		return { code: 0, stdout, stderr };
	} catch (err) {
		const e = err as { code: number; stdout: string; stderr: string };
		return { code: e.code, stdout: e.stdout, stderr: e.stderr };
	}
}

describe("claude-relay sessions, page by page", () => {
	it("reads every page of a big room, and says how many more when there are more than it reads", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const hub = await startHub({ maxSessionsPerRoom: 0 });
		cleanups.push(hub.stop);
		const add = (n: number, from = 0) =>
			Promise.all(
				Array.from({ length: n }, (_, i) =>
					hub.hub.store.createSession({ room: "default", session: `S${String(from + i).padStart(5, "0")}`, secretHash: "h", meta: {}, firstSeen: 1, lastSeen: 1, ephemeral: false }),
				),
			);
		await add(1_200);
		const res = await runClean(["sessions", "--json"], baseEnv(dir, hub.url));
		expect(res.code).toBe(0);
		const ids = (JSON.parse(res.stdout) as Array<{ id: string }>).map((r) => r.id);
		expect(ids).toHaveLength(1_200);
		expect(new Set(ids).size).toBe(1_200);
		expect(res.stderr).toBe("");
		await add(3_803, 1_200); // 5,003: three more than ten pages of 500
		const big = await runClean(["sessions", "--json"], baseEnv(dir, hub.url));
		expect(JSON.parse(big.stdout)).toHaveLength(5_000);
		expect(big.stderr).toMatch(/the hub has 3 more sessions in room default than the 5000 shown/);
	}, 60_000);
});

describe("claude-relay sessions forget", () => {
	async function setup(options: Parameters<typeof startHub>[0] = {}) {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const hub = await startHub(options);
		cleanups.push(hub.stop);
		// Claimed the way the bridge claims: the secret lands in $RELAY_HOME/secrets.
		const secrets = new FileSecretStore(join(dir, "secrets"));
		return { dir, hub, secrets, env: baseEnv(dir, hub.url) };
	}

	it("forgets an ID with its stored secret: record and unread mail go, and it says so", async () => {
		const { hub, secrets, env } = await setup();
		await (await connectClient(hub.url, "Old", { secrets })).close();
		const a = await connectClient(hub.url, "A");
		cleanups.push(() => a.close({ bye: false }));
		await a.send("Old", "one");
		await a.send("Old", "two");
		const res = await runClean(["sessions", "forget", "Old"], env);
		expect(res).toMatchObject({ code: 0, stderr: "" });
		expect(res.stdout).toBe("Forgot Old in room default: 2 unread messages dropped.\n");
		expect(await hub.hub.store.getSession("default", "Old")).toBeNull();
		// Twice: nothing left to forget.
		const again = await runClean(["sessions", "forget", "Old", "--json"], env);
		expect(again.code).toBe(1);
		expect(again.stderr).toMatch(/E_NOT_FOUND/);
	});

	it("refuses a live session unless --force, which closes it; refuses without a secret; exit 2 for a bad ID", async () => {
		const { dir, hub, secrets, env } = await setup();
		const live = await connectClient(hub.url, "Live", { secrets });
		cleanups.push(() => live.close({ bye: false }));
		const refused = await runClean(["sessions", "forget", "Live"], env);
		expect(refused.code).toBe(1);
		expect(refused.stderr).toMatch(/E_SESSION_ONLINE: .*Add --force/);
		const forced = await runClean(["sessions", "forget", "Live", "--force", "--json"], env);
		expect(forced.code).toBe(0);
		expect(JSON.parse(forced.stdout)).toMatchObject({ session: "Live", existed: true, closed: 1 });
		expect(await hub.hub.store.getSession("default", "Live")).toBeNull();

		await (await connectClient(hub.url, "Theirs")).close(); // its secret is not in this RELAY_HOME
		const noSecret = await runClean(["sessions", "forget", "Theirs"], env);
		expect(noSecret.code).toBe(1);
		expect(noSecret.stderr).toMatch(/E_FORBIDDEN: .*no secret for Theirs in room default under/);
		expect(noSecret.stderr).toContain(join(dir, "secrets"));
		expect((await runClean(["sessions", "forget", "not valid"], env)).code).toBe(2);
	});

	it("on a token hub, the token forgets any ID, and a wrong one is reported as such", async () => {
		const token = "k".repeat(32);
		const { hub, env } = await setup({ token });
		await (await connectClient(hub.url, "Anyone", { token })).close();
		const ok = await runClean(["sessions", "forget", "Anyone"], { ...env, RELAY_TOKEN: token });
		expect(ok.code).toBe(0);
		expect(ok.stdout).toMatch(/^Forgot Anyone in room default: no unread messages\.$/m);
		await (await connectClient(hub.url, "Other", { token })).close();
		const wrong = await runClean(["sessions", "forget", "Other"], { ...env, RELAY_TOKEN: "w".repeat(32) });
		expect(wrong.code).toBe(1);
		expect(wrong.stderr).toMatch(/E_AUTH|refused the token/);
		expect(await hub.hub.store.getSession("default", "Other")).not.toBeNull();
	});
});
