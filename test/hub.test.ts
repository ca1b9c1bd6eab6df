/**
 * The hub against real sockets on an ephemeral port: delivery, rooms, offline queues, inbox paging,
 * idempotency, ID claims, presence, and every error code from real bad input.
 */
import { afterEach, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import type { HubClient } from "../mcp-client/hub-client.js";
import { CloseCode, ErrorCode } from "../server/errors.js";
import { Hub, HubConfigError } from "../server/hub.js";
import type { Message } from "../server/protocol.js";
import { createStore } from "../server/store/index.js";
import { connectClient, connectCollecting, memorySecrets, RawClient, startHub, type TestHub } from "./fixtures/hub.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

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
function raw(url: string, opts?: WebSocket.ClientOptions): RawClient {
	const r = new RawClient(url, opts);
	cleanups.push(() => r.close());
	return r;
}
function collect(c: HubClient): Message[] {
	const got: Message[] = [];
	c.on("message", (m) => got.push(m));
	return got;
}
async function until(pred: () => boolean, timeoutMs = 3_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!pred()) {
		if (Date.now() > deadline) throw new Error("condition not met in time");
		await new Promise((r) => setTimeout(r, 10));
	}
}

describe("delivery", () => {
	it("pushes a direct message live and reports it as live", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const b = await client(url, "B");
		const got = collect(b);
		const res = await a.send("B", "hello B");
		expect(res.live).toEqual(["B"]);
		expect(res.queued).toEqual([]);
		expect(res.duplicate).toBe(false);
		expect(res.message.from).toBe("A");
		await until(() => got.length === 1);
		expect(got[0]?.body).toBe("hello B");
		expect(got[0]?.id).toBe(res.message.id);
	});

	it("broadcasts to every other session in the room, online or not, and not to the sender", async () => {
		const { url } = await hubWith();
		const secrets = memorySecrets();
		const a = await client(url, "A");
		const b = await client(url, "B");
		const c = await client(url, "C", { secrets });
		await c.close();
		const gotA = collect(a);
		const gotB = collect(b);
		const res = await a.send("*", "to all");
		expect(res.live).toEqual(["B"]);
		expect(res.queued).toEqual(["C"]);
		await until(() => gotB.length === 1);
		const c2 = await client(url, "C", { secrets });
		const inbox = await c2.request("inbox", { peek: true });
		expect(inbox.messages.map((m) => m.body)).toEqual(["to all"]);
		expect(gotA).toHaveLength(0);
	});

	it("keeps rooms isolated", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A", { room: "red" });
		const b = await client(url, "B", { room: "blue" });
		const b2 = await client(url, "B2", { room: "red" });
		const gotB = collect(b);
		const gotB2 = collect(b2);
		await a.send("*", "red only");
		await until(() => gotB2.length === 1);
		const peers = await a.request("peers", {});
		expect(peers.peers.map((p) => p.session)).toEqual(["B2"]);
		// B exists only in blue: a direct send from red queues for an unknown red B, with a warning.
		const res = await a.send("B", "wrong room");
		expect(res.warnings.map((w) => w.code)).toContain("W_UNKNOWN_RECIPIENT");
		await new Promise((r) => setTimeout(r, 100));
		expect(gotB).toHaveLength(0);
		const hist = await b.request("history", {});
		expect(hist.messages).toHaveLength(0);
	});

	it("queues for an offline session and replays everything unacked, in order, on reconnect", async () => {
		const { url } = await hubWith();
		const secrets = memorySecrets();
		const b = await client(url, "B", { secrets });
		await b.close();
		const a = await client(url, "A");
		for (let i = 0; i < 30; i++) {
			const r = await a.send("B", `m${i}`);
			expect(r.queued).toEqual(["B"]);
		}
		await a.send("*", "broadcast while away");
		const b2 = new (await import("../mcp-client/hub-client.js")).HubClient({ url, session: "B", secrets, keepaliveMs: 0 });
		cleanups.push(() => b2.close({ bye: false }));
		const got = collect(b2);
		const hello = await b2.waitReady();
		expect(hello.pending).toBe(31);
		await until(() => got.length === 31);
		expect(got.map((m) => m.body)).toEqual([...Array.from({ length: 30 }, (_, i) => `m${i}`), "broadcast while away"]);
		const seqs = got.map((m) => m.seq);
		expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
	});

	it("a reconnect replays only what was not acked", async () => {
		const { url } = await hubWith();
		const secrets = memorySecrets();
		const a = await client(url, "A");
		const b = await client(url, "B", { secrets });
		const got = collect(b);
		for (let i = 0; i < 5; i++) await a.send("B", `n${i}`);
		await until(() => got.length === 5);
		await b.ack(got.slice(0, 3).map((m) => m.id));
		await b.close({ bye: false });
		const { client: b2, got: got2 } = await connectCollecting(url, "B", { secrets });
		cleanups.push(() => b2.close({ bye: false }));
		await until(() => got2.length === 2);
		expect(got2.map((m) => m.body)).toEqual(["n3", "n4"]);
	});
});

