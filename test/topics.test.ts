/**
 * Topics, threads, receipts and several recipients at the hub: real hubs on port 0 (in memory and on a
 * SQLite file), real clients (HubClient) and raw sockets for frames the reference client would never send.
 */
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { HubClient } from "../mcp-client/hub-client.js";
import { ErrorCode, WarningCode } from "../server/errors.js";
import type { ReceiptPush } from "../server/protocol.js";
import { until } from "./fixtures/faults.js";
import { connectClient, connectCollecting, memorySecrets, RawClient, startHub, type TestHub, tempDir } from "./fixtures/hub.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

async function hub(options: Parameters<typeof startHub>[0] = {}, db?: string): Promise<TestHub> {
	const h = await startHub(options, db);
	cleanups.push(() => h.stop());
	return h;
}
async function client(url: string, session: string, extra: Parameters<typeof connectClient>[2] = {}): Promise<HubClient> {
	const c = await connectClient(url, session, extra);
	cleanups.push(() => c.close({ bye: false }));
	return c;
}
async function collecting(url: string, session: string, extra: Parameters<typeof connectCollecting>[2] = {}) {
	const r = await connectCollecting(url, session, extra);
	cleanups.push(() => r.client.close({ bye: false }));
	return r;
}
async function raw(url: string, session: string): Promise<RawClient> {
	const r = new RawClient(url);
	cleanups.push(() => r.close());
	await r.opened();
	const hello = await r.request({ type: "hello", session });
	if (hello.type !== "result") throw new Error(`hello failed: ${JSON.stringify(hello)}`);
	return r;
}

