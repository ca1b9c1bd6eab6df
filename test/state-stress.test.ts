/**
 * The stress test, on every backend: 6 real client processes (test/fixtures/state-worker.mjs, each
 * its own WebSocket) race compare-and-set increments on one key, created at value 0 (version 1), retrying on
 * E_CONFLICT; 1,200 increments must end at value 1,200 and version 1,201, nothing lost, nothing doubled.
 * Then 6 appenders x 200 items must leave exactly 1,200 items, each once, each worker's in its order. On
 * memory, SQLite, Redis, and two hubs sharing one Redis (the workers alternate between them).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RedisFanout } from "../server/fanout-redis.js";
import { Hub } from "../server/hub.js";
import { createStore, RedisStore } from "../server/store/index.js";
import { connectClient, tempDir } from "./fixtures/hub.js";
import { hasRedis, redisSkipNote, startRedis, type TestRedis, uniquePrefix } from "./fixtures/redis.js";

const WORKER = join(import.meta.dirname, "fixtures", "state-worker.mjs");
const WORKERS = 6;
const EACH = 200;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

/** Hub options for the stress: the per-connection rate limit is not what is measured here. */
const OPTIONS = { port: 0, rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000 };

async function hubOn(store: ReturnType<typeof createStore>, fanout?: RedisFanout): Promise<string> {
	const hub = new Hub(OPTIONS, { store, ...(fanout ? { fanout } : {}) });
	const { url } = await hub.listen();
	cleanups.push(() => hub.close());
	return url;
}

interface WorkerResult {
	ok: number;
	conflicts: number;
	attempts: number;
}

function runWorker(url: string, session: string, mode: "cas" | "append", key: string): Promise<WorkerResult> {
	return new Promise((resolve, reject) => {
		// Only PATH: nothing of the caller's RELAY_* or CLAUDE_* environment reaches the worker.
		const child = spawn(process.execPath, [WORKER, url, session, mode, key, String(EACH)], { env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "pipe"] });
		let out = "";
		let err = "";
		child.stdout.on("data", (d) => {
			out += d;
		});
		child.stderr.on("data", (d) => {
			err += d;
		});
		const timer = setTimeout(() => {
			child.kill("SIGKILL");
			reject(new Error(`worker ${session} did not finish: ${err}`));
		}, 60_000);
		// "close", not "exit": exit can come before the last of stdout has been read.
		child.on("close", (code) => {
			clearTimeout(timer);
			if (code !== 0) reject(new Error(`worker ${session} exited ${code}: ${err}`));
			else resolve(JSON.parse(out) as WorkerResult);
		});
	});
}

/** The whole scenario against hubs at `urls` (workers spread over them). */
async function stress(urls: string[]): Promise<void> {
	const setup = await connectClient(urls[0] as string, "Setup");
	cleanups.push(() => setup.close({ bye: false }));
	await setup.request("state_set", { key: "counter", value: 0, expectedVersion: 0 });
	expect((await setup.request("state_get", { key: "counter" })).entry).toMatchObject({ value: 0, version: 1 });

	const cas = await Promise.all(Array.from({ length: WORKERS }, (_, w) => runWorker(urls[w % urls.length] as string, `W${w}`, "cas", "counter")));
	const after = (await setup.request("state_get", { key: "counter" })).entry;
	expect(after).toMatchObject({ value: WORKERS * EACH, version: WORKERS * EACH + 1 });
	expect(cas.reduce((n, r) => n + r.ok, 0)).toBe(WORKERS * EACH);
	// They really raced: some attempts lost their compare-and-set and were retried.
	expect(cas.reduce((n, r) => n + r.conflicts, 0)).toBeGreaterThan(0);

	await Promise.all(Array.from({ length: WORKERS }, (_, w) => runWorker(urls[w % urls.length] as string, `A${w}`, "append", "log")));
	const log = (await setup.request("state_get", { key: "log" })).entry;
	const items = log?.value as Array<{ w: string; i: number }>;
	expect(items).toHaveLength(WORKERS * EACH);
	expect(log?.version).toBe(WORKERS * EACH);
	const seen = new Set(items.map((x) => `${x.w}/${x.i}`));
	expect(seen.size).toBe(WORKERS * EACH); // none doubled, so none missing either
	for (let w = 0; w < WORKERS; w++) {
		const mine = items.filter((x) => x.w === `A${w}`).map((x) => x.i);
		expect(mine).toEqual(Array.from({ length: EACH }, (_, i) => i));
	}
}

describe("state under concurrency: 6 processes x 200 compare-and-set increments, 6 x 200 appends", () => {
	it("memory", async () => {
		await stress([await hubOn(createStore(":memory:"))]);
	});

	it("SQLite", async () => {
		const { dir, cleanup } = tempDir("relay-stress-");
		cleanups.push(cleanup);
		await stress([await hubOn(createStore(join(dir, "relay.db")))]);
	});

	describe.skipIf(!hasRedis)(`Redis${redisSkipNote}`, () => {
		let server: TestRedis;
		beforeAll(async () => {
			server = await startRedis();
		});
		afterAll(async () => {
			await server?.stop();
		});

		it("one hub", async () => {
			const prefix = uniquePrefix();
			await stress([await hubOn(new RedisStore({ url: server.url, prefix }), new RedisFanout({ url: server.url, prefix }))]);
		});

		it("two hubs sharing one Redis", async () => {
			const prefix = uniquePrefix();
			const one = await hubOn(new RedisStore({ url: server.url, prefix }), new RedisFanout({ url: server.url, prefix }));
			const two = await hubOn(new RedisStore({ url: server.url, prefix }), new RedisFanout({ url: server.url, prefix }));
			await stress([one, two]);
		});
	});
});
