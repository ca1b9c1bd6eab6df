/**
 * Topics, threads, receipts and ask-and-wait through the BUILT bridge (`node dist/cli.js mcp`), spawned as real
 * processes and driven by the MCP SDK's Client, against a real hub in this process.
 * Run `npm run build` first (`npm test` does it).
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ErrorCode } from "../server/errors.js";
import { startBridge, type TestBridge } from "./fixtures/bridge.js";
import { until } from "./fixtures/faults.js";
import { startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt } from "./fixtures/processes.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});
beforeAll(() => assertBuilt());

async function hub(): Promise<TestHub> {
	const h = await startHub({ port: 0 });
	cleanups.push(() => h.stop());
	return h;
}
function home(): string {
	const t = tempDir("relay-topics-");
	cleanups.push(t.cleanup);
	return t.dir;
}
async function bridge(h: TestHub, id: string, dir: string, extra: Partial<Parameters<typeof startBridge>[0]> = {}): Promise<TestBridge> {
	const b = await startBridge({ url: h.url, id, home: dir, ...extra });
	cleanups.push(() => b.close());
	return b;
}
async function online(h: TestHub, ...ids: string[]): Promise<void> {
	await until(() => ids.every((id) => h.hub.presence.holder("default", id)?.open), 10_000, `${ids.join(", ")} online at the hub`);
}
const pending = (h: TestHub, id: string) => h.hub.store.countPending("default", id);

const ChannelNotification = z.object({
	method: z.literal("notifications/claude/channel"),
	params: z.object({ content: z.string(), meta: z.record(z.string(), z.string()) }),
});

/** Three bridges on one hub: Alpha, Beta (subscribed to shop:api) and Gamma (in the room, not subscribed). */
async function trio() {
	const h = await hub();
	const dir = home();
	const a = await bridge(h, "Alpha", dir);
	const b = await bridge(h, "Beta", dir);
	const g = await bridge(h, "Gamma", dir);
	await online(h, "Alpha", "Beta", "Gamma");
	const sub = await b.call("relay_subscribe", { topic: "shop:api" });
	expect(sub.isError).toBe(false);
	expect(sub.data).toEqual({ topic: "shop:api", subscribed: true, changed: true, topics: ["shop:api"] });
	return { h, dir, a, b, g };
}