describe("topics at the hub", () => {
	it("a topic send reaches its subscribers only (not a session in the room that did not subscribe), live and on reconnect", async () => {
		const h = await hub();
		const secrets = memorySecrets();
		const a = await client(h.url, "A");
		const b = await collecting(h.url, "B");
		const c = await collecting(h.url, "C");
		const d = await collecting(h.url, "D", { secrets });
		for (const who of [b.client, d.client]) expect((await who.request("subscribe", { topic: "shop:api" })).changed).toBe(true);
		expect(await d.client.request("subscribe", { topic: "#shop:api" })).toMatchObject({ topic: "shop:api", changed: false, topics: ["shop:api"] });
		await d.client.close();

		const sent = await a.send("#shop:api", "the /users response has a cursor now");
		expect(sent.message.to).toBe("#shop:api");
		expect(sent.live).toEqual(["B"]);
		expect(sent.queued).toEqual(["D"]);
		expect(sent.warnings).toEqual([]);
		await until(() => b.got.length === 1, 5_000, "B to get the topic message");
		expect(b.got[0]).toMatchObject({ id: sent.message.id, to: "#shop:api", from: "A", thread: sent.message.id });
		await new Promise((r) => setTimeout(r, 100));
		expect(c.got).toEqual([]);
		expect((await c.client.request("inbox", { peek: true })).messages).toEqual([]);

		// D was offline: it gets it when it comes back, and its subscription was kept (it is the hub's).
		const back = await collecting(h.url, "D", { secrets });
		expect(back.client.hello?.topics).toEqual(["shop:api"]);
		await until(() => back.got.length === 1, 5_000, "D to get the topic message on reconnect");
		expect(back.got[0]?.id).toBe(sent.message.id);
	});

	it("a topic nobody else subscribes to: stored in its log, W_NO_SUBSCRIBERS; the sender's own subscription does not count", async () => {
		const h = await hub();
		const a = await client(h.url, "A");
		await a.request("subscribe", { topic: "lonely" });
		const sent = await a.send("#lonely", "anyone?");
		expect(sent.live).toEqual([]);
		expect(sent.queued).toEqual([]);
		expect(sent.warnings.map((w) => w.code)).toEqual([WarningCode.NO_SUBSCRIBERS]);
		const log = await a.request("history", { topic: "lonely" });
		expect(log.messages.map((m) => m.id)).toEqual([sent.message.id]);
	});

	it("topics lists every topic with its subscribers (online or not), message count and last activity", async () => {
		const h = await hub();
		const a = await client(h.url, "A");
		const b = await client(h.url, "B");
		const c = await client(h.url, "C");
		await a.request("subscribe", { topic: "shop:api" });
		await b.request("subscribe", { topic: "shop:api" });
		await c.request("subscribe", { topic: "build.ci" });
		await c.close();
		const before = Date.now();
		await b.send("#shop:api", "one");
		await b.send("#shop:api", "two");
		const { topics } = await a.request("topics", {});
		expect(topics.map((t) => t.topic)).toEqual(["build.ci", "shop:api"]);
		expect(topics[0]).toMatchObject({ subscribers: [{ session: "C", online: false }], subscribed: false, messages: 0 });
		expect(topics[1]).toMatchObject({
			subscribers: [
				{ session: "A", online: true },
				{ session: "B", online: true },
			],
			subscribed: true,
			messages: 2,
		});
		expect(topics[1]?.lastActivity).toBeGreaterThanOrEqual(before);
		expect((await a.request("unsubscribe", { topic: "shop:api" })).topics).toEqual([]);
		expect((await a.request("topics", {})).topics[1]?.subscribed).toBe(false);
	});

	it("the topic's log is readable by anyone in the room, subscriber or not; history without topic is unchanged", async () => {
		const h = await hub();
		const a = await client(h.url, "A");
		const b = await client(h.url, "B");
		const stranger = await client(h.url, "S");
		await b.request("subscribe", { topic: "t" });
		const m = await a.send("#t", "public in the room");
		expect((await stranger.request("history", { topic: "#t" })).messages.map((x) => x.id)).toEqual([m.message.id]);
		expect((await stranger.request("get", { message: m.message.id })).message.body).toBe("public in the room");
		expect((await stranger.request("history", {})).messages).toEqual([]);
		await expect(stranger.request("history", { topic: "t", with: "A" })).rejects.toMatchObject({ code: ErrorCode.BAD_FRAME });
	});

	it("subscriptions per session are bounded (--max-subscriptions): E_LIMIT, and nothing is stored past the bound", async () => {
		const h = await hub({ maxSubscriptionsPerSession: 3 });
		const a = await client(h.url, "A");
		for (const t of ["a", "b", "c"]) await a.request("subscribe", { topic: t });
		await expect(a.request("subscribe", { topic: "d" })).rejects.toMatchObject({ code: ErrorCode.LIMIT, message: expect.stringMatching(/3 topics/) });
		expect((await a.request("subscribe", { topic: "b" })).changed).toBe(false);
		expect(await h.hub.store.topics.subscriptions("default", "A")).toEqual(["a", "b", "c"]);
		expect((await a.request("topics", {})).topics.map((t) => t.topic)).toEqual(["a", "b", "c"]);
	});

	const badTopics: Array<[string, string]> = [
		["empty", ""],
		["only #", "#"],
		["..", ".."],
		["a..b", "a..b"],
		["slash", "a/b"],
		["backslash", "a\\b"],
		["space", "a b"],
		["NUL", "a\u0000b"],
		["newline", "a\nb"],
		["ANSI escape", "a\u001b[31m"],
		["C1 control", "a\u0085b"],
		["65 characters", "t".repeat(65)],
		["accented", "é"],
		["zero-width space", "a\u200bb"],
		["right-to-left override", "a\u202eb"],
		["a tag", "<channel>"],
		["comma", "a,b"],
		["star", "*"],
	];

	it.each(badTopics)("a bad topic name (%s) gets E_BAD_TARGET everywhere, and changes nothing", async (_what, topic) => {
		const h = await hub();
		const r = await raw(h.url, "Bad");
		await client(h.url, "Good");
		const before = { stats: await h.hub.store.stats(), topics: await h.hub.store.topics.list("default") };
		for (const frame of [
			{ type: "subscribe", topic },
			{ type: "unsubscribe", topic },
			{ type: "history", topic },
			{ type: "send", to: `#${topic}`, body: "x" },
		]) {
			const reply = await r.request(frame);
			expect(reply, JSON.stringify(frame)).toMatchObject({ type: "error", code: ErrorCode.BAD_TARGET });
		}
		expect(await h.hub.store.stats()).toEqual(before.stats);
		expect(await h.hub.store.topics.list("default")).toEqual(before.topics);
		expect(await h.hub.store.topics.subscriptions("default", "Bad")).toEqual([]);
		expect((await r.request({ type: "ping" })).type).toBe("result");
	});

	it("topic names with every allowed character work: letters, digits, _ - . :", async () => {
		const h = await hub();
		const a = await client(h.url, "A");
		const b = await collecting(h.url, "B");
		const name = `Shop_api-v2.0:${"x".repeat(50)}`;
		expect(name.length).toBe(64);
		await b.client.request("subscribe", { topic: name });
		await a.send(`#${name}`, "ok");
		await until(() => b.got.length === 1, 5_000, "B to get it");
		expect(b.got[0]?.to).toBe(`#${name}`);
	});
});