describe("inbox", () => {
	it("never skips: 25 queued, limit 10, three reads return all 25 in order", async () => {
		const { url } = await hubWith();
		const secrets = memorySecrets();
		const b = await client(url, "B", { secrets });
		await b.close();
		const a = await client(url, "A");
		for (let i = 0; i < 25; i++) await a.send("B", `x${i}`);
		const b2 = await client(url, "B", { secrets });
		const pages = [];
		for (let i = 0; i < 3; i++) pages.push(await b2.request("inbox", { limit: 10 }));
		expect(pages.map((p) => p.messages.length)).toEqual([10, 10, 5]);
		expect(pages.map((p) => p.remaining)).toEqual([15, 5, 0]);
		expect(pages.flatMap((p) => p.messages.map((m) => m.body))).toEqual(Array.from({ length: 25 }, (_, i) => `x${i}`));
		const empty = await b2.request("inbox", { limit: 10 });
		expect(empty.messages).toHaveLength(0);
	});

	it("peek reads without acking; ack then removes exactly those", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const b = await client(url, "B");
		for (let i = 0; i < 4; i++) await a.send("B", `p${i}`);
		const peek1 = await b.request("inbox", { limit: 2, peek: true });
		const peek2 = await b.request("inbox", { limit: 2, peek: true });
		expect(peek1.messages.map((m) => m.id)).toEqual(peek2.messages.map((m) => m.id));
		expect(peek1.acked).toBe(false);
		expect(peek1.remaining).toBe(2);
		const acked = await b.ack(peek1.messages.map((m) => m.id));
		expect(acked.acked).toBe(2);
		const rest = await b.request("inbox", { peek: true });
		expect(rest.messages.map((m) => m.body)).toEqual(["p2", "p3"]);
	});

	it("filters by sender", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const c = await client(url, "C");
		const b = await client(url, "B");
		await a.send("B", "from a");
		await c.send("B", "from c");
		const onlyC = await b.request("inbox", { from: "C", peek: true });
		expect(onlyC.messages.map((m) => m.body)).toEqual(["from c"]);
	});
});

describe("retention", () => {
	it("never breaks a cursor silently: lost messages are counted at hello and history says truncated", async () => {
		const { url, hub } = await hubWith({ retentionMaxMessages: 3, retentionDays: 0 });
		const secrets = memorySecrets();
		const b = await client(url, "B", { secrets });
		await b.close();
		const a = await client(url, "A");
		const sent = [];
		for (let i = 0; i < 5; i++) sent.push(await a.send("B", `r${i}`));
		const result = await hub.runRetention();
		expect(result).toEqual({ deletedMessages: 2, lostDeliveries: 2, forgottenSessions: 0, forgottenDeliveries: 0 });
		const { client: b2, got } = await connectCollecting(url, "B", { secrets });
		cleanups.push(() => b2.close({ bye: false }));
		expect(b2.hello?.lost).toBe(2);
		expect(b2.hello?.pending).toBe(3);
		await until(() => got.length === 3);
		expect(got.map((m) => m.body)).toEqual(["r2", "r3", "r4"]);
		const page = await b2.request("history", { with: "A" });
		expect(page.truncated).toBe(true);
		expect(page.oldestSeq).toBe(sent[2]?.message.seq);
		const fromCursor = await b2.request("history", { after: sent[0]?.message.seq });
		expect(fromCursor.truncated).toBe(true);
		const fresh = await b2.request("history", { after: sent[3]?.message.seq });
		expect(fresh.truncated).toBe(false);
		// The count is reported once.
		await b2.close({ bye: false });
		const b3 = await client(url, "B", { secrets });
		expect(b3.hello?.lost).toBe(0);
	});
});

