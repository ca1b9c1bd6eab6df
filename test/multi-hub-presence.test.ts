/**
 * Presence across hubs on one real redis-server (in-process hubs, each with its own RedisStore, RedisFanout
 * and RedisDirectory, as separate processes would have): a session online on hub 1 is online on hub 2 with
 * its meta (peers, peer_joined/peer_left, sessions, /healthz), a send answered on hub 2 says `live` for a
 * recipient on hub 1, an ID held live on one hub is refused on another while a holder that does not answer
 * is replaced (its hub closes it, 4002), two hubs racing for one ID never both win, forget probes a holder
 * on another hub, and a hub that was taken for dead claims its sessions again.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import type { HubOptions } from "../server/defaults.js";
import { PRELUDE, type RedisDirectory } from "../server/directory-redis.js";
import { CloseCode, ErrorCode } from "../server/errors.js";
import type { Hub } from "../server/hub.js";
import type { PeerInfo } from "../server/protocol.js";
import { connectRedis, quitRedis } from "../server/store/redis.js";
import { connectClient, memorySecrets, RawClient } from "./fixtures/hub.js";
import { until } from "./fixtures/faults.js";
import { hasRedis, redisSkipNote, startRedis, startRedisHub, type TestRedis, uniquePrefix } from "./fixtures/redis.js";

const ROOM = "default";

interface TestHub {
	hub: Hub;
	url: string;
	port: number;
	directory: RedisDirectory;
}

describe.skipIf(!hasRedis)(`presence across hubs on one Redis${redisSkipNote}`, () => {
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

	/** Hubs on one fresh key prefix, as processes started with the same --db redis://… would be. */
	async function hubs(n: number, options: Partial<HubOptions> = {}): Promise<TestHub[]> {
		const prefix = uniquePrefix();
		const out: TestHub[] = [];
		for (let i = 0; i < n; i++) {
			const h = await startRedisHub(server.url, prefix, options);
			cleanups.push(() => h.hub.close());
			out.push(h);
		}
		return out;
	}

	async function client(url: string, session: string, extra: Parameters<typeof connectClient>[2] = {}): Promise<HubClient> {
		const c = await connectClient(url, session, extra);
		cleanups.push(() => c.close({ bye: false }));
		return c;
	}

	function raw(url: string, opts: ConstructorParameters<typeof RawClient>[1] = {}): RawClient {
		const r = new RawClient(url, opts);
		cleanups.push(() => r.close());
		return r;
	}

	it("a session online on hub 1 is online on hub 2, with its meta: peers, pushes, sessions and /healthz", async () => {
		const [h1, h2] = (await hubs(2)) as [TestHub, TestHub];
		await client(h1.url, "A", { meta: { host: "box-a", cwd: "/work/a", branch: "main" } });
		await until(() => h2.hub.presence.isOnline(ROOM, "A"), 5_000, "hub 2 to learn that A is online");

		const b = await client(h2.url, "B");
		const joined: PeerInfo[] = [];
		const left: { session: string; reason: string }[] = [];
		b.on("peer_joined", (p) => joined.push(p));
		b.on("peer_left", (p) => left.push(p));
		expect(b.hello?.peers.map((p) => [p.session, p.meta.host, p.meta.cwd])).toEqual([["A", "box-a", "/work/a"]]);
		const { peers } = await b.request("peers", {});
		expect(peers).toEqual([expect.objectContaining({ session: "A", room: ROOM, meta: expect.objectContaining({ host: "box-a", branch: "main" }) })]);

		// A join and a leave on hub 1 are pushed to B on hub 2.
		const c = await client(h1.url, "C", { meta: { host: "box-c" } });
		await until(() => joined.length === 1, 5_000, "peer_joined for C");
		expect(joined[0]).toMatchObject({ session: "C", meta: { host: "box-c" } });
		const page = await b.request("sessions", {});
		expect(page.sessions.map((s) => [s.session, s.online, s.meta.host])).toEqual([
			["A", true, "box-a"],
			["B", true, undefined],
			["C", true, "box-c"],
		]);
		const health = (await (await fetch(`http://127.0.0.1:${h2.port}/healthz`)).json()) as Record<string, unknown>;
		// sessionsOnline: held on this hub; presence.sessionsOnline: on every hub sharing the store.
		expect(health).toMatchObject({ sessionsOnline: 1, presence: { directory: "redis", hub: h2.directory.hubId, hubs: 2, sessionsOnline: 3 } });

		await c.close();
		await until(() => left.length === 1, 5_000, "peer_left for C");
		expect(left[0]).toMatchObject({ session: "C", reason: "bye" });
		expect((await b.request("peers", {})).peers.map((p) => p.session)).toEqual(["A"]);
		expect((await b.request("sessions", {})).sessions.find((s) => s.session === "C")?.online).toBe(false);

		// A hello on hub 2 counts and pages the sessions of hub 1 (A) as it does its own (B).
		const d = await client(h2.url, "D", { helloPeers: 1 });
		expect(d.hello?.peers).toHaveLength(1);
		expect(d.hello?.peersTotal).toBe(2);
		const paged = await d.request("peers", { limit: 1 });
		expect([paged.peers.map((p) => p.session), paged.total, paged.hasMore, paged.nextCursor]).toEqual([["A"], 2, true, "A"]);
		expect((await d.request("peers", { limit: 1, cursor: "A" })).peers.map((p) => p.session)).toEqual(["B"]);
	});

	it("a send answered on hub 2 says live for a recipient on hub 1, and queued once it left", async () => {
		const [h1, h2] = (await hubs(2)) as [TestHub, TestHub];
		const a = await client(h1.url, "A");
		const b = await client(h2.url, "B");
		await until(() => h2.hub.presence.isOnline(ROOM, "A"));
		const got: string[] = [];
		a.on("message", (m) => got.push(m.body));

		const res = await b.send("A", "across");
		expect({ live: res.live, queued: res.queued }).toEqual({ live: ["A"], queued: [] });
		await until(() => got.length === 1);
		const all = await b.send("*", "to everyone");
		expect(all.live).toEqual(["A"]);

		await a.close();
		await until(() => !h2.hub.presence.isOnline(ROOM, "A"));
		const later = await b.send("A", "offline now");
		expect({ live: later.live, queued: later.queued }).toEqual({ live: [], queued: ["A"] });
	});

	it("an ID held live on hub 1 is refused on hub 2 (E_ID_TAKEN) and the holder keeps it", async () => {
		const [h1, h2] = (await hubs(2, { livenessProbeMs: 300 })) as [TestHub, TestHub];
		const secrets = memorySecrets();
		const holder = await client(h1.url, "CC-1", { secrets, meta: { host: "laptop", pid: 4242 } });
		const r = raw(h2.url);
		await r.opened();
		const res = await r.request({ type: "hello", session: "CC-1", secret: secrets.load(ROOM, "CC-1") });
		expect(res.code).toBe(ErrorCode.ID_TAKEN);
		expect(String(res.message)).toMatch(/in use by a live connection \(laptop, pid 4242\) on another hub/);
		expect(holder.ready).toBe(true);
		expect((await holder.request("ping", {})).time).toBeGreaterThan(0);
		expect(h1.hub.presence.holder(ROOM, "CC-1")).toBeDefined();
		expect(h2.hub.presence.holder(ROOM, "CC-1")).toBeUndefined();
	});

	it("a holder on hub 1 that does not answer is replaced from hub 2: hub 1 closes it (4002) and peers see it", async () => {
		const [h1, h2] = (await hubs(2, { livenessProbeMs: 300 })) as [TestHub, TestHub];
		const watcher = await client(h1.url, "W");
		const left: { session: string; reason: string }[] = [];
		watcher.on("peer_left", (p) => left.push(p));
		// A holder whose client never answers pings: a frozen process, or a link that died without a FIN.
		const frozen = raw(h1.url, { autoPong: false });
		await frozen.opened();
		const first = await frozen.request({ type: "hello", session: "CC-3" });
		const secret = (first.result as { secret: string }).secret;
		await until(() => h2.hub.presence.isOnline(ROOM, "CC-3"));

		const r = raw(h2.url);
		await r.opened();
		const res = await r.request({ type: "hello", session: "CC-3", secret }, 5_000);
		expect(res.type).toBe("result");
		const closed = await frozen.waitClosed(5_000);
		expect([CloseCode.REPLACED, 1006]).toContain(closed.code);
		await until(() => h1.hub.presence.holder(ROOM, "CC-3") === undefined && h1.hub.presence.isOnline(ROOM, "CC-3"), 5_000, "hub 1 to see CC-3 on hub 2");
		expect(left).toContainEqual(expect.objectContaining({ session: "CC-3", reason: "replaced" }));
		expect(h2.hub.presence.holder(ROOM, "CC-3")).toBeDefined();
	});

	it("two hubs racing for one ID never both win: exactly one hello succeeds, every time", async () => {
		const [h1, h2] = (await hubs(2, { livenessProbeMs: 500, newSessionsPerMinute: 0 })) as [TestHub, TestHub];
		for (let i = 0; i < 12; i++) {
			const id = `Race-${i}`;
			const secrets = memorySecrets();
			await (await connectClient(h1.url, id, { secrets })).close();
			const secret = secrets.load(ROOM, id);
			const [x, y] = [raw(h1.url), raw(h2.url)];
			await Promise.all([x.opened(), y.opened()]);
			const answers = await Promise.all([x, y].map((c) => c.request({ type: "hello", session: id, secret }, 5_000)));
			expect(answers.map((a) => a.type).sort()).toEqual(["error", "result"]);
			expect(answers.find((a) => a.type === "error")?.code).toBe(ErrorCode.ID_TAKEN);
			const holders = [h1, h2].filter((h) => h.hub.presence.holder(ROOM, id));
			expect(holders).toHaveLength(1);
			x.close();
			y.close();
		}
	});

	it("forget from hub 2 probes a holder on hub 1: E_SESSION_ONLINE while it answers", async () => {
		const [h1, h2] = (await hubs(2, { livenessProbeMs: 300 })) as [TestHub, TestHub];
		const secrets = memorySecrets();
		const holder = await client(h1.url, "Busy", { secrets });
		await until(() => h2.hub.presence.isOnline(ROOM, "Busy"));
		const asker = raw(h2.url);
		await asker.opened();
		const res = await asker.request({ type: "forget", session: "Busy", secret: secrets.load(ROOM, "Busy") });
		expect(res).toMatchObject({ type: "error", code: ErrorCode.SESSION_ONLINE });
		expect(String(res.message)).toMatch(/on another hub/);
		expect(holder.ready).toBe(true);
	});

	it("a hub taken for dead (it missed its deadline) claims its sessions again; peers see it leave and come back", async () => {
		const [h1, h2] = (await hubs(2, { heartbeatMs: 1_000 })) as [TestHub, TestHub];
		const a = await client(h1.url, "A");
		const b = await client(h2.url, "B");
		await until(() => h2.hub.presence.isOnline(ROOM, "A"));
		const seen: string[] = [];
		b.on("peer_left", (p) => seen.push(`left ${p.session} ${p.reason}`));
		b.on("peer_joined", (p) => seen.push(`joined ${p.session}`));
		// As if hub 1 had stalled past its deadline and another hub's beat swept it: its deadline in the past,
		// and the directory's own sweep, in one script.
		const admin = await connectRedis(server.url);
		cleanups.push(() => quitRedis(admin));
		const sweep = `${PRELUDE}\nredis.call("ZADD", P .. "hubs", 1, ARGV[2])\nsweep(now_ms(), 3600000)\nreturn 1`;
		await admin.eval(sweep, 0, h1.directory.prefix, h1.directory.hubId);
		await until(() => seen.length >= 2, 5_000, "A to leave and come back");
		expect(seen.slice(0, 2)).toEqual(["left A timeout", "joined A"]);
		await until(() => h2.hub.presence.isOnline(ROOM, "A"));
		expect(a.ready).toBe(true);
		expect((await b.send("A", "still there?")).live).toEqual(["A"]);
	});
});