describe("several recipients", () => {
	it("an array or a comma list: one message, a delivery each, `to` normalized; duplicates dropped", async () => {
		const h = await hub();
		const a = await client(h.url, "A");
		const b = await collecting(h.url, "B");
		const c = await collecting(h.url, "C");
		const d = await collecting(h.url, "D");
		const one = await a.send(["B", "C", "B"], "to both");
		expect(one.message.to).toBe("B,C");
		expect(one.live.sort()).toEqual(["B", "C"]);
		const two = await a.send("C , B", "to both again");
		expect(two.message.to).toBe("C,B");
		await until(() => b.got.length === 2 && c.got.length === 2, 5_000, "B and C to get both");
		expect(b.got.map((m) => m.id)).toEqual([one.message.id, two.message.id]);
		expect(c.got.map((m) => m.id)).toEqual([one.message.id, two.message.id]);
		expect(d.got).toEqual([]);
		await expect(d.client.request("get", { message: one.message.id })).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
		// A list of one is a direct message.
		expect((await a.send(["B"], "just B")).message.to).toBe("B");
	});

	it("names the recipients that never connected in one W_UNKNOWN_RECIPIENT", async () => {
		const h = await hub();
		const a = await client(h.url, "A");
		await client(h.url, "B");
		const r = await a.send("B,Ghost1,Ghost2", "hello?");
		expect(r.queued.sort()).toEqual(["Ghost1", "Ghost2"]);
		expect(r.warnings).toEqual([{ code: WarningCode.UNKNOWN_RECIPIENT, message: expect.stringMatching(/^Ghost1, Ghost2 have never connected/) }]);
	});
});

describe("threads at the hub", () => {
	it("a thread of five comes back whole, oldest first, from any of its ids; paged with after", async () => {
		const h = await hub();
		const a = await client(h.url, "A");
		const b = await client(h.url, "B");
		const ids: string[] = [];
		for (let i = 0; i < 5; i++) {
			const [from, to] = i % 2 ? [b, "A"] : [a, "B"];
			ids.push((await from.send(to, `step ${i}`, ids.length ? { replyTo: ids[ids.length - 1] } : {})).message.id);
			await a.send("B", "noise");
		}
		for (const id of ids) {
			const t = await b.request("thread", { message: id });
			expect(t.thread, id).toBe(ids[0]);
			expect(t.messages.map((m) => m.id), id).toEqual(ids);
			expect(t.messages.map((m) => m.from), id).toEqual(["A", "B", "A", "B", "A"]);
			expect(t.hasMore).toBe(false);
		}
		const page = await a.request("thread", { message: ids[4] as string, limit: 3 });
		expect(page.messages.map((m) => m.id)).toEqual(ids.slice(0, 3));
		expect(page.hasMore).toBe(true);
		const rest = await a.request("thread", { message: ids[4] as string, limit: 3, after: page.messages[2]?.seq });
		expect(rest.messages.map((m) => m.id)).toEqual(ids.slice(3));
		expect(rest.hasMore).toBe(false);
		const c = await client(h.url, "C");
		await expect(c.request("thread", { message: ids[2] as string })).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
	});
});