describe("client library honesty", () => {
	it("a send written but never answered is E_TIMEOUT ('may have been applied'), not 'unreachable'", async () => {
		const { url, port, hub } = await hubWith();
		const { ReplyDroppingProxy } = await import("./fixtures/bridge.js");
		const proxy = await ReplyDroppingProxy.start(port);
		cleanups.push(() => proxy.close());
		await client(url, "B");
		const a = await client(proxy.url, "A", { requestTimeoutMs: 1_500, minReconnectDelayMs: 5_000, maxReconnectDelayMs: 5_000 });
		proxy.dropReplyTo("lost-answer");
		// The proxy forwards the frame, then cuts the connection: the hub stores it, the answer is lost.
		const attempt = a.send("B", "lost-answer");
		await until(() => proxy.dropped === 1);
		await proxy.close(); // and the hub stays unreachable through it, so the retry cannot happen in time
		await expect(attempt).rejects.toMatchObject({ code: ErrorCode.TIMEOUT, message: expect.stringMatching(/may or may not have been applied/) });
		expect(await hub.store.countPending("default", "B")).toBe(1);
	});

	it("a fast loop over the frame rate lands everything once, in order, with no error", async () => {
		const { url } = await hubWith({ rateLimitPerSecond: 20, rateLimitBurst: 10 });
		const b = await client(url, "B");
		const a = await client(url, "A", { requestTimeoutMs: 10_000 });
		const got = collect(b);
		const results = await Promise.all(Array.from({ length: 40 }, (_, i) => a.send("B", `fast ${i}`)));
		expect(results.every((r) => !r.duplicate)).toBe(true);
		await until(() => got.length === 40, 5_000);
		expect(got.map((m) => m.body)).toEqual(Array.from({ length: 40 }, (_, i) => `fast ${i}`));
	});

	it("a request that never reached a hub is E_UNREACHABLE with the fix", async () => {
		const { freePort } = await import("./fixtures/processes.js");
		const port = await freePort();
		const { HubClient } = await import("../mcp-client/hub-client.js");
		const c = new HubClient({ url: `ws://127.0.0.1:${port}`, session: "A", reconnect: false, requestTimeoutMs: 1_000, keepaliveMs: 0 });
		cleanups.push(() => c.close({ bye: false }));
		await expect(c.request("ping", {})).rejects.toMatchObject({ code: ErrorCode.UNREACHABLE, message: expect.stringMatching(/Is the hub running/) });
	});
});

describe("idempotency", () => {
	it("a retried send with the same key is stored once", async () => {
		const { url, hub } = await hubWith();
		const a = await client(url, "A");
		const b = await client(url, "B");
		const got = collect(b);
		const first = await a.send("B", "once", { key: "k-1" });
		const again = await a.send("B", "once", { key: "k-1" });
		expect(again.duplicate).toBe(true);
		expect(again.message.id).toBe(first.message.id);
		const stats = await hub.store.stats();
		expect(stats.messages).toBe(1);
		await new Promise((r) => setTimeout(r, 100));
		expect(got).toHaveLength(1);
	});
});

