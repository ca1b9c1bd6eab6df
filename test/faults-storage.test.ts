/**
 * Storage faults (issue 10, item 7): a damaged database file and a full disk.
 *
 * Damaged file: a real hub writes a real database, 4 KiB in the middle of it are overwritten, and the hub
 * refuses to start on it with a message that says what to do (it used to start, then cut a recipient off
 * with 1001 at every connect while /healthz said ok); `claude-relay db check` reports the damage (exit 1),
 * and says ok (exit 0) for a sound file, even while a hub runs on it.
 *
 * Full disk: SQLite's `max_page_count` caps the file at its current size, so the next commit that needs a
 * page fails with SQLITE_FULL exactly as on a full disk. A send then gets E_STORAGE (it used to be a bare
 * E_INTERNAL while /healthz said ok), /healthz says the storage failed, nothing accepted before is lost, and
 * once space is freed (the cap raised) sends work again and /healthz is ok.
 *
 * Redis down: a hub on a Redis that dies answers E_STORAGE and reports it; back once Redis is.
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { closeSync, openSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import { Hub } from "../server/hub.js";
import type { Message } from "../server/protocol.js";
import { RedisStore, SqliteStore } from "../server/store/index.js";
import { connectRedis, quitRedis } from "../server/store/redis.js";
import { connectClient, connectCollecting, tempDir } from "./fixtures/hub.js";
import { hasRedis, redisSkipNote, startRedis, uniquePrefix } from "./fixtures/redis.js";
import { sendWindowed, until, wholeHistory } from "./fixtures/faults.js";
import { CLI, freePort, spawnHub, waitFor } from "./fixtures/processes.js";

const children: ChildProcess[] = [];
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
	for (const c of children.splice(0)) c.kill("SIGKILL");
});

/** The environment of a spawned CLI: this machine's RELAY_* and CLAUDE_* variables left out. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
	const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RELAY_") && !k.startsWith("CLAUDE_")));
	return { ...env, ...extra };
}

/** Runs the built CLI to completion. */
function cli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 20_000) {
	const r = spawnSync(process.execPath, [CLI, ...args], { env: cleanEnv(env), encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
	return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Overwrites 4 KiB (one page) in the middle of `file` with fixed pseudo-random bytes. */
function overwriteMiddle(file: string): void {
	const offset = Math.floor(statSync(file).size / 2 / 4096) * 4096;
	const junk = Buffer.alloc(4096);
	let x = 0x2545f491;
	for (let i = 0; i < junk.length; i++) {
		x = (Math.imul(x, 1103515245) + 12345) >>> 0;
		junk[i] = x >>> 24;
	}
	const fd = openSync(file, "r+");
	try {
		writeSync(fd, junk, 0, junk.length, offset);
	} finally {
		closeSync(fd);
	}
}

describe("a damaged database file", () => {
	it("is refused at start with what to do, and `db check` reports it; a sound one checks ok while the hub runs", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const db = join(dir, "relay.db");
		const port = await freePort();
		const url = `ws://127.0.0.1:${port}`;
		const hub = await spawnHub(port, ["--db", db, "--rate-limit", "100000", "--rate-burst", "100000"], { RELAY_HOME: dir });
		children.push(hub);
		const b = await connectClient(url, "B");
		await b.close();
		const a = await connectClient(url, "A");
		await sendWindowed(a, "B", Array.from({ length: 2000 }, (_, i) => `message ${i} ${"x".repeat(1000)}`), 200);
		await a.close();

		// Sound, and checkable while the hub has it open.
		const live = cli(["db", "check", "--db", db], { RELAY_HOME: dir });
		expect(live.stderr).toBe("");
		expect(live.stdout).toBe(`ok: ${db} (2,000 messages)\n`);
		expect(live.status).toBe(0);

		hub.kill("SIGTERM");
		await waitFor(() => hub.exitCode !== null, 10_000, "the hub to stop");
		overwriteMiddle(db);

		const start = cli(["hub", String(port), "--db", db], { RELAY_HOME: dir });
		expect(start.signal, "the hub kept running on the damaged file").toBeNull();
		expect(start.status).not.toBe(0);
		expect(start.stderr).toContain(`The database ${db} is damaged`);
		expect(start.stderr).toContain("restore");
		expect(start.stderr).toContain("move it aside");
		expect(start.stderr).toContain(`claude-relay db check --db ${db}`);
		expect(start.stderr, "no stack trace").not.toMatch(/^\s+at /m);
		expect(start.stdout).not.toContain("listening");

		const check = cli(["db", "check", "--db", db], { RELAY_HOME: dir });
		expect(check.status).toBe(1);
		expect(check.stdout).toMatch(new RegExp(`^damaged: ${db.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n  \\S`));
		expect(check.stdout).toContain("restore");

		// The default path is the hub's: $RELAY_HOME/relay.db.
		expect(cli(["db", "check"], { RELAY_HOME: dir }).status).toBe(1);
		expect(cli(["db", "check", "--db", join(dir, "missing.db")], { RELAY_HOME: dir }).status).toBe(2);
	}, 60_000);
});

interface Health {
	ok: boolean;
	messagesStored: number;
	storage: { ok: boolean; lastError?: { code: string; message: string; at: number } };
}

async function healthz(port: number): Promise<{ status: number; body: Health }> {
	const res = await fetch(`http://127.0.0.1:${port}/healthz`);
	return { status: res.status, body: (await res.json()) as Health };
}

/** Sends until one fails; returns the bodies accepted on the way and the error. */
async function sendUntilRefused(a: HubClient, to: string, body: (i: number) => string, max: number) {
	const accepted: string[] = [];
	for (let i = 0; i < max; i++) {
		try {
			await a.send(to, body(i));
			accepted.push(body(i));
		} catch (err) {
			return { accepted, err: err as Error & { code?: string } };
		}
	}
	throw new Error(`${max} sends all succeeded: the storage never failed`);
}

describe("a full disk (SQLite's max_page_count)", () => {
	it("a send gets E_STORAGE, nothing accepted is lost, /healthz says so, and both recover once space is freed", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const store = new SqliteStore({ file: join(dir, "relay.db") });
		const hub = new Hub({ port: 0 }, { store });
		const { url, port } = await hub.listen();
		cleanups.push(() => hub.close());
		const { client: b, got } = await connectCollecting(url, "B");
		cleanups.push(() => b.close({ bye: false }));
		const a = await connectClient(url, "A");
		cleanups.push(() => a.close({ bye: false }));

		const before = Array.from({ length: 20 }, (_, i) => `before ${i}`);
		for (const text of before) await a.send("B", text);
		expect((await healthz(port)).body.storage).toEqual({ ok: true });

		// The disk is now full: the file may not grow by a single page.
		store.pragma(`max_page_count = ${Number(store.pragma("page_count"))}`);
		const filling = await sendUntilRefused(a, "B", (i) => `filling ${i} ${"f".repeat(8000)}`, 500);
		expect(filling.err.code).toBe("E_STORAGE");
		expect(filling.err.message).toMatch(/storage failed: the database's disk is full \(SQLITE_FULL/);
		expect(filling.err.message).toContain("not applied");
		// Refused again, and the connection is still usable.
		await expect(a.send("B", `refused ${"r".repeat(8000)}`)).rejects.toMatchObject({ code: "E_STORAGE" });
		expect(await a.ping()).toBeGreaterThanOrEqual(0);

		const full = await healthz(port);
		expect(full.status).toBe(503);
		expect(full.body.ok).toBe(false);
		expect(full.body.storage.ok).toBe(false);
		expect(full.body.storage.lastError).toMatchObject({ code: "SQLITE_FULL", message: expect.stringContaining("disk is full") });
		expect(full.body.storage.lastError?.at).toBeGreaterThan(Date.now() - 60_000);

		// Nothing refused was stored. The last send accepted is in the append journal (it was answered after
		// that write) and was pushed, but its rows could not be inserted: reads do not show it until the
		// storage works again (every earlier one they do), and no later send is accepted before it is in.
		const accepted = [...before, ...filling.accepted];
		expect((await wholeHistory(a, "B")).map((m) => m.body)).toEqual(accepted.slice(0, -1));
		expect(full.body.messagesStored).toBe(accepted.length - 1);

		// Space freed: sends work again, the owed one is in first, and /healthz is ok (it keeps the last error
		// for the record). Nothing accepted was lost.
		store.pragma("max_page_count = 1073741823");
		await a.send("B", "after");
		expect((await wholeHistory(a, "B")).map((m) => m.body)).toEqual([...accepted, "after"]);
		const healed = await healthz(port);
		expect(healed.status).toBe(200);
		expect(healed.body.ok).toBe(true);
		expect(healed.body.storage).toMatchObject({ ok: true, lastError: { code: "SQLITE_FULL" } });
		await until(() => got.length === accepted.length + 1, 10_000, "B to get every accepted message");
		expect(got.map((m: Message) => m.body)).toEqual([...accepted, "after"]);
	}, 60_000);
});

describe.skipIf(!hasRedis)(`Redis unreachable${redisSkipNote}`, () => {
	it("a send gets E_STORAGE while Redis is down, /healthz says so, and both recover when it is back", async () => {
		let redis = await startRedis();
		cleanups.push(() => redis.stop());
		const store = new RedisStore({ url: redis.url, prefix: uniquePrefix() });
		const hub = new Hub({ port: 0 }, { store });
		const { url, port } = await hub.listen();
		cleanups.push(() => hub.close());
		const a = await connectClient(url, "A");
		cleanups.push(() => a.close({ bye: false }));
		await a.send("B", "before");

		await redis.kill();
		const err = (await a.send("B", "while down").then(
			() => null,
			(e: unknown) => e,
		)) as (Error & { code?: string }) | null;
		expect(err?.code).toBe("E_STORAGE");
		expect(err?.message).toMatch(/storage failed: Redis at redis:\/\/127\.0\.0\.1:\d+\/? is unreachable/);
		const down = await healthz(port);
		expect(down.status).toBe(503);
		expect(down.body.ok).toBe(false);
		expect(down.body.storage).toMatchObject({ ok: false, lastError: { code: "REDIS_UNREACHABLE" } });

		redis = await startRedis({ port: redis.port });
		// ioredis reconnects on its own; the first send after that is stored.
		await until(async () => a.send("B", "after").then(() => true, () => false), 15_000, "a send to succeed once Redis is back");
		const up = await healthz(port);
		expect(up.body.ok).toBe(true);
		expect(up.body.storage.ok).toBe(true);
	}, 60_000);

	it("Redis out of memory (its full disk) is E_STORAGE too, and nothing accepted is lost", async () => {
		const redis = await startRedis();
		cleanups.push(() => redis.stop());
		const admin = await connectRedis(redis.url);
		cleanups.push(() => quitRedis(admin));
		const store = new RedisStore({ url: redis.url, prefix: uniquePrefix() });
		const hub = new Hub({ port: 0 }, { store });
		const { url, port } = await hub.listen();
		cleanups.push(() => hub.close());
		const a = await connectClient(url, "A");
		cleanups.push(() => a.close({ bye: false }));
		await a.send("B", "before");

		const used = Number(/used_memory:(\d+)/.exec(await admin.info("memory"))?.[1]);
		await admin.config("SET", "maxmemory-policy", "noeviction");
		await admin.config("SET", "maxmemory", String(used + 256 * 1024));
		const filling = await sendUntilRefused(a, "B", (i) => `filling ${i} ${"f".repeat(30_000)}`, 500);
		expect(filling.err.code).toBe("E_STORAGE");
		expect(filling.err.message).toMatch(/storage failed: Redis is out of memory/);
		expect((await healthz(port)).body.storage).toMatchObject({ ok: false, lastError: { code: "REDIS_OOM" } });

		await admin.config("SET", "maxmemory", "0");
		await a.send("B", "after");
		expect((await healthz(port)).body.ok).toBe(true);
		expect((await wholeHistory(a, "B")).map((m) => m.body)).toEqual(["before", ...filling.accepted, "after"]);
	}, 60_000);
});
