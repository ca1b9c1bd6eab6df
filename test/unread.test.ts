/**
 * The `unread` request (what the autowake daemon asks): headers of what waits for some sessions, never a
 * body, never an ack; before hello; each session by its own secret or all by the hub token; bounded.
 */
import { afterEach, describe, expect, it } from "vitest";
import { connectClient, memorySecrets, RawClient, startHub, type TestHub } from "./fixtures/hub.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});
async function hub(token?: string): Promise<TestHub> {
	const h = await startHub({ port: 0, ...(token ? { token } : {}) });
	cleanups.push(() => h.stop());
	return h;
}
async function raw(url: string): Promise<RawClient> {
	const r = new RawClient(url);
	cleanups.push(() => r.close());
	await r.opened();
	return r;
}

describe("unread", () => {
	it("answers headers without bodies, acks nothing, and checks each session's secret", async () => {
		const h = await hub();
		const secrets = memorySecrets();
		const cc1 = await connectClient(h.url, "CC-1", { secrets, meta: { host: "box", tmuxPane: "%3" } });
		const other = await connectClient(h.url, "Other");
		const person = await connectClient(h.url, "Person", { meta: { client: "claude-relay-send" } });
		cleanups.push(() => cc1.close(), () => other.close(), () => person.close());
		const first = await other.send("CC-1", "the body stays at the hub");
		await person.send("CC-1", "from a person", { replyTo: first.message.id });
		const r = await raw(h.url);
		const secret = secrets.map.get("default/CC-1");
		const answer = await r.request({
			type: "unread",
			sessions: [{ session: "CC-1", secret }, { session: "Other", secret: "wrong" }, { session: "Other" }, { session: "Ghost" }, { session: "bad id" }],
			limit: 1,
		});
		expect(answer.type).toBe("result");
		const [mine, wrong, none, nobody, bad] = (answer.result as { sessions: Record<string, unknown>[] }).sessions;
		expect(mine).toMatchObject({ session: "CC-1", online: true, pending: 2, meta: { host: "box", tmuxPane: "%3" } });
		expect(mine?.messages).toEqual([
			{ id: first.message.id, seq: first.message.seq, from: "Other", to: "CC-1", replyTo: null, thread: first.message.id, sentAt: first.message.sentAt },
		]);
		expect(JSON.stringify(answer)).not.toContain("the body stays at the hub");
		expect(wrong).toMatchObject({ session: "Other", error: { code: "E_FORBIDDEN" } });
		expect(none).toMatchObject({ error: { code: "E_FORBIDDEN" } });
		expect(nobody).toMatchObject({ error: { code: "E_NOT_FOUND" } });
		expect(bad).toMatchObject({ error: { code: "E_BAD_ID" } });
		// The sender's client comes with each header; nothing was acked.
		const both = await r.request({ type: "unread", sessions: [{ session: "CC-1", secret }] });
		const headers = (both.result as { sessions: { messages: { fromClient?: string; replyTo: string | null }[] }[] }).sessions[0]?.messages;
		expect(headers?.map((m) => m.fromClient)).toEqual([undefined, "claude-relay-send"]);
		expect(headers?.[1]?.replyTo).toBe(first.message.id);
		expect((await cc1.request("inbox", { peek: true })).messages).toHaveLength(2);
		// A connection that asked unread holds no session: nothing else is allowed on it.
		expect((await r.request({ type: "inbox" })).code).toBe("E_NOT_REGISTERED");
	});

	it("the hub token reads every session; without it a token hub refuses; the batch is bounded", async () => {
		const token = "t".repeat(32);
		const h = await hub(token);
		const a = await connectClient(h.url, "A1", { token });
		cleanups.push(() => a.close());
		const r = await raw(h.url);
		expect((await r.request({ type: "unread", sessions: [{ session: "A1" }], token })).result).toMatchObject({ sessions: [{ session: "A1", pending: 0 }] });
		const tooMany = await r.request({ type: "unread", sessions: Array.from({ length: 51 }, (_, i) => ({ session: `S${i}` })), token });
		expect(tooMany.code).toBe("E_BAD_FRAME");
		expect((await r.request({ type: "unread", sessions: [{ session: "A1" }], limit: 51, token })).code).toBe("E_BAD_FRAME");
		const wrong = await raw(h.url);
		expect((await wrong.request({ type: "unread", sessions: [{ session: "A1" }], token: "x".repeat(32) })).code).toBe("E_AUTH");
		const none = await raw(h.url);
		expect((await none.request({ type: "unread", sessions: [{ session: "A1" }] })).code).toBe("E_AUTH");
	});
});
