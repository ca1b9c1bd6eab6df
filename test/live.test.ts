/**
 * The dashboard's live stream (GET /api/live) on a real hub: every kind of event arrives as it happens; the
 * hub holds no sink and no timer while nobody watches, and lets go of both when the last viewer leaves; a room
 * filter keeps to its room; viewers are capped; one that stops reading is dropped at its bound without
 * slowing the others.
 */
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import { ErrorCode } from "../server/errors.js";
import { connectClient, memorySecrets, startHub, type TestHub } from "./fixtures/hub.js";
import { openLive } from "./fixtures/live.js";

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
	for (const c of cleanups.splice(0).reverse()) await c();
});

async function hub(options: Parameters<typeof startHub>[0] = {}): Promise<TestHub> {
	const h = await startHub(options);
	cleanups.push(() => h.stop());
	return h;
}

async function client(h: TestHub, id: string, extra: Parameters<typeof connectClient>[2] = {}): Promise<HubClient> {
	const c = await connectClient(h.url, id, extra);
	cleanups.push(() => c.close());
	return c;
}

async function live(h: TestHub, opts: Parameters<typeof openLive>[1] = {}) {
	const reader = await openLive(h.port, opts);
	cleanups.push(() => reader.close());
	return reader;
}

async function until(pred: () => boolean, ms = 5_000, what = "condition"): Promise<void> {
	const deadline = Date.now() + ms;
	while (!pred()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 10));
	}
}