describe("ID claims", () => {
	it("mints a secret on first claim and requires it afterwards", async () => {
		const { url } = await hubWith();
		const r1 = raw(url);
		await r1.opened();
		const hello = await r1.request({ type: "hello", session: "CC-1" });
		const secret = (hello.result as { secret: string }).secret;
		expect(secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
		r1.close();
		await new Promise((r) => setTimeout(r, 50));
		const r2 = raw(url);
		await r2.opened();
		const noSecret = await r2.request({ type: "hello", session: "CC-1" });
		expect(noSecret.code).toBe(ErrorCode.ID_TAKEN);
		const wrong = await r2.request({ type: "hello", session: "CC-1", secret: "nope" });
		expect(wrong.code).toBe(ErrorCode.ID_TAKEN);
		const ok = await r2.request({ type: "hello", session: "CC-1", secret });
		expect(ok.type).toBe("result");
		expect((ok.result as { secret?: string }).secret).toBeUndefined();
	});

	it("adopts a secret brought to a first claim (from another hub) and returns none; a weak one is not adopted", async () => {
		const { url } = await hubWith();
		const brought = `${"x".repeat(10)}${"A1_-".repeat(10)}zzz`; // 53 base64url characters
		const r1 = raw(url);
		await r1.opened();
		const first = await r1.request({ type: "hello", session: "CC-7", secret: brought });
		expect(first.type).toBe("result");
		expect((first.result as { secret?: string }).secret).toBeUndefined();
		r1.close();
		await new Promise((r) => setTimeout(r, 50));
		const r2 = raw(url);
		await r2.opened();
		expect((await r2.request({ type: "hello", session: "CC-7" })).code).toBe(ErrorCode.ID_TAKEN);
		expect((await r2.request({ type: "hello", session: "CC-7", secret: brought })).type).toBe("result");

		// Too short to be one we would mint: a fresh secret is minted and the short one does not work.
		const r3 = raw(url);
		await r3.opened();
		const weak = await r3.request({ type: "hello", session: "CC-8", secret: "short" });
		const minted = (weak.result as { secret: string }).secret;
		expect(minted).toMatch(/^[A-Za-z0-9_-]{43}$/);
		r3.close();
		await new Promise((r) => setTimeout(r, 50));
		const r4 = raw(url);
		await r4.opened();
		expect((await r4.request({ type: "hello", session: "CC-8", secret: "short" })).code).toBe(ErrorCode.ID_TAKEN);
		expect((await r4.request({ type: "hello", session: "CC-8", secret: minted })).type).toBe("result");
	});

	it("one client secret store, one ID, two hubs: each hub keeps accepting the ID", async () => {
		const one = await hubWith();
		const two = await hubWith();
		const secrets = memorySecrets();
		for (const url of [one.url, two.url, one.url, two.url]) {
			const c = await client(url, "CC-9", { secrets });
			await c.close();
		}
	});

	it("refuses a newcomer while the holder answers pings", async () => {
		const { url } = await hubWith({ livenessProbeMs: 300 });
		const secrets = memorySecrets();
		const holder = await client(url, "CC-2", { secrets });
		const r = raw(url);
		await r.opened();
		const res = await r.request({ type: "hello", session: "CC-2", secret: secrets.load("default", "CC-2") });
		expect(res.code).toBe(ErrorCode.ID_TAKEN);
		expect(String(res.message)).toMatch(/in use by a live connection/);
		expect(holder.ready).toBe(true);
		expect((await holder.request("ping", {})).time).toBeGreaterThan(0);
	});

	it("a reconnecting client refused for a live holder reports it, then gets the ID once the holder leaves", async () => {
		const { url } = await hubWith({ livenessProbeMs: 200 });
		const secrets = memorySecrets();
		const holder = await client(url, "CC-9", { secrets });
		const second = new (await import("../mcp-client/hub-client.js")).HubClient({ url, session: "CC-9", secrets, keepaliveMs: 0, idTakenRetryMs: 100, minReconnectDelayMs: 50 });
		cleanups.push(() => second.close({ bye: false }));
		await expect(second.waitReady(3_000)).rejects.toMatchObject({ code: ErrorCode.ID_TAKEN });
		expect(second.lastError?.code).toBe(ErrorCode.ID_TAKEN);
		await holder.close();
		const hello = await new Promise((resolve) => second.once("ready", resolve));
		expect(hello).toMatchObject({ session: "CC-9" });
		expect(second.lastError).toBeNull();
	});

	it("lets a newcomer take over from a holder that no longer answers", async () => {
		const { url } = await hubWith({ livenessProbeMs: 200 });
		// A holder whose client does not answer pings: a frozen process or a dead link.
		const frozen = raw(url, { autoPong: false });
		await frozen.opened();
		const first = await frozen.request({ type: "hello", session: "CC-3" });
		const secret = (first.result as { secret: string }).secret;
		const r = raw(url);
		await r.opened();
		const res = await r.request({ type: "hello", session: "CC-3", secret });
		expect(res.type).toBe("result");
		const closed = await frozen.waitClosed();
		expect([CloseCode.REPLACED, 1006]).toContain(closed.code);
	});

	it("refuses invalid and reserved IDs with E_BAD_ID", async () => {
		const { url } = await hubWith();
		const r = raw(url);
		await r.opened();
		for (const bad of ["all", "ALL", "system", "../etc", "a/b", "9lives", "-x", "with space", "tab\there", "x".repeat(65), "", "é"]) {
			const res = await r.request({ type: "hello", session: bad });
			expect(res.code, bad).toBe(ErrorCode.BAD_ID);
		}
		const badRoom = await r.request({ type: "hello", session: "ok", room: "../../tmp" });
		expect(badRoom.code).toBe(ErrorCode.BAD_ID);
	});

	it("an observer attaches beside the holder, sees pushes and shares the inbox, without presence", async () => {
		const { url } = await hubWith();
		const secrets = memorySecrets();
		const a = await client(url, "A");
		const joined: string[] = [];
		a.on("peer_joined", (p) => joined.push(p.session));
		const b = await client(url, "B", { secrets });
		await until(() => joined.length === 1);
		joined.length = 0;
		const obs = await client(url, "B", { secrets, observer: true });
		const got = collect(obs);
		await a.send("B", "seen by both");
		await until(() => got.length === 1);
		const taken = await obs.request("inbox", {});
		expect(taken.messages.map((m) => m.body)).toEqual(["seen by both"]);
		const left = await b.request("inbox", { peek: true });
		expect(left.messages).toHaveLength(0);
		expect(joined).toEqual([]);
		expect((await a.request("peers", {})).peers.map((p) => p.session)).toEqual(["B"]);
	});
});

describe("presence and queries", () => {
	it("announces joins and leaves, lists peers with metadata and sessions with offline ones", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const events: string[] = [];
		a.on("peer_joined", (p) => events.push(`+${p.session}`));
		a.on("peer_left", (p) => events.push(`-${p.session}:${p.reason}`));
		const b = await client(url, "B", { meta: { host: "box", cwd: "/w", branch: "main", pid: 42 } });
		await until(() => events.length === 1);
		const peers = await a.request("peers", {});
		expect(peers.peers[0]?.meta).toMatchObject({ host: "box", cwd: "/w", branch: "main", pid: 42 });
		expect(peers.peers[0]?.idleMs).toBeGreaterThanOrEqual(0);
		await b.close();
		await until(() => events.length === 2);
		expect(events).toEqual(["+B", "-B:bye"]);
		const sessions = await a.request("sessions", {});
		const byId = Object.fromEntries(sessions.sessions.map((s) => [s.session, s]));
		expect(byId.A?.online).toBe(true);
		expect(byId.B?.online).toBe(false);
	});

	it("presence frames go only to connections that asked for them (HelloRequest.presence)", async () => {
		const { url } = await hubWith();
		const quiet = await client(url, "Q", { presence: false });
		const listening = await client(url, "L", { presence: true });
		const heard: string[] = [];
		const quietHeard: string[] = [];
		listening.on("peer_joined", (p) => heard.push(`+${p.session}`));
		listening.on("peer_left", (p) => heard.push(`-${p.session}`));
		quiet.on("peer_joined", (p) => quietHeard.push(`+${p.session}`));
		quiet.on("peer_left", (p) => quietHeard.push(`-${p.session}`));
		// A raw client that says nothing about presence gets it, as before the option existed.
		const old = raw(url);
		await old.opened();
		await old.request({ type: "hello", id: "h", session: "OLD" });
		const c = await client(url, "C", { presence: false });
		await c.close();
		await until(() => heard.length === 3 && old.frames.filter((f) => f.type === "peer_left").length === 1);
		expect(heard).toEqual(["+OLD", "+C", "-C"]);
		expect(old.frames.filter((f) => f.type === "peer_joined" || f.type === "peer_left").map((f) => f.type)).toEqual(["peer_joined", "peer_left"]);
		// The quiet one still sees them all in `peers`, and heard nothing.
		expect((await quiet.request("peers", {})).peers.map((p) => p.session).sort()).toEqual(["L", "OLD"]);
		expect(quietHeard).toEqual([]);
	});

	it("a hello lists at most `peers` (default --hello-peers) online peers and says how many there are; `peers` pages them in ID order", async () => {
		const { url } = await hubWith({ helloPeers: 3 });
		const ids = ["P5", "P1", "P4", "P2", "P6", "P3"];
		for (const id of ids) await client(url, id, { presence: false });
		const dflt = await client(url, "ZZ");
		expect(dflt.hello?.peers.map((p) => p.session)).toEqual(["P5", "P1", "P4"]);
		expect(dflt.hello?.peersTotal).toBe(6);
		const none = await client(url, "Z0", { helloPeers: 0 });
		expect(none.hello?.peers).toEqual([]);
		expect(none.hello?.peersTotal).toBe(7);
		const all = await client(url, "Z1", { helloPeers: 500 });
		expect(all.hello?.peers).toHaveLength(8);
		expect(all.hello?.peersTotal).toBe(8);
		// Paging: every peer once, in ID order, the asker left out.
		const seen: string[] = [];
		let cursor: string | undefined;
		for (let pages = 0; ; pages++) {
			const page = await none.request("peers", { limit: 3, ...(cursor !== undefined ? { cursor } : {}) });
			expect(page.total).toBe(8);
			seen.push(...page.peers.map((p) => p.session));
			if (!page.hasMore) {
				expect(page.nextCursor).toBeNull();
				break;
			}
			cursor = page.nextCursor ?? undefined;
			expect(pages).toBeLessThan(5);
		}
		expect(seen).toEqual(["P1", "P2", "P3", "P4", "P5", "P6", "Z1", "ZZ"]);
		// A peer that leaves is no longer counted.
		await dflt.close();
		await expect.poll(async () => (await none.request("peers", { limit: 1 })).total).toBe(7);
		const raw0 = raw(url);
		await raw0.opened();
		const bad = await raw0.request({ type: "hello", id: "h", session: "BAD", peers: 501 });
		expect(bad).toMatchObject({ type: "error", code: ErrorCode.BAD_FRAME });
	});

	it("history shows conversations paged by seq and hides others' direct messages", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const b = await client(url, "B");
		const c = await client(url, "C");
		for (let i = 0; i < 6; i++) await a.send("B", `ab${i}`);
		await b.send("A", "ba");
		await c.send("B", "cb secret");
		await a.send("*", "all");
		const withB = await a.request("history", { with: "B", limit: 4 });
		expect(withB.messages.map((m) => m.body)).toEqual(["ab3", "ab4", "ab5", "ba"]);
		expect(withB.hasMore).toBe(true);
		const older = await a.request("history", { with: "B", limit: 4, before: withB.messages[0]?.seq });
		expect(older.messages.map((m) => m.body)).toEqual(["ab0", "ab1", "ab2"]);
		expect(older.hasMore).toBe(false);
		const room = await a.request("history", { limit: 50 });
		expect(room.messages.map((m) => m.body)).not.toContain("cb secret");
		expect(room.messages.map((m) => m.body)).toContain("all");
		const get = await a.request("get", { message: withB.messages[0]?.id as string });
		expect(get.message.body).toBe("ab3");
	});

	it("answers GET /sessions over HTTP, behind the token when there is one", async () => {
		const token = "t0ken-t0ken-t0ken-t0ken";
		const { port, url } = await hubWith({ token });
		const a = await client(url, "A", { token, meta: { host: "h1", cwd: "/a" } });
		const b = await client(url, "B", { token });
		await b.close();
		expect((await fetch(`http://127.0.0.1:${port}/sessions`)).status).toBe(401);
		const res = await fetch(`http://127.0.0.1:${port}/sessions`, { headers: { authorization: `Bearer ${token}` } });
		const body = (await res.json()) as { room: string; sessions: Array<{ session: string; online: boolean; meta: { host?: string } }> };
		expect(body.room).toBe("default");
		expect(body.sessions.map((s) => [s.session, s.online])).toEqual([
			["A", true],
			["B", false],
		]);
		expect(body.sessions[0]?.meta.host).toBe("h1");
		expect((await fetch(`http://127.0.0.1:${port}/sessions?room=../x&token=${token}`)).status).toBe(400);
		expect(a.ready).toBe(true);
	});

	it("answers GET /healthz with JSON", async () => {
		const { port } = await hubWith();
		const res = await fetch(`http://127.0.0.1:${port}/healthz`);
		expect(res.status).toBe(200);
		const body = (await res.json()) as Record<string, unknown>;
		expect(body).toMatchObject({ ok: true, store: "memory", sessionsOnline: 0 });
		expect(typeof body.version).toBe("string");
	});
});