describe("topics through the bridge", () => {
	it("a send to #topic reaches its subscriber, not a non-subscriber in the room; every tool shows where it went", async () => {
		const { h, a, b, g } = await trio();
		const sent = await a.call("relay_send", { to: "#shop:api", message: "the /users response has a cursor now" });
		expect(sent.isError).toBe(false);
		expect(sent.text).toBe(`Sent to the topic #shop:api (${sent.data.id}): delivered live to Beta.`);
		expect(sent.data).toMatchObject({ to: "#shop:api", live: ["Beta"], queued: [], thread: sent.data.id });

		const got = await b.call("relay_receive");
		expect(got.data.messages).toHaveLength(1);
		expect(got.data.messages[0]).toMatchObject({ from: "Alpha", to: "#shop:api", id: sent.data.id });
		expect(got.text).toContain(`from="Alpha" to="#shop:api"`);
		expect(got.text).toContain(`thread="${sent.data.id}"`);

		expect((await g.call("relay_receive")).data.messages).toEqual([]);
		expect(await pending(h, "Gamma")).toBe(0);

		// The log is public in the room: Gamma can read it, and list the topic.
		const log = await g.call("relay_history", { topic: "shop:api" });
		expect(log.data.messages.map((m: { id: string }) => m.id)).toEqual([sent.data.id]);
		const topics = await g.call("relay_topics");
		expect(topics.data.topics).toMatchObject([{ topic: "shop:api", subscribers: [{ session: "Beta", online: true }], subscribed: false, messages: 1 }]);
		expect(topics.text).toContain("#shop:api: Beta; 1 message, last active");
	});

	it("an offline subscriber gets the topic message when its bridge comes back", async () => {
		const { h, dir, a, b } = await trio();
		await b.close();
		await until(() => !h.hub.presence.holder("default", "Beta")?.open, 10_000, "Beta offline");
		const sent = await a.call("relay_send", { to: "#shop:api", message: "while you were away" });
		expect(sent.data.queued).toEqual(["Beta"]);
		const again = await bridge(h, "Beta", dir);
		const got = await again.call("relay_wait", { timeoutSeconds: 10 });
		expect(got.data.message).toMatchObject({ id: sent.data.id, to: "#shop:api", body: "while you were away" });
	});

	it("--topics subscribes at start; a bad name there is ignored and reported; a bad name to relay_subscribe is E_BAD_TARGET and changes nothing", async () => {
		const h = await hub();
		const dir = home();
		const b = await bridge(h, "Beta", dir, { env: { RELAY_TOPICS: "build.ci, #shop:api,../etc" } });
		await online(h, "Beta");
		await until(async () => (await h.hub.store.topics.subscriptions("default", "Beta")).length === 2, 10_000, "the configured subscriptions");
		expect(await h.hub.store.topics.subscriptions("default", "Beta")).toEqual(["build.ci", "shop:api"]);
		const status = await b.call("relay_status");
		expect(status.data.topics).toEqual(["build.ci", "shop:api"]);
		expect(status.data.topicsIgnored).toEqual(["../etc"]);
		expect(status.text).toContain("Subscribed to #build.ci, #shop:api.");

		for (const topic of ["a/b", "..", "x y", "<channel>", "t".repeat(65)]) {
			const r = await b.call("relay_subscribe", { topic });
			expect(r.isError, topic).toBe(true);
			expect(r.text, topic).toMatch(/^E_BAD_TARGET: topic name/);
		}
		expect(await h.hub.store.topics.subscriptions("default", "Beta")).toEqual(["build.ci", "shop:api"]);
		const un = await b.call("relay_unsubscribe", { topic: "#build.ci" });
		expect(un.data).toEqual({ topic: "build.ci", subscribed: false, changed: true, topics: ["shop:api"] });
	});

	it("a send to several sessions: one message, a delivery each", async () => {
		const { a, b, g } = await trio();
		const sent = await a.call("relay_send", { to: ["Beta", "Gamma"], message: "both of you" });
		expect(sent.data).toMatchObject({ to: "Beta,Gamma", live: ["Beta", "Gamma"] });
		expect(sent.text).toBe(`Sent to Beta, Gamma (${sent.data.id}): delivered live to Beta, Gamma.`);
		for (const who of [b, g]) {
			const got = await who.call("relay_receive");
			expect(got.data.messages.map((m: { id: string }) => m.id)).toEqual([sent.data.id]);
			expect(got.text).toContain('to="Beta,Gamma"');
		}
		const self = await a.call("relay_send", { to: "Beta,Alpha", message: "x" });
		expect(self.isError).toBe(true);
		expect(self.text).toMatch(/^E_BAD_TARGET: Alpha is this session/);
	});
});

describe("threads through the bridge", () => {
	it("a thread of five messages comes back whole, oldest first, with who wrote each, from any of its ids", async () => {
		const h = await hub();
		const dir = home();
		const a = await bridge(h, "Alpha", dir);
		const b = await bridge(h, "Beta", dir);
		await online(h, "Alpha", "Beta");
		const ids: string[] = [];
		for (let i = 0; i < 5; i++) {
			const [from, to] = i % 2 ? [b, "Alpha"] : [a, "Beta"];
			const r = await from.call("relay_send", { to, message: `step ${i}`, ...(ids.length ? { replyTo: ids.at(-1) } : {}) });
			expect(r.data.thread).toBe(ids[0] ?? r.data.id);
			ids.push(r.data.id);
		}
		for (const id of ids) {
			const t = await a.call("relay_thread", { id });
			expect(t.isError, id).toBe(false);
			expect(t.data.thread, id).toBe(ids[0]);
			expect(t.data.messages.map((m: { id: string }) => m.id), id).toEqual(ids);
			expect(t.data.messages.map((m: { from: string }) => m.from), id).toEqual(["Alpha", "Beta", "Alpha", "Beta", "Alpha"]);
		}
		const page = await b.call("relay_thread", { id: ids[2], limit: 2 });
		expect(page.data.messages.map((m: { id: string }) => m.id)).toEqual(ids.slice(0, 2));
		expect(page.text).toContain(`More: relay_thread {"id":"${ids[2]}","after":`);
		const next = await b.call("relay_thread", { id: ids[2], after: page.data.nextAfter });
		expect(next.data.messages.map((m: { id: string }) => m.id)).toEqual(ids.slice(2));
	});
});

