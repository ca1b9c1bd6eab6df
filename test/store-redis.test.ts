/**
 * RedisStore against a real redis-server: the one shared store suite, unchanged, then what only Redis has:
 * state across a store reopen and a server crash (AOF), the persistence warning, two stores on one server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore, RedisStore } from "../server/store/index.js";
import { encodeKeyPart } from "../server/store/redis-scripts.js";
import type { AppendInput } from "../server/store/store.js";
import { hasRedis, redisSkipNote, startRedis, type TestRedis, uniquePrefix } from "./fixtures/redis.js";
import { tempDir } from "./fixtures/hub.js";
import { storeSuite } from "./store.suite.js";

const dm = (i: number, over: Partial<AppendInput> = {}): AppendInput => ({
	room: "r",
	from: "alice",
	to: "bob",
	body: `message ${i}`,
	replyTo: null,
	key: null,
	recipients: ["bob"],
	sentAt: 1_000 + i,
	...over,
});

describe("createStore", () => {
	it("maps redis:// and rediss:// URLs to RedisStore without connecting", () => {
		expect(createStore("redis://127.0.0.1:6379").kind).toBe("redis");
		expect(createStore("rediss://user:pw@example.com:6380/2").kind).toBe("redis");
	});
});

describe.skipIf(!hasRedis)(`RedisStore${redisSkipNote}`, () => {
	let server: TestRedis;
	beforeAll(async () => {
		server = await startRedis();
	});
	afterAll(async () => {
		await server?.stop();
	});

	// Each test gets its own key prefix on the shared server: as good as a fresh database.
	storeSuite("redis", async () => ({
		store: new RedisStore({ url: server.url, prefix: uniquePrefix() }),
		cleanup: async () => {},
	}));

	const open = async (prefix: string, url = server.url) => {
		const store = new RedisStore({ url, prefix });
		await store.open();
		return store;
	};

	it("keeps everything across close and reopen", async () => {
		const prefix = uniquePrefix();
		const a = await open(prefix);
		await a.createSession({ room: "r", session: "bob", secretHash: "h", meta: { host: "box" }, firstSeen: 1, lastSeen: 2, ephemeral: false });
		const sent = [];
		for (let i = 0; i < 3; i++) sent.push((await a.append(dm(i))).message);
		const keyed = await a.append(dm(9, { key: "k" }));
		await a.ack("r", "bob", [sent[0]?.id ?? ""]);
		await a.append(dm(10, { to: "carol", recipients: ["carol"], sentAt: 1 }));
		await a.applyRetention({ olderThan: 2 });
		await a.close();

		const b = await open(prefix);
		expect((await b.getSession("r", "bob"))?.meta).toEqual({ host: "box" });
		expect((await b.pending("r", "bob", { limit: 10 })).messages).toEqual([...sent.slice(1), keyed.message]);
		expect(await b.takeLost("r", "carol")).toBe(1);
		expect((await b.append(dm(11, { key: "k" }))).duplicate).toBe(true);
		// The seq counter survives too, even past the deleted newest message.
		expect((await b.append(dm(12))).message.seq).toBeGreaterThan(keyed.message.seq + 1);
		expect(await b.stats()).toEqual({ messages: 5, sessions: 1, pendingDeliveries: 4 });
		await b.close();
	});

	it("keeps subscriptions and receipts across close and reopen (a pushed mark in memory is written at close)", async () => {
		const prefix = uniquePrefix();
		const a = await open(prefix);
		await a.topics.subscribe("r", "shop:api", "bob", 5, 10);
		const m = (await a.append(dm(1))).message;
		await a.markPushed("r", [{ seq: m.seq, recipients: ["bob"] }], 7);
		await a.close();
		const b = await open(prefix);
		expect(await b.topics.subscriptions("r", "bob")).toEqual(["shop:api"]);
		expect((await b.receipts("r", m.id))?.receipts[0]).toMatchObject({ state: "pushed", pushedAt: 7 });
		expect((await b.append(dm(2, { to: "#shop:api", recipients: [], topic: "shop:api" }))).recipients).toEqual(["bob"]);
		await b.close();
	});

	it("warns when Redis runs without AOF, and not when it has it", async () => {
		const store = await open(uniquePrefix());
		expect(store.warnings.join("\n")).toMatch(/appendonly no/);
		await store.close();
		const { dir, cleanup } = tempDir("relay-redis-aof-");
		const durable = await startRedis({ aofDir: dir });
		try {
			const s2 = await open(uniquePrefix(), durable.url);
			expect(s2.warnings).toEqual([]);
			await s2.close();
		} finally {
			await durable.stop();
			cleanup();
		}
	});

	it("with appendonly yes, acknowledged appends survive a SIGKILL of redis-server, and the store reconnects", async () => {
		const { dir, cleanup } = tempDir("relay-redis-aof-");
		const prefix = uniquePrefix();
		let durable = await startRedis({ aofDir: dir });
		try {
			const a = await open(prefix, durable.url);
			const results = await Promise.all(Array.from({ length: 200 }, (_, i) => a.append(dm(i))));
			await a.ack("r", "bob", [results[0]?.message.id ?? ""]);
			await durable.kill();

			durable = await startRedis({ aofDir: dir, port: durable.port });
			const b = await open(prefix, durable.url);
			const page = await b.pending("r", "bob", { limit: 500 });
			expect(page.messages).toEqual(results.slice(1).map((r) => r.message));
			// The store that was open during the crash carries on once ioredis has reconnected.
			const after = await a.append(dm(999));
			expect(after.message.seq).toBeGreaterThan(results[199]?.message.seq ?? Infinity);
			expect(await b.countPending("r", "bob")).toBe(200);
			await a.close();
			await b.close();
		} finally {
			await durable.stop();
			cleanup();
		}
	});

	it("two stores on one server (two hubs) share seqs, idempotency keys and inboxes", async () => {
		const prefix = uniquePrefix();
		const [a, b] = [await open(prefix), await open(prefix)];
		const results = await Promise.all(
			Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).append(dm(i, { key: i < 10 ? "same" : null }))),
		);
		expect(results.filter((r) => !r.duplicate)).toHaveLength(91);
		const stored = results.filter((r) => !r.duplicate).map((r) => r.message.seq);
		expect(new Set(stored).size).toBe(91);
		// Whichever store answers, the inbox is the same, in seq order, and take never skips.
		const got = [];
		for (let i = 0; ; i++) {
			const page = await (i % 2 ? a : b).takePending("r", "bob", { limit: 7 });
			got.push(...page.messages.map((m) => m.seq));
			if (page.remaining === 0) break;
		}
		expect(got).toEqual([...stored].sort((x, y) => x - y));
		await a.close();
		await b.close();
	});

	it("keys built in TypeScript and in the scripts agree for any characters in names", async () => {
		const store = await open(uniquePrefix());
		for (const name of ["a:b", "50%", "über", "🦀-x", "sp ace"]) {
			await store.createSession({ room: name, session: name, secretHash: "h", meta: {}, firstSeen: 1, lastSeen: 1, ephemeral: false });
			const { message } = await store.append(dm(1, { room: name, to: name, recipients: [name], sentAt: 1 }));
			expect((await store.getSession(name, name))?.secretHash).toBe("h");
			expect(await store.countPending(name, name)).toBe(1);
			expect(await store.oldestSeq(name)).toBe(message.seq);
			await store.applyRetention({ olderThan: 2 });
			expect(await store.takeLost(name, name)).toBe(1);
			expect(await store.prunedThrough(name)).toBe(message.seq);
			// The seen index names sessions by encoded parts, decoded back in TypeScript.
			expect(await store.staleSessions({ namedBefore: 2, limit: 10 })).toEqual([{ room: name, session: name, ephemeral: false, lastSeen: 1 }]);
			expect((await store.listSessions(name, { limit: 10 })).map((r) => r.session)).toEqual([name]);
			expect(await store.forgetSession(name, name)).toEqual({ session: true, pending: 0 });
		}
		await store.close();
	});

	it("upgrades data written before the session lifecycle (layout 1) once, keeping sessions, inboxes and counts", async () => {
		const prefix = uniquePrefix();
		const { Redis } = await import("ioredis");
		const raw = new Redis(server.url);
		// Layout 1 as its createSession left it: a hash per session, a set of IDs per room, the stats counter.
		const enc = (s: string) => encodeKeyPart(s);
		const sessions = [
			["default", "CC-1", 500],
			["default", "host-77", 100],
			["r:x", "über", 300],
		] as const;
		for (const [room, session, lastSeen] of sessions) {
			await raw.hset(`${prefix}session:${enc(room)}:${enc(session)}`, {
				secretHash: `h-${session}`,
				meta: JSON.stringify({ host: "box" }),
				firstSeen: "1",
				lastSeen: String(lastSeen),
			});
			await raw.sadd(`${prefix}sessions:${enc(room)}`, session);
		}
		await raw.hset(`${prefix}stats`, "sessions", "3");
		const store = await open(prefix);
		await store.append(dm(1, { room: "default", to: "CC-1", recipients: ["CC-1"] }));
		expect((await store.listSessions("default", { limit: 10 })).map((r) => [r.session, r.secretHash, r.ephemeral])).toEqual([
			["CC-1", "h-CC-1", false],
			["host-77", "h-host-77", false],
		]);
		expect((await store.listSessions("r:x")).map((r) => r.session)).toEqual(["über"]);
		expect(await store.countSessions("default")).toBe(2);
		expect((await store.staleSessions({ namedBefore: 400, limit: 10 })).map((r) => r.session)).toEqual(["host-77", "über"]);
		expect(await store.stats()).toEqual({ messages: 1, sessions: 3, pendingDeliveries: 1 });
		expect(await raw.exists(`${prefix}sessions:default`)).toBe(0);
		expect(await raw.get(`${prefix}layout`)).toBe("3");
		expect(await store.operator.rooms({ limit: 10 })).toEqual(["default", "r:x"]);
		await store.close();
		// A second open does nothing more (and a session created meanwhile is not indexed twice).
		const again = await open(prefix);
		expect(await again.countSessions("default")).toBe(2);
		await again.close();
		raw.disconnect();
	});

	it("upgrades layout 2 (no set of rooms with sessions) once: the operator's room list has them", async () => {
		const prefix = uniquePrefix();
		const { Redis } = await import("ioredis");
		const raw = new Redis(server.url);
		const before = await open(prefix);
		await before.createSession({ room: "quiet", session: "CC-1", secretHash: "h", meta: {}, firstSeen: 1, lastSeen: 1, ephemeral: false });
		await before.close();
		// What a layout 2 hub left: the session indexed, no P session-rooms.
		await raw.del(`${prefix}session-rooms`);
		await raw.set(`${prefix}layout`, "2");
		const store = await open(prefix);
		expect(await store.operator.rooms({ limit: 10 })).toEqual(["quiet"]);
		expect(await raw.get(`${prefix}layout`)).toBe("3");
		await store.close();
		raw.disconnect();
	});

	it("open fails with the URL in the message when nothing listens there", async () => {
		const store = new RedisStore({ url: "redis://127.0.0.1:1", prefix: uniquePrefix() });
		await expect(store.open()).rejects.toThrow(/cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
		await store.close();
	});
});