describe("errors from real bad input (the connection lives on)", () => {
	async function registered(url: string, session = "R"): Promise<RawClient> {
		const r = raw(url);
		await r.opened();
		const hello = await r.request({ type: "hello", session });
		expect(hello.type).toBe("result");
		return r;
	}

	it("E_BAD_FRAME for malformed JSON, binary frames, non-objects, wrong field types", async () => {
		const { url } = await hubWith();
		const r = await registered(url);
		r.sendRaw("{not json");
		expect(await r.next((f) => f.type === "error")).toMatchObject({ code: ErrorCode.BAD_FRAME, id: null });
		r.sendRaw(Buffer.from([1, 2, 3]), true);
		expect(await r.next((f) => f.type === "error")).toMatchObject({ code: ErrorCode.BAD_FRAME });
		r.sendRaw("[1,2]");
		expect(await r.next((f) => f.type === "error")).toMatchObject({ code: ErrorCode.BAD_FRAME });
		const wrongType = await r.request({ type: "send", to: "X", body: 42 });
		expect(wrongType).toMatchObject({ type: "error", code: ErrorCode.BAD_FRAME });
		expect(String(wrongType.message)).toMatch(/body/);
		const missing = await r.request({ type: "send", body: "no to" });
		expect(missing.code).toBe(ErrorCode.BAD_FRAME);
		expect((await r.request({ type: "ping" })).type).toBe("result");
	});

	it("E_UNKNOWN_TYPE for a type the hub does not know", async () => {
		const { url } = await hubWith();
		const r = await registered(url);
		expect((await r.request({ type: "frobnicate" })).code).toBe(ErrorCode.UNKNOWN_TYPE);
	});

	it("E_TOO_LARGE for an oversized frame and an oversized body; the socket stays open", async () => {
		const { url } = await hubWith({ maxFrameBytes: 4096, maxBodyBytes: 1024 });
		const r = await registered(url);
		const big = await r.request({ type: "send", to: "X", body: "y".repeat(5000) });
		expect(big.code).toBe(ErrorCode.TOO_LARGE);
		const body = await r.request({ type: "send", to: "X", body: "é".repeat(600) });
		expect(body.code).toBe(ErrorCode.TOO_LARGE);
		expect((await r.request({ type: "ping" })).type).toBe("result");
	});

	it("E_NOT_REGISTERED before hello, E_ALREADY_REGISTERED on a second hello", async () => {
		const { url } = await hubWith();
		const r = raw(url);
		await r.opened();
		expect((await r.request({ type: "send", to: "B", body: "x" })).code).toBe(ErrorCode.NOT_REGISTERED);
		await r.request({ type: "hello", session: "Q" });
		expect((await r.request({ type: "hello", session: "Q2" })).code).toBe(ErrorCode.ALREADY_REGISTERED);
	});

	it("E_BAD_TARGET for bad recipients, self-sends, bad topic names and bad lists", async () => {
		const { url } = await hubWith();
		const r = await registered(url, "Mio");
		for (const to of ["../x", "bad id", "#", "#../x", "#a/b", "#a..b", "#x y", "Mio", "all", "", "x\u0000y", "A,Mio", "A,,B", "A,*", "A,#t", ["A", "Mio"], ["*"]]) {
			const res = await r.request({ type: "send", to, body: "x" });
			expect(res.code, JSON.stringify(to)).toBe(ErrorCode.BAD_TARGET);
		}
	});

	it("E_NOT_FOUND for a message one may not read", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		await client(url, "B");
		const c = await client(url, "C");
		const sent = await a.send("B", "private");
		await expect(c.request("get", { message: sent.message.id })).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
		await expect(c.request("get", { message: "m-999-zzzzzz" })).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
	});

	it("past the burst, frames are held and answered in order, never refused", async () => {
		const { url } = await hubWith({ rateLimitPerSecond: 50, rateLimitBurst: 5 });
		const r = await registered(url);
		const order: unknown[] = [];
		r.ws.on("message", (data) => order.push(JSON.parse(String(data)).id));
		const started = Date.now();
		for (let i = 0; i < 30; i++) r.sendRaw(JSON.stringify({ type: "ping", id: `f${i}` }));
		const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => r.next((f) => f.id === `f${i}`, 5_000)));
		expect(answers.every((f) => f.type === "result")).toBe(true);
		// Answers leave in the order the frames came.
		expect(order).toEqual(Array.from({ length: 30 }, (_, i) => `f${i}`));
		// 25 frames past a burst of 5 at 50/s: they were spread over about half a second, not answered at once.
		expect(Date.now() - started).toBeGreaterThanOrEqual(400);
	});

	it("a sender over the frame rate keeps its order: every send lands once, in order", async () => {
		const { url } = await hubWith({ rateLimitPerSecond: 100, rateLimitBurst: 10 });
		const b = await client(url, "B");
		const got = collect(b);
		const r = await registered(url, "A");
		for (let i = 0; i < 60; i++) r.sendRaw(JSON.stringify({ type: "send", id: `s${i}`, to: "B", body: `n${i}`, key: `k${i}` }));
		await until(() => got.length === 60, 10_000);
		expect(got.map((m) => m.body)).toEqual(Array.from({ length: 60 }, (_, i) => `n${i}`));
		expect(r.frames.filter((f) => f.type === "error")).toEqual([]);
	});

	it("a connection that stops reading its answers stops being read, and catches up when it reads again", async () => {
		const { url, hub } = await hubWith({ sendBufferHighBytes: 64 * 1024, rateLimitPerSecond: 100_000, rateLimitBurst: 100_000, slowConsumerMs: 60_000 });
		const a = await client(url, "A");
		for (let i = 0; i < 40; i++) await a.send("Reader", "x".repeat(30_000));
		const r = await registered(url, "Reader");
		const socket = (r.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
		socket.pause();
		// Each inbox answer is ~1.2 MB; 50 of them would be 60 MB in the hub's send buffer if it kept reading.
		for (let i = 0; i < 50; i++) r.sendRaw(JSON.stringify({ type: "inbox", id: `i${i}`, peek: true, limit: 40 }));
		await new Promise((res) => setTimeout(res, 500));
		const conn = [...hub.connections].find((c) => c.session?.session === "Reader");
		expect(conn?.gate.throttled).toBe(true);
		// The mark, one answer over it, and what the kernel took before the reader's window closed.
		expect(conn?.ws.bufferedAmount ?? 0).toBeLessThan(64 * 1024 + 2 * 1_300_000);
		socket.resume();
		const last = await r.next((f) => f.id === "i49", 10_000);
		expect(last.type).toBe("result");
	});
});