describe("receipts at the hub", () => {
	it("queued, then pushed, then seen, and the sender gets a receipt push when it is seen", async () => {
		const h = await hub();
		const secrets = memorySecrets();
		const bFirst = await client(h.url, "B", { secrets });
		await bFirst.close();
		const a = await client(h.url, "A");
		const pushes: Omit<ReceiptPush, "type">[] = [];
		a.on("receipt", (r) => pushes.push(r));
		const sent = await a.send("B", "are you there?");
		const states = async () => (await a.request("receipts", { message: sent.message.id })).receipts.map((r) => r.state);
		expect(await states()).toEqual(["queued"]);

		const { client: b, got } = await collecting(h.url, "B", { secrets });
		await until(async () => (await states())[0] === "pushed", 5_000, "the receipt to read pushed");
		expect(pushes).toEqual([]);
		await until(() => got.length === 1, 5_000, "B to get it");
		const before = Date.now();
		await b.ack([sent.message.id]);
		await until(() => pushes.length === 1, 5_000, "A to get the receipt push");
		expect(pushes[0]).toMatchObject({ message: sent.message.id, recipient: "B", state: "seen" });
		expect(pushes[0]?.at).toBeGreaterThanOrEqual(before);
		const r = (await a.request("receipts", { message: sent.message.id })).receipts[0];
		expect(r).toMatchObject({ recipient: "B", state: "seen" });
		expect(r?.pushedAt).toBeLessThanOrEqual(r?.seenAt ?? 0);
		// A repeated ack changes nothing and pushes nothing.
		await b.ack([sent.message.id]);
		await new Promise((res) => setTimeout(res, 100));
		expect(pushes).toHaveLength(1);
	});

	it("a consuming inbox is seen by the client that read it; a peek is not", async () => {
		const h = await hub();
		const secrets = memorySecrets();
		await (await client(h.url, "B", { secrets })).close();
		const a = await client(h.url, "A");
		const sent = await a.send("B", "read me");
		const b = new RawClient(h.url);
		cleanups.push(() => b.close());
		await b.opened();
		await b.request({ type: "hello", session: "B", secret: secrets.load("default", "B") });
		await b.request({ type: "inbox", peek: true });
		const receipt = async () => (await a.request("receipts", { message: sent.message.id })).receipts[0]?.state;
		await until(async () => (await receipt()) === "pushed", 5_000, "pushed (the backlog replay)");
		await b.request({ type: "inbox" });
		expect(await receipt()).toBe("seen");
	});

	it("only the sender sees every row; a recipient only its own; anyone else nothing", async () => {
		const h = await hub();
		const a = await client(h.url, "A");
		const b = await client(h.url, "B");
		const c = await client(h.url, "C");
		const d = await client(h.url, "D");
		const sent = await a.send("*", "everyone");
		expect((await a.request("receipts", { message: sent.message.id })).receipts.map((r) => r.recipient)).toEqual(["B", "C", "D"]);
		expect((await b.request("receipts", { message: sent.message.id })).receipts.map((r) => r.recipient)).toEqual(["B"]);
		const e = await client(h.url, "E"); // joined after the broadcast: not a recipient
		await expect(e.request("receipts", { message: sent.message.id })).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
		const dm = await a.send("B", "just B");
		await expect(c.request("receipts", { message: dm.message.id })).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
		await expect(d.request("receipts", { message: "m-987654-abcdef" })).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
	});

	it("a pushed receipt survives a graceful restart on SQLite; seen is durable", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const db = join(dir, "relay.db");
		const h1 = await startHub({}, db);
		const aSecrets = memorySecrets();
		const bSecrets = memorySecrets();
		const a = await connectClient(h1.url, "A", { secrets: aSecrets });
		const b = await connectCollecting(h1.url, "B", { secrets: bSecrets });
		const first = await a.send("B", "pushed only");
		const second = await a.send("B", "seen");
		await until(() => b.got.length === 2, 5_000, "B to get both");
		await b.client.ack([second.message.id]);
		await a.close();
		await b.client.close();
		await h1.stop();
		const h2 = await hub({}, db);
		const a2 = await client(h2.url, "A", { secrets: aSecrets });
		expect((await a2.request("receipts", { message: first.message.id })).receipts[0]?.state).toBe("pushed");
		expect((await a2.request("receipts", { message: second.message.id })).receipts[0]?.state).toBe("seen");
	});

	it("waits for a reply: inbox {replyTo} takes only the replies to one message", async () => {
		const h = await hub();
		const a = await client(h.url, "A");
		const b = await client(h.url, "B");
		const q = await a.send("B", "question");
		await b.send("A", "unrelated");
		const answer = await b.send("A", "answer", { replyTo: q.message.id });
		const page = await a.request("inbox", { replyTo: q.message.id, peek: true });
		expect(page.messages.map((m) => m.id)).toEqual([answer.message.id]);
		expect(page.remaining).toBe(0);
	});
});

