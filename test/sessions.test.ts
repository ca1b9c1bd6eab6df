/**
 * `claude-relay sessions` merges the local registry with the hub's view (GET /sessions): online comes from
 * the hub, ended from the registry; a hub that is down leaves the registry view with a note.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
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
		const online = await connectClient(hub.url, "Remote-1", { meta: { host: "far", cwd: "/srv/r1" } });
		cleanups.push(() => online.close({ bye: false }));

		const res = await cli(["sessions", "--json"], env);
		expect(res.code).toBe(0);
		const rows = JSON.parse(res.stdout) as Array<{ id: string; status: string; host?: string; source: string }>;
		const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
		expect(byId["Remote-1"]).toMatchObject({ status: "online", host: "far", source: "hub" });
		expect(byId["Local-1"]).toMatchObject({ status: "offline", source: "registry" });
		expect(res.stderr).toBe("");

		const table = await cli(["sessions"], env);
		expect(table.stdout).toMatch(/^ID\s+STATUS\s+HOST\s+CWD\s+STARTED/);
		expect(table.stdout).toMatch(/Remote-1\s+online\s+far\s+\/srv\/r1/);
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