describe("GET /api/live", () => {
	it("streams messages, presence, acks (with what still waits), state, claims and health as they happen", async () => {
		const h = await hub({ liveTickMs: 100 });
		const a = await client(h, "Alpha");
		const stream = await live(h);
		expect(stream.status).toBe(200);
		expect((await stream.next((e) => e.event === "hello")).data).toEqual({ operator: "Operator", room: null, tickMs: 100 });
		const health = await stream.next((e) => e.event === "health");
		expect(health.data).toMatchObject({ ok: true, connections: 1, sessionsOnline: 1, store: "memory", viewers: 1 });
		expect(health.data.messagesPerMinute).toHaveLength(60);

		const b = await client(h, "Beta");
		expect((await stream.next((e) => e.event === "joined")).data).toMatchObject({ room: "default", session: "Beta" });
		const sent = await a.request("send", { to: "Beta", body: `<script>alert(1)</script>${"z".repeat(3_000)}` });
		const m = await stream.next((e) => e.event === "message");
		expect(m.data.recipients).toEqual(["Beta"]);
		expect(m.data.message).toMatchObject({ id: sent.message.id, from: "Alpha", to: "Beta", bodyChars: 3_025, truncated: true });
		expect(m.data.message.body).toHaveLength(2_000);
		await b.request("inbox", { limit: 10 });
		expect((await stream.next((e) => e.event === "acked")).data).toEqual({ room: "default", session: "Beta", ids: [sent.message.id], pending: 0 });
		await a.request("state_set", { key: "plan", value: 1 });
		expect((await stream.next((e) => e.event === "state")).data).toMatchObject({ room: "default", key: "plan", version: 1, updatedBy: "Alpha", deleted: false });
		await a.request("claim", { repo: "r", paths: ["src/x.ts"], reason: "why" });
		expect((await stream.next((e) => e.event === "claims")).data).toMatchObject({ session: "Alpha", claimed: [{ path: "src/x.ts", reason: "why" }], released: [] });
		await a.request("release", {});
		expect((await stream.next((e) => e.event === "claims")).data).toMatchObject({ claimed: [], released: [{ path: "src/x.ts" }] });
		await b.close();
		expect((await stream.next((e) => e.event === "left")).data).toMatchObject({ session: "Beta", reason: "bye" });
		// A person's message, through the API, is on the stream like any other, marked.
		await fetch(`http://127.0.0.1:${h.port}/api/send`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ to: "Alpha", body: "hi" }) });
		expect((await stream.next((e) => e.event === "message")).data.message).toMatchObject({ from: "Operator", human: true });
		// And the health ticks go on.
		await stream.next((e) => e.event === "health");
	});

	it("streams receipts (pushed live, pushed from the backlog, seen) and subscription changes", async () => {
		const h = await hub();
		const a = await client(h, "Alpha");
		// Beta's secret is kept, so that it can come back below.
		const secrets = memorySecrets();
		const b = await client(h, "Beta", { secrets });
		const stream = await live(h, { room: "default" });
		await stream.next((e) => e.event === "hello");

		// Pushed live: one event for the turn's pushes, naming the message by seq.
		const sent = await a.request("send", { to: "Beta", body: "look" });
		const pushed = await stream.next((e) => e.event === "pushed");
		expect(pushed.data).toEqual({ room: "default", at: expect.any(Number), pushes: [{ seq: sent.message.seq, recipients: ["Beta"] }] });
		// Seen: the recipient acked it (the receipt its sender gets, from any hub).
		await b.request("ack", { ids: [sent.message.id] });
		const seen = await stream.next((e) => e.event === "receipt");
		expect(seen.data).toEqual({ room: "default", sender: "Alpha", message: sent.message.id, recipient: "Beta", state: "seen", at: expect.any(Number) });

		// Pushed from the backlog: a recipient that was offline connects and is sent what waited.
		await b.close();
		await stream.next((e) => e.event === "left");
		const waiting = await a.request("send", { to: "Beta", body: "while you were away" });
		expect(stream.events.filter((e) => e.event === "pushed")).toEqual([]);
		await client(h, "Beta", { secrets });
		const backlog = await stream.next((e) => e.event === "pushed");
		expect(backlog.data.pushes).toEqual([{ seq: waiting.message.seq, recipients: ["Beta"] }]);

		// Subscriptions: one event per change, none for a subscribe that changes nothing.
		await a.request("subscribe", { topic: "#shop:api" });
		expect((await stream.next((e) => e.event === "subscription")).data).toEqual({
			room: "default",
			session: "Alpha",
			topic: "shop:api",
			subscribed: true,
			at: expect.any(Number),
		});
		await a.request("subscribe", { topic: "shop:api" });
		await a.request("unsubscribe", { topic: "shop:api" });
		expect((await stream.next((e) => e.event === "subscription")).data).toMatchObject({ session: "Alpha", topic: "shop:api", subscribed: false });
		await a.request("unsubscribe", { topic: "shop:api" });
		// A marker after the no-op calls: nothing else about subscriptions came before it.
		await a.request("state_set", { key: "marker", value: 1 });
		await stream.next((e) => e.event === "state");
		expect(stream.events.filter((e) => e.event === "subscription")).toEqual([]);
	});

	it("costs nothing while nobody watches: no sink and no timer before the first viewer or after the last", async () => {
		const h = await hub({ liveTickMs: 50 });
		const a = await client(h, "Alpha");
		await client(h, "Beta");
		expect(h.hub.events.sink).toBeNull();
		expect(h.hub.live.active).toBe(false);
		await a.request("send", { to: "Beta", body: "unwatched" });
		const one = await live(h);
		const two = await live(h);
		await one.next((e) => e.event === "hello");
		expect(h.hub.events.sink).not.toBeNull();
		expect(h.hub.live.active).toBe(true);
		expect(h.hub.live.size).toBe(2);
		one.close();
		await until(() => h.hub.live.size === 1, 5_000, "one viewer gone");
		expect(h.hub.live.active).toBe(true);
		two.close();
		await until(() => h.hub.live.size === 0, 5_000, "every viewer gone");
		expect(h.hub.events.sink).toBeNull();
		expect(h.hub.live.active).toBe(false);
		// Back to silence: a send now reaches no stream and builds nothing for one.
		await a.request("send", { to: "Beta", body: "unwatched again" });
	});

	it("?room= keeps to one room's events", async () => {
		const h = await hub();
		const a = await client(h, "Alpha");
		await client(h, "Beta");
		const ops = await client(h, "Opsie", { room: "ops" });
		const only = await live(h, { room: "ops" });
		await only.next((e) => e.event === "hello");
		await a.request("send", { to: "Beta", body: "in default" });
		await ops.request("send", { to: "*", body: "in ops" });
		expect((await only.next((e) => e.event === "message")).data.message.body).toBe("in ops");
		expect(only.events.filter((e) => e.event === "message")).toEqual([]);
		const bad = await openLive(h.port, { room: "../x" });
		expect(bad.status).toBe(400);
	});

	it("caps viewers (503 with E_LIMIT past --max-viewers) and needs the token on a token hub", async () => {
		const h = await hub({ maxViewers: 2 });
		await live(h);
		await live(h);
		const third = await fetch(`http://127.0.0.1:${h.port}/api/live`);
		expect(third.status).toBe(503);
		expect(((await third.json()) as { error: { code: string } }).error.code).toBe(ErrorCode.LIMIT);
		const t = await hub({ token: "live-test-token-0123456789" });
		expect((await openLive(t.port)).status).toBe(401);
		const ok = await live(t, { token: "live-test-token-0123456789" });
		expect(ok.status).toBe(200);
	});

	it("drops a viewer that stops reading once its unsent output passes the bound; the others keep getting everything", async () => {
		const h = await hub({ viewerBufferBytes: 256 * 1024, rateLimitPerSecond: 100_000, rateLimitBurst: 100_000 });
		const a = await client(h, "Alpha");
		await client(h, "Beta");
		const reading = await live(h);
		// A viewer that sends its request and then never reads a byte (its socket is paused).
		const stalled: Socket = connect({ host: "127.0.0.1", port: h.port });
		cleanups.push(() => stalled.destroy());
		await new Promise<void>((resolve) => stalled.once("connect", () => resolve()));
		stalled.write(`GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:${h.port}\r\n\r\n`);
		stalled.pause();
		await until(() => h.hub.live.size === 2, 5_000, "two viewers");
		let closed = false;
		stalled.on("close", () => {
			closed = true;
		});
		// 2 KB previews, in bursts the reading viewer (in this process) takes in before the next one: enough to
		// fill the kernel's socket buffers of the stalled one, then the hub's bound.
		const body = "b".repeat(2_000);
		let sent = 0;
		const got = () => reading.events.filter((e) => e.event === "message").length;
		while (h.hub.metrics.viewerDrops === 0 && sent < 40_000) {
			await Promise.all(Array.from({ length: 20 }, () => a.request("send", { to: "Beta", body, key: `k${sent++}` })));
			await until(() => got() === sent || h.hub.live.size < 2, 10_000, "the reading viewer to keep up");
		}
		expect(h.hub.metrics.viewerDrops).toBe(1);
		await until(() => h.hub.live.size === 1, 5_000, "the stalled viewer gone");
		// The hub ended it: once it reads again, it finds the end of its stream.
		stalled.resume();
		await until(() => closed, 10_000, "its socket closed");
		// The reading viewer got every message, in order.
		await until(() => got() === sent, 20_000, "every message on the reading stream");
		const seqs = reading.events.filter((e) => e.event === "message").map((e) => e.data.message.seq as number);
		expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
	});
});