describe("security", () => {
	it("refuses to start on a non-loopback address without a token", () => {
		expect(() => new Hub({ host: "0.0.0.0", port: 0 }, { store: createStore(":memory:") })).toThrow(HubConfigError);
		expect(() => new Hub({ host: "0.0.0.0", port: 0, token: "short" }, { store: createStore(":memory:") })).toThrow(/16 characters/);
	});

	it("with a token: wrong token at upgrade gets 401; missing token must come in hello or the socket closes", async () => {
		const token = "t0ken-t0ken-t0ken-t0ken";
		const { url } = await hubWith({ token });
		const wrong = raw(`${url}/?token=nope`);
		await expect(wrong.opened()).rejects.toThrow(/401/);
		const bearer = raw(url, { headers: { authorization: `Bearer ${token}` } });
		await bearer.opened();
		expect((await bearer.request({ type: "hello", session: "T1" })).type).toBe("result");
		const none = raw(url);
		await none.opened();
		expect((await none.request({ type: "ping" })).code).toBe(ErrorCode.AUTH);
		expect((await none.waitClosed()).code).toBe(CloseCode.AUTH);
		const badHello = raw(url);
		await badHello.opened();
		expect((await badHello.request({ type: "hello", session: "T2", token: "wrong-token-wrong" })).code).toBe(ErrorCode.AUTH);
		expect((await badHello.waitClosed()).code).toBe(CloseCode.AUTH);
		const goodHello = raw(url);
		await goodHello.opened();
		expect((await goodHello.request({ type: "hello", session: "T3", token })).type).toBe("result");
		const viaClient = await client(url, "T4", { token });
		expect(viaClient.ready).toBe(true);
	});

	it("refuses upgrades past the connection cap with 503 once every connection has said hello", async () => {
		const { url } = await hubWith({ maxConnections: 2 });
		const a = raw(url);
		await a.opened();
		expect((await a.request({ type: "hello", session: "CapA" })).type).toBe("result");
		const b = raw(url);
		await b.opened();
		// At the cap, a socket that has not said hello makes room (closed 1013) rather than keep anyone out.
		const c = raw(url);
		await c.opened();
		expect((await b.waitClosed()).code).toBe(CloseCode.TRY_AGAIN);
		expect((await c.request({ type: "hello", session: "CapC" })).type).toBe("result");
		const d = raw(url);
		await expect(d.opened()).rejects.toThrow(/503/);
		expect(a.closed).toBeNull();
	});

	it("closes a connection that never says hello", async () => {
		const { url } = await hubWith({ preHelloTimeoutMs: 200 });
		const r = raw(url);
		await r.opened();
		expect((await r.waitClosed()).code).toBe(CloseCode.HELLO_TIMEOUT);
	});
});