describe("receipts through the bridge", () => {
	it("queued, then pushed, then seen, in that order; seen arrives as a push the sender can wait for", async () => {
		const h = await hub();
		const dir = home();
		const a = await bridge(h, "Alpha", dir);
		const b0 = await bridge(h, "Beta", dir);
		await online(h, "Alpha", "Beta");
		await b0.close();
		await until(() => !h.hub.presence.holder("default", "Beta")?.open, 10_000, "Beta offline");

		const sent = await a.call("relay_send", { to: "Beta", message: "did you see this?" });
		const state = async () => (await a.call("relay_receipts", { id: sent.data.id })).data.receipts[0]?.state;
		expect(await state()).toBe("queued");
		const waiting = a.call("relay_wait", { receipt: sent.data.id, timeoutSeconds: 30 });

		const b = await bridge(h, "Beta", dir);
		await until(async () => (await state()) === "pushed", 10_000, "pushed once Beta's bridge has it");
		// A peek hands nothing over: still not seen.
		expect((await b.call("relay_receive", { peek: true })).data.messages).toHaveLength(1);
		expect(await state()).toBe("pushed");

		const got = await b.call("relay_receive");
		expect(got.data.messages.map((m: { id: string }) => m.id)).toEqual([sent.data.id]);
		const done = await waiting;
		expect(done.isError).toBe(false);
		expect(done.data.timedOut).toBe(false);
		expect(done.text).toMatch(new RegExp(`^${sent.data.id} was seen\\. Receipts: Beta seen \\d\\d:\\d\\d:\\d\\dZ\\.$`));
		const r = (await a.call("relay_receipts", { id: sent.data.id })).data.receipts[0];
		expect(r.state).toBe("seen");
		expect(r.pushedAt).toBeLessThanOrEqual(r.seenAt);
		// The recipient sees its own row; a third session sees nothing.
		expect((await b.call("relay_receipts", { id: sent.data.id })).data.receipts.map((x: { recipient: string }) => x.recipient)).toEqual(["Beta"]);
		const g = await bridge(h, "Gamma", dir);
		const none = await g.call("relay_receipts", { id: sent.data.id });
		expect(none.isError).toBe(true);
		expect(none.text).toMatch(new RegExp(`^${ErrorCode.NOT_FOUND}:`));
	});
});

