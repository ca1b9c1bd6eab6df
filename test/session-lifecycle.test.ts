/**
 * The session lifecycle and the bounds on sessions, on a real hub with real sockets: the caps on new IDs
 * (per room, per minute per address) against a flood while a well-behaved pair keeps talking, paged
 * `sessions`, ephemeral sessions forgotten at close, retention of sessions not seen for a while, and
 * `forget` with its authorization rules.
 */
import { Writable } from "node:stream";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import { CloseCode, ErrorCode, WarningCode } from "../server/errors.js";
import { Hub } from "../server/hub.js";
import type { Message } from "../server/protocol.js";
import { createStore, SqliteStore } from "../server/store/index.js";
import { connectClient, memorySecrets, RawClient, startHub, type TestHub, tempDir } from "./fixtures/hub.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

const DAY = 86_400_000;

async function hubWith(opts: Parameters<typeof startHub>[0] = {}): Promise<TestHub> {
	const h = await startHub(opts);
	cleanups.push(h.stop);
	return h;
}
async function client(url: string, session: string, extra: Parameters<typeof connectClient>[2] = {}): Promise<HubClient> {
	const c = await connectClient(url, session, extra);
	cleanups.push(() => c.close({ bye: false }));
	return c;
}
async function raw(url: string): Promise<RawClient> {
	const r = new RawClient(url);
	cleanups.push(() => r.close());
	await r.opened();
	return r;
}
async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await pred())) {
		if (Date.now() > deadline) throw new Error("condition not met in time");
		await new Promise((r) => setTimeout(r, 10));
	}
}
function collect(c: HubClient): Message[] {
	const got: Message[] = [];
	c.on("message", (m) => got.push(m));
	return got;
}

/** `n` raw connections, each saying hello with a fresh ID; returns each answer and keeps the sockets open. */
async function flood(url: string, prefix: string, n: number, room = "default") {
	const answers: Record<string, unknown>[] = [];
	for (let start = 0; start < n; start += 50) {
		const batch = await Promise.all(
			Array.from({ length: Math.min(50, n - start) }, async (_, j) => {
				const r = await raw(url);
				return r.request({ type: "hello", session: `${prefix}${start + j}`, room });
			}),
		);
		answers.push(...batch);
	}
	return answers;
}
const codes = (answers: Record<string, unknown>[]) => {
	const out: Record<string, number> = {};
	for (const a of answers) {
		const k = a.type === "result" ? "ok" : String(a.code);
		out[k] = (out[k] ?? 0) + 1;
	}
	return out;
};

/** A well-behaved pair: A sends to B, B gets it pushed. */
async function pairTalks(a: HubClient, gotB: Message[], body: string): Promise<void> {
	const r = await a.send("B", body);
	expect(r.live).toEqual(["B"]);
	await until(() => gotB.some((m) => m.body === body));
}

function capturingLog() {
	const lines: Record<string, unknown>[] = [];
	const stream = new Writable({
		write(chunk, _enc, done) {
			for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l));
			done();
		},
	});
	return { log: pino({ level: "info" }, stream), lines };
}