describe("liveness and slow consumers", () => {
	it("terminates a socket that stops answering heartbeats and tells the room", async () => {
		const { url } = await hubWith({ heartbeatMs: 100 });
		const a = await client(url, "A");
		const left: string[] = [];
		a.on("peer_left", (p) => left.push(`${p.session}:${p.reason}`));
		const deaf = raw(url, { autoPong: false });
		await deaf.opened();
		await deaf.request({ type: "hello", session: "Deaf" });
		await deaf.waitClosed(3_000);
		await until(() => left.length === 1);
		expect(left).toEqual(["Deaf:timeout"]);
	});

	it("drops a reader whose send buffer stays full; its messages stay queued for its reconnect", async () => {
		const { url } = await hubWith({ sendBufferHighBytes: 64 * 1024, slowConsumerMs: 300, rateLimitBurst: 100_000, rateLimitPerSecond: 100_000 });
		const slow = raw(url);
		await slow.opened();
		const hello = await slow.request({ type: "hello", session: "Slow" });
		const secret = (hello.result as { secret: string }).secret;
		// Stop reading: the kernel buffers fill, then the hub's send buffer grows past the mark.
		(slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
		const a = await client(url, "A");
		const fast = await client(url, "Fast");
		const gotFast = collect(fast);
		const left: string[] = [];
		fast.on("peer_left", (p) => left.push(`${p.session}:${p.reason}`));
		const body = "z".repeat(60_000);
		for (let i = 0; i < 100; i++) await a.send("*", body);
		// The stalled reader holds nobody up: the fast one got everything.
		await until(() => gotFast.length === 100, 10_000);
		await until(() => left.includes("Slow:slow"), 10_000);
		const back = raw(url);
		await back.opened();
		expect((await back.request({ type: "hello", session: "Slow", secret })).type).toBe("result");
		const waiting = await back.request({ type: "inbox", peek: true, limit: 1 });
		const result = waiting.result as { messages: unknown[]; remaining: number };
		expect(result.messages.length + result.remaining).toBe(100);
	});
});