describe("old clients", () => {
	it("a client that never subscribes sees no change: no topic traffic, the same history, a string `to`", async () => {
		const h = await hub();
		const old = await raw(h.url, "Old");
		const a = await client(h.url, "A");
		const b = await client(h.url, "B");
		await b.request("subscribe", { topic: "t" });
		await a.send("#t", "topic chatter");
		await a.send(["B", "Old"], "to both");
		const direct = await a.send("Old", "just you");
		const pushes = async () => {
			await new Promise((r) => setTimeout(r, 150));
			return old.frames.filter((f) => f.type === "message").map((f) => (f.message as { to: string; body: string }).body);
		};
		expect(await pushes()).toEqual(["to both", "just you"]);
		const history = (await old.request({ type: "history" })).result as { messages: { to: string }[] };
		expect(history.messages.map((m) => m.to)).toEqual(["B,Old", "Old"]);
		expect(typeof direct.message.to).toBe("string");
	});

	it("the client library ignores push types it does not know, and keeps working", async () => {
		// A hub from the future: it pushes a frame type this client has never heard of, then a message.
		const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
		await new Promise<void>((r) => wss.once("listening", () => r()));
		cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
		wss.on("connection", (ws) => {
			ws.on("message", (data) => {
				const f = JSON.parse(String(data)) as { type: string; id: string };
				if (f.type !== "hello") return;
				const hubInfo = { version: "9.0.0", protocol: 9, maxBodyBytes: 65536, maxFrameBytes: 262144, heartbeatMs: 30000 };
				ws.send(JSON.stringify({ type: "result", id: f.id, result: { session: "A", room: "default", peers: [], pending: 1, lost: 0, hub: hubInfo } }));
				ws.send(JSON.stringify({ type: "hologram", id: null, payload: { anything: [1, 2] } }));
				ws.send(JSON.stringify({ type: "receipt", message: "m-1-abcdef", recipient: "B", state: "teleported", at: 1 }));
				const m = { id: "m-2-abcdef", seq: 2, room: "default", from: "B", to: "A", body: "still works", replyTo: null, thread: "m-2-abcdef", sentAt: 1, future: true };
				ws.send(JSON.stringify({ type: "message", message: m }));
			});
		});
		const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
		const c = new HubClient({ url, session: "A", secrets: memorySecrets(), keepaliveMs: 0, reconnect: false });
		cleanups.push(() => c.close({ bye: false }));
		const got: string[] = [];
		const receipts: unknown[] = [];
		c.on("message", (m) => got.push(m.body));
		c.on("receipt", (r) => receipts.push(r));
		await c.waitReady(5_000);
		await until(() => got.length === 1, 5_000, "the message after the unknown pushes");
		expect(got).toEqual(["still works"]);
		// A receipt with a state this client does not know is not passed on as if it were one it knows.
		expect(receipts).toEqual([]);
	});
});