describe("bounds on new session IDs", () => {
	it("a flood of fresh IDs from one address hits E_CLAIM_RATE at the default rate; the pair keeps working", async () => {
		const { url, port } = await hubWith(); // the defaults: 60 new IDs a minute per address
		const a = await client(url, "A");
		const secretsB = memorySecrets();
		const b = await client(url, "B", { secrets: secretsB });
		const gotB = collect(b);
		const started = Date.now();
		const [answers] = await Promise.all([flood(url, "F", 150), pairTalks(a, gotB, "during the flood")]);
		const elapsedS = (Date.now() - started) / 1000;
		const tally = codes(answers);
		// 60 in the bucket, 2 taken by the pair, plus what refilled while the flood ran (1 per second).
		expect(tally.ok).toBeGreaterThanOrEqual(58);
		expect(tally.ok).toBeLessThanOrEqual(58 + Math.ceil(elapsedS) + 1);
		expect(tally[ErrorCode.CLAIM_RATE]).toBe(150 - (tally.ok ?? 0));
		expect(Object.keys(tally).sort()).toEqual([ErrorCode.CLAIM_RATE, "ok"].sort());
		const refused = answers.find((x) => x.code === ErrorCode.CLAIM_RATE);
		expect(String(refused?.message)).toMatch(/--new-sessions-per-minute 60/);
		// IDs that exist are never refused: B reconnects, and the pair talks.
		await b.close({ bye: false });
		const b2 = await client(url, "B", { secrets: secretsB });
		await pairTalks(a, collect(b2), "after the flood");
		const h = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { sessionsOnline: number };
		expect(h.sessionsOnline).toBe(2 + (tally.ok ?? 0));
	});

	it("a room at --max-sessions-per-room refuses new IDs with E_ROOM_FULL; its IDs and other rooms are unaffected", async () => {
		const { url, hub } = await hubWith({ newSessionsPerMinute: 0 }); // the default room cap: 500
		const a = await client(url, "A");
		const secretsB = memorySecrets();
		const b = await client(url, "B", { secrets: secretsB });
		const gotB = collect(b);
		const [answers] = await Promise.all([flood(url, "F", 600), pairTalks(a, gotB, "during the flood")]);
		expect(codes(answers)).toEqual({ ok: 498, [ErrorCode.ROOM_FULL]: 102 });
		expect(String(answers.find((x) => x.code === ErrorCode.ROOM_FULL)?.message)).toMatch(/Room default has 500 sessions/);
		expect(await hub.store.countSessions("default")).toBe(500);
		// A broadcast there costs at most the cap: 499 recipients.
		const all = await a.send("*", "to the full room");
		expect(all.live.length + all.queued.length).toBe(499);
		await b.close({ bye: false });
		const b2 = await client(url, "B", { secrets: secretsB });
		await pairTalks(a, collect(b2), "after the flood");
		expect((await flood(url, "Other", 3, "other")).every((x) => x.type === "result")).toBe(true);
		// The HubClient does not retry into a full room: it stops with the reason.
		const refused = await connectClient(url, "Late").catch((err: Error & { code?: string }) => err);
		expect((refused as { code?: string }).code).toBe(ErrorCode.ROOM_FULL);
	});
});

describe("the broadcast delivery budget", () => {
	it("a flood of legal-rate broadcasts to a crowded room is slowed to the budget, in order; direct messages are not", async () => {
		const { url, hub } = await hubWith(); // 2,000 deliveries/s per address, 4,000 at once
		for (let i = 0; i < 98; i++)
			await hub.store.createSession({ room: "default", session: `Off${i}`, secretHash: "h", meta: {}, firstSeen: 1, lastSeen: 1, ephemeral: false });
		const a = await client(url, "A");
		const b = await client(url, "B");
		const gotB = collect(b);
		const flooder = await raw(url);
		await flooder.request({ type: "hello", session: "Flooder" });
		const order: unknown[] = [];
		flooder.ws.on("message", (data) => order.push(JSON.parse(String(data)).id));
		// 300 broadcasts written at once (inside the frame rate's burst), each to 100 sessions.
		const started = Date.now();
		for (let i = 0; i < 300; i++) flooder.sendRaw(JSON.stringify({ type: "send", id: `b${i}`, to: "*", body: `flood ${i}` }));
		const direct = Promise.all(Array.from({ length: 20 }, (_, i) => pairTalks(a, gotB, `direct ${i}`)));
		// Nothing is refused: past the budget the flooder's frames wait, in order, while the pair talks.
		await direct;
		const answeredWhenPairDone = order.length;
		const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => flooder.next((f) => f.id === `b${i}`, 30_000)));
		const elapsedS = (Date.now() - started) / 1000;
		expect(answers.every((f) => f.type === "result")).toBe(true);
		// 4,000 deliveries at once, then 2,000 a second: 300 broadcasts to 100 cannot take less than 13 s, and
		// the pair's direct messages, which take none of the budget, did not wait behind them.
		expect(elapsedS).toBeGreaterThanOrEqual(12);
		expect(answeredWhenPairDone).toBeLessThan(300);
		expect(order).toEqual(Array.from({ length: 300 }, (_, i) => `b${i}`));
		// Still connected: being slowed down is not a strike against the connection.
		expect((await flooder.request({ type: "ping" })).type).toBe("result");
	});
});