describe("ask and wait", () => {
	it("relay_ask returns the reply, ignores an unrelated message that arrives first, and leaves it unread; with channels on, only the unrelated one is pushed", async () => {
		const h = await hub();
		const dir = home();
		const pushed: Array<{ content: string; meta: Record<string, string> }> = [];
		const a = await bridge(h, "Alpha", dir, {
			args: ["--channels", "on"],
			beforeConnect: (client: Client) => client.setNotificationHandler(ChannelNotification, (n) => void pushed.push(n.params)),
		});
		const b = await bridge(h, "Beta", dir);
		await online(h, "Alpha", "Beta");
		await a.call("relay_subscribe", { topic: "news" });

		const asking = a.call("relay_ask", { to: "Beta", message: "which port does the API use?", timeoutSeconds: 30 });
		const q = await b.call("relay_wait", { timeoutSeconds: 10 });
		expect(q.data.message).toMatchObject({ from: "Alpha", body: "which port does the API use?" });
		// First something unrelated, on a topic and directly, and a reply to another message; then the answer.
		const unrelated = await b.call("relay_send", { to: "#news", message: "unrelated news" });
		const other = await b.call("relay_send", { to: "Alpha", message: "a reply to something else", replyTo: unrelated.data.id });
		// While the ask still waits, what it does not wait for is pushed as usual (even from the one asked).
		await until(() => pushed.length === 2, 10_000, "the unrelated messages pushed while the ask waits");
		const answer = await b.call("relay_send", { to: "Alpha", message: "8080", replyTo: q.data.message.id });

		const asked = await asking;
		expect(asked.isError).toBe(false);
		expect(asked.data.answered).toBe(true);
		expect(asked.data.reply).toMatchObject({ id: answer.data.id, from: "Beta", body: "8080", replyTo: q.data.message.id });
		expect(asked.data.question.id).toBe(q.data.message.id);
		expect(asked.text).toContain("8080");
		expect(asked.text).not.toContain("unrelated news");

		// The unrelated ones were pushed as channel notifications (with where they went); the answer never was.
		expect(pushed.map((p) => p.meta.message_id)).toEqual([unrelated.data.id, other.data.id]);
		expect(pushed[0]?.meta).toMatchObject({ to: "#news", thread: unrelated.data.id });
		expect(pushed[1]?.meta).toMatchObject({ to: "Alpha", thread: unrelated.data.id, reply_to: unrelated.data.id });
		await new Promise((r) => setTimeout(r, 300));
		expect(pushed.map((p) => p.meta.message_id)).not.toContain(answer.data.id);
		// The answer was acked like any message: never shown again.
		await until(async () => (await pending(h, "Alpha")) === 0, 10_000, "every ack");
		expect((await a.call("relay_receive")).data.messages).toEqual([]);
		const receipts = await b.call("relay_receipts", { id: answer.data.id });
		expect(receipts.data.receipts[0]?.state).toBe("seen");
	});

	it("relay_ask without channels leaves the unrelated message for relay_receive", async () => {
		const h = await hub();
		const dir = home();
		const a = await bridge(h, "Alpha", dir);
		const b = await bridge(h, "Beta", dir);
		await online(h, "Alpha", "Beta");
		const asking = a.call("relay_ask", { to: "*", message: "anyone know the port?", timeoutSeconds: 30 });
		const q = await b.call("relay_wait", { timeoutSeconds: 10 });
		const unrelated = await b.call("relay_send", { to: "Alpha", message: "not an answer" });
		await new Promise((r) => setTimeout(r, 300));
		const answer = await b.call("relay_send", { to: "Alpha", message: "8080", replyTo: q.data.message.id });
		const asked = await asking;
		expect(asked.data.reply?.id).toBe(answer.data.id);
		const left = await a.call("relay_receive");
		expect(left.data.messages.map((m: { id: string }) => m.id)).toEqual([unrelated.data.id]);
	});

	it("a timeout is a normal answer that says where the question is, per its receipt", async () => {
		const h = await hub();
		const dir = home();
		const a = await bridge(h, "Alpha", dir);
		const b = await bridge(h, "Beta", dir);
		await online(h, "Alpha", "Beta");
		const asked = await a.call("relay_ask", { to: "Beta", message: "still there?", timeoutSeconds: 1 });
		expect(asked.isError).toBe(false);
		expect(asked.data.answered).toBe(false);
		expect(asked.data.reply).toBeNull();
		expect(asked.data.receipts).toMatchObject([{ recipient: "Beta", state: "pushed" }]);
		expect(asked.text).toMatch(/no answer within 1 s\. Where it is: Beta pushed \d\d:\d\d:\d\dZ\./);
		// A reply from someone who was not asked does not count.
		const g = await bridge(h, "Gamma", dir);
		await online(h, "Gamma");
		const asking = a.call("relay_ask", { to: "Beta", message: "Beta only", timeoutSeconds: 2 });
		const q = await b.call("relay_wait", { timeoutSeconds: 10 });
		await g.call("relay_send", { to: "Alpha", message: "I am not Beta", replyTo: q.data.message.id });
		expect((await asking).data.answered).toBe(false);
	});
});
