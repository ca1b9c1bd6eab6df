/**
 * Two hub processes' worth of Hub (in-process, each with its own RedisStore, RedisFanout and RedisDirectory
 * connections) sharing one real redis-server: messages cross hubs live, broadcasts reach sessions first seen
 * on the other hub, a session can move between hubs and keep its backlog, a forgotten or ended ephemeral
 * session leaves every hub's audience, and nothing is skipped or reordered while both hubs commit at once.
 *
 * Presence is global (test/multi-hub-presence.test.ts): peers, pushes, sessions, /healthz, the live-holder
 * contest and the live/queued split. Hub processes killed under load: test/multi-hub-crash.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import { RedisFanout } from "../server/fanout-redis.js";
import type { FanoutEvent } from "../server/fanout.js";
import { Hub } from "../server/hub.js";
import type { Message } from "../server/protocol.js";
import { RedisStore } from "../server/store/index.js";
import type { AppendInput } from "../server/store/store.js";
import { connectClient, connectCollecting, memorySecrets } from "./fixtures/hub.js";
import { hasRedis, redisSkipNote, startRedis, startRedisHub, type TestRedis, uniquePrefix } from "./fixtures/redis.js";

const ROOM = "default";

async function until(pred: () => boolean, timeoutMs = 5_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!pred()) {
		if (Date.now() > deadline) throw new Error("condition not met in time");
		await new Promise((r) => setTimeout(r, 10));
	}
}

const increasing = (ms: Message[]) => ms.every((m, i) => i === 0 || m.seq > (ms[i - 1]?.seq ?? Infinity));

describe.skipIf(!hasRedis)(`two hubs on one Redis${redisSkipNote}`, () => {
	let server: TestRedis;
	const cleanups: Array<() => Promise<unknown> | unknown> = [];

	beforeAll(async () => {
		server = await startRedis();
	});
	afterAll(async () => {
		await server?.stop();
	});
	afterEach(async () => {
		while (cleanups.length) await cleanups.pop()?.();
	});

	/** Two hubs on their own key prefix, as two processes would run with the same --db redis://... */
	async function twoHubs(): Promise<[{ hub: Hub; url: string }, { hub: Hub; url: string }]> {
		const prefix = uniquePrefix();
		const start = async () => {
			const { hub, url } = await startRedisHub(server.url, prefix);
			cleanups.push(() => hub.close());
			return { hub, url };
		};
		return [await start(), await start()];
	}

	async function collecting(url: string, session: string, extra: Parameters<typeof connectCollecting>[2] = {}) {
		const c = await connectCollecting(url, session, extra);
		cleanups.push(() => c.client.close({ bye: false }));
		return c;
	}
	async function client(url: string, session: string, extra: Parameters<typeof connectClient>[2] = {}): Promise<HubClient> {
		const c = await connectClient(url, session, extra);
		cleanups.push(() => c.close({ bye: false }));
		return c;
	}

	it("pushes direct messages live between sessions on different hubs", async () => {
		const [h1, h2] = await twoHubs();
		const { client: a, got: gotA } = await collecting(h1.url, "A");
		const { client: b, got: gotB } = await collecting(h2.url, "B");

		const toB = await a.send("B", "hello from hub 1");
		await until(() => gotB.length === 1);
		expect(gotB[0]).toEqual(toB.message);

		const toA = await b.send("A", "hello from hub 2", { replyTo: toB.message.id });
		await until(() => gotA.length === 1);
		expect(gotA[0]).toEqual(toA.message);
		expect(gotA[0]?.replyTo).toBe(toB.message.id);
		// Pushed once each, not once per hub.
		await new Promise((r) => setTimeout(r, 100));
		expect([gotA.length, gotB.length]).toEqual([1, 1]);
	});

	it("a broadcast from hub 2 reaches a session first seen on hub 1, and queues for one that went offline", async () => {
		const [h1, h2] = await twoHubs();
		// B first, so hub 2 has loaded the room's audience before A and C exist.
		const { client: b } = await collecting(h2.url, "B");
		const { got: gotA } = await collecting(h1.url, "A");
		const secretsC = memorySecrets();
		const c = await connectClient(h1.url, "C", { secrets: secretsC });
		await c.close();
		// Hub 1 announces first claims on the fan-out channel; that takes a moment to arrive.
		await until(() => ["A", "C"].every((id) => h2.hub.presence.knownSessionsLoaded(ROOM).has(id)));

		const res = await b.send("*", "to everyone");
		expect([...res.live, ...res.queued].sort()).toEqual(["A", "C"]);
		expect(res.warnings).toEqual([]);
		await until(() => gotA.length === 1);
		expect(gotA[0]?.id).toBe(res.message.id);

		const { got: gotC } = await collecting(h2.url, "C", { secrets: secretsC });
		await until(() => gotC.length === 1);
		expect(gotC[0]?.id).toBe(res.message.id);
	});

	it("a topic send on hub 1 reaches subscribers on both hubs; the receipt of one seen on hub 2 is pushed to the sender on hub 1", async () => {
		const [h1, h2] = await twoHubs();
		const a = await client(h1.url, "A");
		const { client: b, got: gotB } = await collecting(h2.url, "B");
		const { client: c, got: gotC } = await collecting(h1.url, "C");
		const { got: gotD } = await collecting(h2.url, "D");
		await b.request("subscribe", { topic: "shop:api" });
		await c.request("subscribe", { topic: "shop:api" });
		const receipts: string[] = [];
		a.on("receipt", (r) => receipts.push(`${r.recipient} ${r.state} ${r.message}`));

		const sent = await a.send("#shop:api", "across hubs");
		await until(() => gotB.length === 1 && gotC.length === 1);
		expect(gotB[0]).toEqual(sent.message);
		expect(gotC[0]).toEqual(sent.message);
		await b.ack([sent.message.id]);
		await until(() => receipts.length === 1);
		expect(receipts).toEqual([`B seen ${sent.message.id}`]);
		// Pushed once, not once per hub; a non-subscriber got nothing.
		await new Promise((r) => setTimeout(r, 100));
		expect([receipts.length, gotB.length, gotD.length]).toEqual([1, 1, 0]);
		const states = (await a.request("receipts", { message: sent.message.id })).receipts.map((r) => `${r.recipient} ${r.state}`);
		// C's push was marked by hub 1 (A asks hub 1, which reads its marks not yet written too).
		expect(states).toEqual(["B seen", "C pushed"]);
		// Hub 2 reads it from Redis once hub 1's batch is written (FLUSH_DELAY_MS).
		await new Promise((r) => setTimeout(r, 300));
		const fromRedis = await h2.hub.store.receipts(ROOM, sent.message.id);
		expect(fromRedis?.receipts.map((r) => `${r.recipient} ${r.state}`)).toEqual(["B seen", "C pushed"]);
	});

	it("a session that moves from hub 2 to hub 1 gets its unacked backlog, in order", async () => {
		const [h1, h2] = await twoHubs();
		const a = await client(h1.url, "A");
		const d = await client(h2.url, "D");
		const secretsB = memorySecrets();
		const { client: b, got: live } = await collecting(h2.url, "B", { secrets: secretsB });

		const sent: Message[] = [];
		for (let i = 0; i < 5; i++) sent.push((await (i % 2 ? a : d).send("B", `live ${i}`)).message);
		await until(() => live.length === 5);
		await b.ack(live.slice(0, 2).map((m) => m.id));
		await b.close();
		for (let i = 0; i < 10; i++) sent.push((await (i % 2 ? a : d).send("B", `offline ${i}`)).message);

		const { client: b1, got } = await collecting(h1.url, "B", { secrets: secretsB });
		await until(() => got.length === 13);
		expect(got).toEqual(sent.slice(2));
		expect(b1.hello?.pending).toBe(13);
	});

	it("live pushes and inbox pages never skip or reorder while both hubs commit at once", async () => {
		const [h1, h2] = await twoHubs();
		const senders = [await client(h1.url, "A"), await client(h2.url, "D"), await client(h2.url, "E")];
		const { client: b, got: pushed } = await collecting(h1.url, "B");
		// Let B's post-hello catch-up finish (it reads unacked messages only, and B is about to ack by reading).
		await new Promise((r) => setTimeout(r, 100));

		const perSender = 60;
		const sending = Promise.all(
			senders.map(async (s, n) => {
				const out: Message[] = [];
				// Some in flight at once per sender, so the two hubs' commits interleave tightly.
				for (let i = 0; i < perSender; i += 4) {
					const batch = await Promise.all([0, 1, 2, 3].map((j) => s.send("B", `${n}:${i + j}`)));
					out.push(...batch.map((r) => r.message));
				}
				return out;
			}),
		);
		// Meanwhile B consumes its inbox in small pages.
		const paged: Message[] = [];
		let done = false;
		void sending.then(() => {
			done = true;
		});
		for (;;) {
			const page = await b.request("inbox", { limit: 7 });
			paged.push(...page.messages);
			if (done && page.remaining === 0 && page.messages.length === 0) break;
		}
		const sent = (await sending).flat().sort((x, y) => x.seq - y.seq);

		expect(increasing(paged)).toBe(true);
		expect(paged.map((m) => m.id)).toEqual(sent.map((m) => m.id));
		// Every push arrived, each once, in seq order: a push from one hub never overtook one from the other.
		await until(() => pushed.length === sent.length);
		expect(increasing(pushed)).toBe(true);
		expect(pushed.map((m) => m.id)).toEqual(sent.map((m) => m.id));
	});

	it("a session forgotten on hub 1 leaves hub 2's audience; forced from hub 2, its holder on hub 1 is closed (4009)", async () => {
		const [h1, h2] = await twoHubs();
		const b = await client(h2.url, "B");
		const secretsC = memorySecrets();
		await (await client(h1.url, "C", { secrets: secretsC })).close();
		const secretsL = memorySecrets();
		const live = await client(h1.url, "L", { secrets: secretsL });
		await until(() => ["C", "L"].every((id) => h2.hub.presence.knownSessionsLoaded(ROOM).has(id)));
		const before = await b.send("*", "before");
		expect([...before.live, ...before.queued].sort()).toEqual(["C", "L"]);

		// Forgotten on hub 1 (its own client asks there), and hub 2 learns it from the fan-out.
		const ask = await connectClient(h1.url, "Asker");
		cleanups.push(() => ask.close({ bye: false }));
		const res = await ask.request("forget", { session: "C", secret: secretsC.load(ROOM, "C") });
		expect(res).toMatchObject({ existed: true, pending: 1 });
		await until(() => !h2.hub.presence.knownSessionsLoaded(ROOM).has("C"));
		const after = await b.send("*", "after");
		expect([...after.live, ...after.queued].sort()).toEqual(["Asker", "L"]);

		// L is held on hub 1; forgotten with force from hub 2 (which cannot see it), hub 1 closes it.
		const fatal = new Promise<Error>((resolve) => live.once("fatal", resolve));
		const forced = await b.request("forget", { session: "L", secret: secretsL.load(ROOM, "L"), force: true });
		expect(forced).toMatchObject({ existed: true, closed: 0 });
		expect((await fatal).message).toMatch(/forgot session L/);
		await until(() => h1.hub.presence.holder(ROOM, "L") === undefined && !h1.hub.presence.knownSessionsLoaded(ROOM).has("L"));
	});

	it("an ephemeral session that ends on hub 1 leaves hub 2's audience too", async () => {
		const [h1, h2] = await twoHubs();
		const b = await client(h2.url, "B");
		const e = await client(h1.url, "box-4242", { ephemeral: true });
		await until(() => h2.hub.presence.knownSessionsLoaded(ROOM).has("box-4242"));
		// Live: hub 2 knows it is online on hub 1 (presence is global), and hub 1 pushes it.
		await until(() => h2.hub.presence.isOnline(ROOM, "box-4242"));
		const during = await b.send("*", "while online");
		expect(during.live).toEqual(["box-4242"]);
		await e.close();
		await until(() => !h2.hub.presence.knownSessionsLoaded(ROOM).has("box-4242"));
		const after = await b.send("*", "after it ended");
		expect(after.warnings.map((w) => w.code)).toEqual(["W_NO_RECIPIENTS"]);
		expect(await h2.hub.store.getSession(ROOM, "box-4242")).toBeNull();
	});

	it("a hub does not start when Redis is unreachable, and says where it looked", async () => {
		const nowhere = "redis://127.0.0.1:1";
		const hub = new Hub({ port: 0 }, { store: new RedisStore({ url: nowhere }), fanout: new RedisFanout({ url: nowhere }) });
		await expect(hub.listen()).rejects.toThrow(/cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
		await expect(new RedisFanout({ url: nowhere }).open()).rejects.toThrow(/ECONNREFUSED/);
		await hub.close();
	});

	it("fan-out events leave Redis in seq order even when two stores commit concurrently", async () => {
		const prefix = uniquePrefix();
		const fanout = new RedisFanout({ url: server.url, prefix });
		const events: FanoutEvent[] = [];
		fanout.subscribe((e) => events.push(e));
		await fanout.open();
		cleanups.push(() => fanout.close());
		const stores = [new RedisStore({ url: server.url, prefix }), new RedisStore({ url: server.url, prefix })];
		for (const s of stores) {
			await s.open();
			cleanups.push(() => s.close());
		}
		const input = (i: number): AppendInput => ({
			room: "r",
			from: "alice",
			to: "bob",
			body: `${i}`,
			replyTo: null,
			key: null,
			recipients: ["bob"],
			sentAt: i,
		});
		const results = await Promise.all(Array.from({ length: 400 }, (_, i) => stores[i % 2]?.append(input(i))));
		await until(() => events.length === 400);
		const seqs = events.map((e) => (e.kind === "message" ? e.message.seq : -1));
		expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
		expect(new Set(seqs)).toEqual(new Set(results.map((r) => r?.message.seq)));
		expect(events[0]).toEqual({ kind: "message", message: results.find((r) => r?.message.seq === seqs[0])?.message, recipients: ["bob"] });
	});

	it("state_changed reaches watchers on the other hub, each key's versions in order", async () => {
		const [h1, h2] = await twoHubs();
		const a = await client(h1.url, "A");
		const b = await client(h2.url, "B");
		const c = await client(h1.url, "C");
		const got: Array<{ key: string; version: number; updatedBy: string }> = [];
		b.on("state_changed", (e) => got.push({ key: e.key, version: e.version, updatedBy: e.updatedBy }));
		await b.request("watch", { prefix: "tasks/" });
		// Writers on both hubs at once, on one key and on another.
		await Promise.all([
			...Array.from({ length: 20 }, () => a.request("state_append", { key: "tasks/log", item: "a" })),
			...Array.from({ length: 20 }, () => b.request("state_append", { key: "tasks/log", item: "b" })),
			c.request("state_set", { key: "tasks/other", value: 1 }),
			c.request("state_set", { key: "elsewhere", value: 1 }),
		]);
		await until(() => got.length === 41);
		const versions = got.filter((e) => e.key === "tasks/log").map((e) => e.version);
		expect(versions).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
		expect(got.filter((e) => e.key === "tasks/other")).toEqual([{ key: "tasks/other", version: 1, updatedBy: "C" }]);
	});

	it("compare-and-set and claims hold across hubs: of racing writers and claimants exactly one wins", async () => {
		const [h1, h2] = await twoHubs();
		const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => client(i % 2 ? h2.url : h1.url, `S${i}`)));
		await clients[0]?.request("state_set", { key: "k", value: "start", expectedVersion: 0 });
		const sets = await Promise.allSettled(clients.map((c, i) => c.request("state_set", { key: "k", value: i, expectedVersion: 1 })));
		expect(sets.filter((r) => r.status === "fulfilled")).toHaveLength(1);
		expect(sets.filter((r) => r.status === "rejected" && (r.reason as { code?: string }).code === "E_CONFLICT")).toHaveLength(5);
		const claims = await Promise.all(clients.map((c, i) => c.request("claim", { repo: "github.com/a/b", paths: [i % 2 ? "src/**/*.ts" : "src/auth/**"] })));
		expect(claims.filter((r) => r.granted)).toHaveLength(1);
		const winner = claims.findIndex((r) => r.granted);
		for (const [i, r] of claims.entries()) if (i !== winner) expect(r.conflicts.map((c) => c.session)).toEqual([`S${winner}`]);
		// Released on one hub, claimable on the other at once.
		await clients[winner]?.request("release", {});
		const other = clients[(winner + 1) % 6];
		expect((await other?.request("claim", { repo: "github.com/a/b", paths: ["src/**"] }))?.granted).toBe(true);
	});
});