describe("sessions, page by page", () => {
	it("answers a bounded page in ID order with hasMore, nextCursor and total; the cursor walks every session once", async () => {
		const { url, port } = await hubWith({ newSessionsPerMinute: 0 });
		await flood(url, "S", 249);
		const me = await client(url, "Viewer");
		const first = await me.request("sessions", {});
		expect(first.sessions).toHaveLength(100);
		expect(first).toMatchObject({ hasMore: true, total: 250 });
		const ids: string[] = [];
		let page = first;
		for (;;) {
			ids.push(...page.sessions.map((s) => s.session));
			if (!page.hasMore) break;
			expect(page.nextCursor).toBe(page.sessions.at(-1)?.session);
			page = await me.request("sessions", { limit: 60, cursor: page.nextCursor ?? "" });
		}
		expect(page.nextCursor).toBeNull();
		expect(ids).toHaveLength(250);
		expect(new Set(ids).size).toBe(250);
		expect(ids).toEqual([...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
		const everyone = (await me.request("sessions", { limit: 500 })).sessions;
		expect(everyone).toHaveLength(250);
		expect(everyone.filter((s) => !s.online).map((s) => s.session)).toEqual([]);

		const get = async (q: string) => {
			const res = await fetch(`http://127.0.0.1:${port}/sessions?${q}`);
			return { status: res.status, body: (await res.json()) as Record<string, unknown> & { sessions?: { session: string }[] } };
		};
		const http1 = await get("limit=7");
		expect(http1.status).toBe(200);
		expect(http1.body).toMatchObject({ room: "default", hasMore: true, total: 250, nextCursor: ids[6] });
		expect(http1.body.sessions?.map((s) => s.session)).toEqual(ids.slice(0, 7));
		const http2 = await get(`limit=7&cursor=${encodeURIComponent(ids[6] ?? "")}`);
		expect(http2.body.sessions?.map((s) => s.session)).toEqual(ids.slice(7, 14));
		expect((await get("")).body.sessions).toHaveLength(100);
		for (const bad of ["limit=0", "limit=501", "limit=x", `cursor=${"c".repeat(257)}`]) {
			const r = await get(bad);
			expect(r.status).toBe(400);
			expect((r.body.error as { code: string }).code).toBe(ErrorCode.BAD_FRAME);
		}
		const r = await raw(url);
		await r.request({ type: "hello", session: "Raw" });
		expect((await r.request({ type: "sessions", limit: 0 })).code).toBe(ErrorCode.BAD_FRAME);
		expect((await r.request({ type: "sessions", limit: 501 })).code).toBe(ErrorCode.BAD_FRAME);
	});
});

describe("ephemeral sessions", () => {
	it("get broadcasts while online, and are forgotten with their inbox when the connection ends", async () => {
		const { url, hub } = await hubWith();
		const a = await client(url, "A");
		const c = await client(url, "C", { secrets: memorySecrets() });
		await c.close();
		const e = await raw(url);
		const hello = await e.request({ type: "hello", session: "mbp-4242", ephemeral: true });
		expect(hello.result).toMatchObject({ ephemeral: true });
		const first = await a.send("*", "while E is online");
		expect(first.live).toEqual(["mbp-4242"]);
		expect(first.queued).toEqual(["C"]);
		await e.next((f) => f.type === "message");
		const listed = await a.request("sessions", {});
		expect(listed.sessions.map((s) => [s.session, s.ephemeral])).toEqual([
			["A", false],
			["C", false],
			["mbp-4242", true],
		]);

		// It says bye (its process is ending) without acking: its delivery goes with it, at once.
		expect((await e.request({ type: "bye" })).type).toBe("result");
		await until(async () => (await hub.store.getSession("default", "mbp-4242")) === null, 1_000);
		expect(await hub.store.countPending("default", "mbp-4242")).toBe(0);
		const after = await a.send("*", "after E left");
		expect(after.live).toEqual([]);
		expect(after.queued).toEqual(["C"]);
		expect((await a.request("sessions", {})).sessions.map((s) => s.session)).toEqual(["A", "C"]);
		expect((await hub.store.stats()).pendingDeliveries).toBe(2); // C's two
	});

	it("take their topic subscriptions and file claims with them: nothing queues for them on a topic afterwards", async () => {
		const { url, hub } = await hubWith();
		const a = await client(url, "A");
		const e = await raw(url);
		await e.request({ type: "hello", session: "mbp-4243", ephemeral: true });
		expect((await e.request({ type: "subscribe", topic: "build.ci" })).type).toBe("result");
		expect((await e.request({ type: "claim", repo: "github.com/acme/api", paths: ["src/**"] })).type).toBe("result");
		expect((await a.send("#build.ci", "while online")).live).toEqual(["mbp-4243"]);
		expect((await e.request({ type: "bye" })).type).toBe("result");
		await until(async () => (await hub.store.getSession("default", "mbp-4243")) === null, 1_000);
		expect(await hub.store.topics.subscriptions("default", "mbp-4243")).toEqual([]);
		expect(await hub.store.claims.list("default", { session: "mbp-4243", now: Date.now() })).toEqual([]);
		const after = await a.send("#build.ci", "after it left");
		expect([...after.live, ...after.queued]).toEqual([]);
		expect(after.warnings.map((w) => w.code)).toContain(WarningCode.NO_SUBSCRIBERS);
	});

	it("a named session is kept at close, and a later hello cannot make it ephemeral (or the reverse)", async () => {
		const { url, hub } = await hubWith();
		const secrets = memorySecrets();
		const n = await client(url, "Named", { secrets });
		await n.close();
		const again = await client(url, "Named", { secrets, ephemeral: true });
		expect(again.hello?.ephemeral).toBe(false);
		await again.close();
		await new Promise((r) => setTimeout(r, 100));
		expect(await hub.store.getSession("default", "Named")).not.toBeNull();

		const eSecrets = memorySecrets();
		const e = await client(url, "E1", { secrets: eSecrets, ephemeral: true });
		expect(e.hello?.ephemeral).toBe(true);
		const other = await raw(url);
		// Another connection claims it with its secret while it is held: the holder answers, so it is refused.
		const secret = eSecrets.load("default", "E1");
		expect((await other.request({ type: "hello", session: "E1", secret })).code).toBe(ErrorCode.ID_TAKEN);
		await e.close();
		await until(async () => (await hub.store.getSession("default", "E1")) === null);
	});

	it("a dropped connection keeps it and its unread mail for the grace period; then it goes", async () => {
		const { url, hub } = await hubWith({ ephemeralGraceMs: 600 });
		const a = await client(url, "A");
		const first = await raw(url);
		const { secret } = (await first.request({ type: "hello", session: "box-66", ephemeral: true })).result as { secret: string };
		first.close(); // the link dropped: no bye
		await until(() => hub.presence.holder("default", "box-66") === undefined);
		await a.send("box-66", "while the link was down");
		await new Promise((r) => setTimeout(r, 200));
		// Back within the grace period: the same session, its mail waiting.
		const back = await raw(url);
		const hello = (await back.request({ type: "hello", session: "box-66", ephemeral: true, secret })).result as { pending: number; secret?: string };
		expect(hello).toMatchObject({ pending: 1 });
		expect(hello.secret).toBeUndefined();
		expect(((await back.next((f) => f.type === "message")).message as Message).body).toBe("while the link was down");
		back.close();
		await new Promise((r) => setTimeout(r, 300));
		expect(await hub.store.getSession("default", "box-66")).not.toBeNull();
		await until(async () => (await hub.store.getSession("default", "box-66")) === null, 3_000);
		expect(await hub.store.countPending("default", "box-66")).toBe(0);
	});

	it("a hub that stops does not forget them: its bridges reconnect to the next one", async () => {
		const d = tempDir();
		cleanups.push(d.cleanup);
		const file = join(d.dir, "relay.db");
		const hub = new Hub({ port: 0, shutdownGraceMs: 200 }, { store: createStore(file) });
		const { url } = await hub.listen();
		const e = await raw(url);
		await e.request({ type: "hello", session: "box-55", ephemeral: true });
		await hub.close();
		const store = new SqliteStore({ file });
		await store.open();
		expect((await store.getSession("default", "box-55"))?.ephemeral).toBe(true);
		await store.close();
	});

	it("the same process reconnecting after it was forgotten gets its ID back with the secret it holds", async () => {
		const { url, hub } = await hubWith({ ephemeralGraceMs: 0 });
		const first = await raw(url);
		const hello = (await first.request({ type: "hello", session: "box-77", ephemeral: true })).result as { secret: string };
		first.close();
		await until(async () => (await hub.store.getSession("default", "box-77")) === null);
		const second = await raw(url);
		const back = await second.request({ type: "hello", session: "box-77", ephemeral: true, secret: hello.secret });
		expect(back.type).toBe("result");
		// Adopted, not minted: the client keeps the secret it has.
		expect((back.result as { secret?: string }).secret).toBeUndefined();
		expect((await hub.store.getSession("default", "box-77"))?.ephemeral).toBe(true);
	});

	it("a holder replaced by a newer connection for the ID does not take the ID with it", async () => {
		const { url, hub } = await hubWith({ livenessProbeMs: 200, ephemeralGraceMs: 0 });
		const old = await raw(url);
		const { secret } = (await old.request({ type: "hello", session: "box-88", ephemeral: true })).result as { secret: string };
		// A socket that stopped reading: it does not answer the liveness ping.
		(old.ws as unknown as { _socket: import("node:net").Socket })._socket.pause();
		const fresh = await raw(url);
		expect((await fresh.request({ type: "hello", session: "box-88", ephemeral: true, secret })).type).toBe("result");
		await new Promise((r) => setTimeout(r, 200));
		expect(await hub.store.getSession("default", "box-88")).not.toBeNull();
		expect(hub.presence.holder("default", "box-88")).toBeDefined();
		fresh.close();
		await until(async () => (await hub.store.getSession("default", "box-88")) === null);
	});

	it("an ephemeral record a stopped hub left behind is forgotten by the next hub's retention", async () => {
		const d = tempDir();
		cleanups.push(d.cleanup);
		const file = join(d.dir, "relay.db");
		const store = new SqliteStore({ file });
		await store.open();
		const now = Date.now();
		await store.createSession({ room: "default", session: "box-1", secretHash: "h", meta: {}, firstSeen: now - 2 * 3_600_000, lastSeen: now - 2 * 3_600_000, ephemeral: true });
		await store.createSession({ room: "default", session: "box-2", secretHash: "h", meta: {}, firstSeen: now, lastSeen: now, ephemeral: true });
		await store.createSession({ room: "default", session: "Kept", secretHash: "h", meta: {}, firstSeen: now - 2 * DAY, lastSeen: now - 2 * DAY, ephemeral: false });
		await store.append({ room: "default", from: "Kept", to: "box-1", body: "x", replyTo: null, key: null, recipients: ["box-1"], sentAt: now });
		await store.close();
		const hub = new Hub({ port: 0 }, { store: createStore(file) });
		await hub.listen();
		cleanups.push(() => hub.close());
		// Retention runs at start: the record older than staleEphemeralMs (30 min) goes, the recent one waits.
		await until(async () => (await hub.store.getSession("default", "box-1")) === null);
		expect(await hub.store.countPending("default", "box-1")).toBe(0);
		expect(await hub.store.getSession("default", "box-2")).not.toBeNull();
		expect(await hub.store.getSession("default", "Kept")).not.toBeNull();
	});
});

describe("retention of sessions not seen for --forget-after-days", () => {
	it("forgets them with their unread mail, counted and logged, and keeps the recent and the online", async () => {
		const { log, lines } = capturingLog();
		const hub = new Hub({ port: 0 }, { store: createStore(":memory:"), log });
		const { url } = await hub.listen();
		cleanups.push(() => hub.close());
		const a = await client(url, "A");
		for (const id of ["Gone", "Recent"]) await (await client(url, id, { secrets: memorySecrets() })).close();
		const online = await client(url, "Online");
		for (let i = 0; i < 3; i++) await a.send("Gone", `unread ${i}`);
		const now = Date.now();
		await hub.store.touchSession("default", "Gone", {}, now - 31 * DAY);
		await hub.store.touchSession("default", "Recent", {}, now - 29 * DAY);
		// Online since long ago without a reconnect: what it holds is refreshed, never taken for stale.
		await hub.store.touchSession("default", "Online", {}, now - 40 * DAY);

		const result = await hub.runRetention(now);
		expect(result).toMatchObject({ forgottenSessions: 1, forgottenDeliveries: 3 });
		expect(await hub.store.getSession("default", "Gone")).toBeNull();
		expect(await hub.store.countPending("default", "Gone")).toBe(0);
		expect(await hub.store.getSession("default", "Recent")).not.toBeNull();
		expect((await hub.store.getSession("default", "Online"))?.lastSeen).toBe(now);
		const line = lines.find((l) => l.msg === "retention forgot sessions not seen for a while");
		expect(line).toMatchObject({ named: 1, ephemeral: 0, lostDeliveries: 3, withMail: [{ room: "default", session: "Gone", pending: 3 }] });
		// It left the audience: a broadcast does not queue for it.
		const all = await a.send("*", "after retention");
		expect([...all.live, ...all.queued].sort()).toEqual(["Online", "Recent"]);
		expect(online.ready).toBe(true);
	});

	it("--forget-after-days 0 never forgets a named session", async () => {
		const { url, hub } = await hubWith({ forgetAfterDays: 0 });
		await (await client(url, "Old", { secrets: memorySecrets() })).close();
		await hub.store.touchSession("default", "Old", {}, 1);
		expect((await hub.runRetention()).forgottenSessions).toBe(0);
		expect(await hub.store.getSession("default", "Old")).not.toBeNull();
	});
});

describe("forget", () => {
	it("with the ID's secret, before any hello: record, unread mail and lost counter go; the ID leaves the audience", async () => {
		const { url, hub } = await hubWith({ retentionMaxMessages: 2, retentionDays: 0 });
		const secrets = memorySecrets();
		await (await client(url, "X", { secrets })).close();
		const a = await client(url, "A");
		for (let i = 0; i < 3; i++) await a.send("X", `for X ${i}`);
		await hub.runRetention(); // X: 1 lost, 2 pending
		const r = await raw(url);
		const res = await r.request({ type: "forget", session: "X", secret: secrets.load("default", "X") });
		expect(res).toMatchObject({ type: "result", result: { session: "X", room: "default", existed: true, pending: 2, closed: 0 } });
		expect(await hub.store.getSession("default", "X")).toBeNull();
		const all = await a.send("*", "after forget");
		expect(all.warnings.map((w) => w.code)).toEqual([WarningCode.NO_RECIPIENTS]);
		// Claimed again, it starts from nothing: a new secret, no backlog, no lost count.
		const fresh = await raw(url);
		const hello = (await fresh.request({ type: "hello", session: "X" })).result as { secret?: string; pending: number; lost: number };
		expect(hello.secret).toBeTruthy();
		expect(hello).toMatchObject({ pending: 0, lost: 0 });
		// History keeps what was said.
		expect((await a.request("history", { with: "X" })).messages).toHaveLength(2);
	});

	it("refuses without the secret, with a wrong one, for unknown IDs and bad names, each with its code", async () => {
		const { url } = await hubWith();
		const secrets = memorySecrets();
		await (await client(url, "Y", { secrets })).close();
		const r = await raw(url);
		expect((await r.request({ type: "forget", session: "Y" })).code).toBe(ErrorCode.FORBIDDEN);
		expect((await r.request({ type: "forget", session: "Y", secret: "w".repeat(43) })).code).toBe(ErrorCode.FORBIDDEN);
		expect((await r.request({ type: "forget", session: "Noone" })).code).toBe(ErrorCode.NOT_FOUND);
		expect((await r.request({ type: "forget", session: "../etc" })).code).toBe(ErrorCode.BAD_ID);
		expect((await r.request({ type: "forget", session: "Y", room: "bad room" })).code).toBe(ErrorCode.BAD_ID);
		// Still there, and the connection is still usable.
		expect((await r.request({ type: "forget", session: "Y", secret: secrets.load("default", "Y") })).type).toBe("result");
	});

	it("mail queued for a name nobody claimed can be forgotten on a hub without a token", async () => {
		const { url, hub } = await hubWith();
		const a = await client(url, "A");
		await a.send("Typo", "lost in the void");
		const r = await raw(url);
		expect((await r.request({ type: "forget", session: "Typo" })).result).toMatchObject({ existed: false, pending: 1 });
		expect(await hub.store.countPending("default", "Typo")).toBe(0);
	});

	it("is refused for a live holder (E_SESSION_ONLINE); with force, holder and observers are closed (4009) and stop", async () => {
		const { url, hub } = await hubWith();
		const secrets = memorySecrets();
		const holder = await client(url, "Live", { secrets });
		const secret = secrets.load("default", "Live");
		const observer = await raw(url);
		expect((await observer.request({ type: "hello", session: "Live", secret, observer: true })).type).toBe("result");
		const r = await raw(url);
		const refused = await r.request({ type: "forget", session: "Live", secret });
		expect(refused.code).toBe(ErrorCode.SESSION_ONLINE);
		expect(String(refused.message)).toMatch(/force/);
		const fatal = new Promise<{ code: string; message: string }>((resolve) => holder.once("fatal", resolve));
		const forced = await r.request({ type: "forget", session: "Live", secret, force: true });
		expect(forced.result).toMatchObject({ existed: true, closed: 2 });
		expect((await observer.waitClosed()).code).toBe(CloseCode.FORGOTTEN);
		const err = await fatal;
		expect(err.message).toMatch(/forgot session Live/);
		// The bridge's client does not claim it again.
		await new Promise((res) => setTimeout(res, 300));
		expect(await hub.store.getSession("default", "Live")).toBeNull();
		expect(hub.presence.size).toBe(0);
	});

	it("on a token hub: the token in the frame forgets any ID; a wrong one closes (4001); at the upgrade alone it is not enough", async () => {
		const token = "t".repeat(32);
		const { url, hub } = await hubWith({ token });
		const secrets = memorySecrets();
		await (await client(url, "Z", { secrets, token })).close();
		await (await client(url, "W", { secrets, token })).close();

		const anon = await raw(url); // no token at the upgrade
		expect((await anon.request({ type: "forget", session: "Z", secret: secrets.load("default", "Z") })).code).toBe(ErrorCode.AUTH);
		expect((await anon.waitClosed()).code).toBe(CloseCode.AUTH);

		const withUpgradeToken = new RawClient(`${url}/?token=${token}`);
		cleanups.push(() => withUpgradeToken.close());
		await withUpgradeToken.opened();
		expect((await withUpgradeToken.request({ type: "forget", session: "Z" })).code).toBe(ErrorCode.FORBIDDEN);
		expect((await withUpgradeToken.request({ type: "forget", session: "Z", secret: secrets.load("default", "Z") })).type).toBe("result");

		const admin = await raw(url);
		expect((await admin.request({ type: "forget", session: "W", token })).result).toMatchObject({ existed: true });
		expect(await hub.store.getSession("default", "W")).toBeNull();
		const bad = await raw(url);
		expect((await bad.request({ type: "forget", session: "W", token: "x".repeat(32) })).code).toBe(ErrorCode.AUTH);
		expect((await bad.waitClosed()).code).toBe(CloseCode.AUTH);
	});
});
