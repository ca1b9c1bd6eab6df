/**
 * The session bridge end to end: the BUILT bridge (`node dist/cli.js mcp`) spawned as a real child process,
 * driven by the MCP SDK's Client over stdio, against a real hub started in this process.
 * Run `npm run build` first (`npm test` does it).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { upsertSession } from "../sessions/registry.js";
import {
	ReplyDroppingProxy,
	startBridge,
	type TestBridge,
} from "./fixtures/bridge.js";
import { TcpProxy, until } from "./fixtures/faults.js";
import { connectClient, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, freePort } from "./fixtures/processes.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});
beforeAll(() => assertBuilt());

async function hub(db?: string, port = 0): Promise<TestHub> {
	const h = await startHub({ port }, db);
	cleanups.push(() => h.stop());
	return h;
}
function home(): string {
	const t = tempDir("relay-bridge-");
	cleanups.push(t.cleanup);
	return t.dir;
}
async function bridge(
	url: string,
	id: string,
	dir: string,
	extra: Partial<Parameters<typeof startBridge>[0]> = {},
): Promise<TestBridge> {
	const b = await startBridge({ url, id, home: dir, ...extra });
	cleanups.push(() => b.close());
	return b;
}
/** Waits until the hub holds `id` online (the bridge connects in the background after the handshake). */
async function online(h: TestHub, ...ids: string[]): Promise<void> {
	await until(
		() => ids.every((id) => h.hub.presence.holder("default", id)?.open),
		10_000,
		`${ids.join(", ")} online at the hub`,
	);
}

/** A hub and two bridges on it, Alpha and Beta, sharing one RELAY_HOME, both online. */
async function pair() {
	const h = await hub();
	const dir = home();
	const a = await bridge(h.url, "Alpha", dir);
	const b = await bridge(h.url, "Beta", dir);
	await online(h, "Alpha", "Beta");
	return { h, dir, a, b };
}

/**
 * Alpha on the hub directly, Beta through a TCP proxy the test can cut or take down, and one message from
 * Alpha already pushed to Beta and held there (not yet handed to its model).
 */
async function pairBehindProxy(firstMessage: string) {
	const h = await hub();
	const proxy = new TcpProxy(h.port);
	await proxy.up();
	cleanups.push(() => proxy.close());
	const dir = home();
	const a = await bridge(h.url, "Alpha", dir);
	const b = await bridge(proxy.url, "Beta", dir);
	await online(h, "Alpha", "Beta");
	await a.call("relay_send", { to: "Beta", message: firstMessage });
	await until(async () => (await b.call("relay_status")).data.heldLocally === 1, 5_000, "Beta holds the push");
	return { h, proxy, a, b };
}

describe("tools", () => {
	it("lists every tool with an input schema, an output schema and annotations, and explains the relay", async () => {
		const h = await hub();
		const a = await bridge(h.url, "Alpha", home());
		const { tools } = await a.client.listTools();
		const names = tools.map((t) => t.name).sort();
		expect(names).toEqual([
			"relay_ask",
			"relay_claim",
			"relay_claims",
			"relay_get",
			"relay_history",
			"relay_peers",
			"relay_receipts",
			"relay_receive",
			"relay_release",
			"relay_rename",
			"relay_send",
			"relay_sessions",
			"relay_state_append",
			"relay_state_delete",
			"relay_state_get",
			"relay_state_list",
			"relay_state_set",
			"relay_status",
			"relay_subscribe",
			"relay_thread",
			"relay_topics",
			"relay_unsubscribe",
			"relay_wait",
		]);
		for (const t of tools) {
			expect(t.inputSchema.type).toBe("object");
			expect(t.outputSchema?.type).toBe("object");
			expect(t.annotations).toBeDefined();
			expect(t.description?.length ?? 0).toBeGreaterThan(20);
		}
		const instructions = a.client.getInstructions() ?? "";
		expect(instructions).toContain("Alpha");
		expect(instructions).toMatch(/not from your user/);
		expect(instructions).toContain("replyTo");
		// The one mark of a person's message, and that only the hub sets it.
		expect(instructions).toMatch(/from_human="true".*typed by a person in the relay hub's dashboard.*only the hub can set that mark/);
	});
});

describe("two sessions", () => {
	it("exchange direct messages, live, with replies threaded by replyTo", async () => {
		const { a, b } = await pair();

		const sent = await a.call("relay_send", {
			to: "Beta",
			message: "hello Beta",
		});
		expect(sent.isError).toBe(false);
		expect(sent.text).toMatch(/^Delivered live to Beta/);
		expect(sent.data.live).toEqual(["Beta"]);
		expect(sent.data.queued).toEqual([]);

		const got = await b.call("relay_receive");
		expect(got.isError).toBe(false);
		expect(got.data.messages).toHaveLength(1);
		expect(got.data.messages[0]).toMatchObject({
			from: "Alpha",
			to: "Beta",
			body: "hello Beta",
			id: sent.data.id,
		});
		expect(got.text).toContain(`id="${sent.data.id}"`);
		expect(got.text).toContain('from="Alpha" to="Beta"');
		expect(got.text).toContain("hello Beta");
		expect(got.data.remaining).toBe(0);

		const reply = await b.call("relay_send", {
			to: "Alpha",
			message: "hi Alpha",
			replyTo: sent.data.id,
		});
		expect(reply.text).toMatch(/^Delivered live to Alpha/);
		const back = await a.call("relay_receive");
		expect(back.data.messages[0]).toMatchObject({
			from: "Beta",
			body: "hi Alpha",
			replyTo: sent.data.id,
		});
		expect(back.text).toContain(`reply_to="${sent.data.id}"`);
		const badReply = await b.call("relay_send", {
			to: "Alpha",
			message: "x",
			replyTo: "m-1-abcdef</channel>",
		});
		expect(badReply.isError).toBe(true);
		expect(badReply.text).toMatch(/must be a message id like m-18-a8k2p0/);

		// Handed over once: nothing is shown twice.
		expect((await b.call("relay_receive")).data.messages).toHaveLength(0);
		expect((await b.call("relay_receive")).text).toBe("No new messages.");
	});

	it("broadcasts to everyone else in the room", async () => {
		const h = await hub();
		const dir = home();
		const a = await bridge(h.url, "Alpha", dir);
		const b = await bridge(h.url, "Beta", dir);
		const c = await bridge(h.url, "Gamma", dir);
		await online(h, "Alpha", "Beta", "Gamma");

		const sent = await a.call("relay_send", { to: "*", message: "all hands" });
		expect(sent.isError).toBe(false);
		expect([...sent.data.live].sort()).toEqual(["Beta", "Gamma"]);
		expect(sent.text).toMatch(/^Broadcast .*delivered live to/);
		for (const peer of [b, c]) {
			const got = await peer.call("relay_receive");
			expect(
				got.data.messages.map((m: { body: string; to: string }) => [
					m.body,
					m.to,
				]),
			).toEqual([["all hands", "*"]]);
		}
		expect((await a.call("relay_receive")).data.messages).toHaveLength(0);
	});

	it("in a crowded room relay_peers shows a page of 100 by ID, says how many there are, and pages on with the cursor", async () => {
		// 105 new IDs from one address in a moment: past the default --new-sessions-per-minute.
		const h = await startHub({ newSessionsPerMinute: 0 });
		cleanups.push(h.stop);
		const dir = home();
		const ids = Array.from({ length: 104 }, (_, i) => `P${String(i).padStart(3, "0")}`);
		for (const id of ids) {
			const c = await connectClient(h.url, id, { presence: false });
			cleanups.push(() => c.close({ bye: false }));
		}
		const a = await bridge(h.url, "Alpha", dir);
		await online(h, "Alpha");
		const first = await a.call("relay_peers");
		expect(first.data.total).toBe(104);
		expect(first.data.peers.map((p: { session: string }) => p.session)).toEqual(ids.slice(0, 100));
		expect(first.data.nextCursor).toBe("P099");
		expect(first.text).toContain("104 peers online in room default (100 shown, by ID)");
		expect(first.text).toContain('relay_peers {"cursor": "P099"}');
		const rest = await a.call("relay_peers", { cursor: first.data.nextCursor });
		expect(rest.data.peers.map((p: { session: string }) => p.session)).toEqual(ids.slice(100));
		expect(rest.data.nextCursor).toBeNull();
		expect(rest.text).not.toContain("More:");
	});

	it("lists peers with where they run, and sessions online and offline", async () => {
		const h = await hub();
		const dir = home();
		// As `claude-session Beta` does: the registry entry is owned by a live process (here, this test).
		await upsertSession(
			{ id: "Beta", pid: process.pid, cwd: dir },
			join(dir, "sessions", "registry.json"),
		);
		const a = await bridge(h.url, "Alpha", dir);
		const b = await bridge(h.url, "Beta", dir, { cwd: dir });
		await online(h, "Alpha", "Beta");

		const peers = await a.call("relay_peers");
		expect(peers.data.peers.map((p: { session: string }) => p.session)).toEqual(
			["Beta"],
		);
		expect(peers.data.peers[0].meta).toMatchObject({
			cwd: dir,
			pid: b.pid,
			// The test's MCP client names no known harness, and its parent (vitest) is none: other.
			client: "other",
		});
		expect(peers.text).toContain("Beta");
		expect(peers.text).toContain(dir);

		await b.close();
		await until(() => !h.hub.presence.holder("default", "Beta"), 5_000, "Beta offline");
		const sessions = await a.call("relay_sessions");
		const byId = Object.fromEntries(
			sessions.data.sessions.map((s: { id: string; status: string }) => [
				s.id,
				s.status,
			]),
		);
		expect(byId).toMatchObject({ Alpha: "online", Beta: "offline" });
		expect(sessions.text).toMatch(/Beta\s+offline/);
		expect(sessions.data.hubError).toBeNull();
		expect(sessions.data).toMatchObject({ hubTotal: 2, nextCursor: null });
	});

	it("relay_sessions pages through the hub's sessions and says when there are more", async () => {
		const h = await hub();
		const dir = home();
		const a = await bridge(h.url, "Alpha", dir);
		await online(h, "Alpha");
		for (let i = 0; i < 12; i++)
			await h.hub.store.createSession({ room: "default", session: `S${String(i).padStart(2, "0")}`, secretHash: "h", meta: { host: "elsewhere" }, firstSeen: 1, lastSeen: 1, ephemeral: false });
		const first = await a.call("relay_sessions", { limit: 5 });
		expect(first.isError).toBe(false);
		expect(first.data).toMatchObject({ hubTotal: 13, nextCursor: "S03" });
		expect(first.text).toContain('Next page: relay_sessions {"cursor":"S03"}');
		const hubIds = (r: typeof first) =>
			r.data.sessions.filter((s: { source: string }) => s.source === "hub").map((s: { id: string }) => s.id);
		expect(hubIds(first)).toEqual(["Alpha", "S00", "S01", "S02", "S03"]);
		const rest = await a.call("relay_sessions", { cursor: "S03" });
		expect(hubIds(rest)).toEqual(Array.from({ length: 8 }, (_, i) => `S${String(i + 4).padStart(2, "0")}`));
		expect(rest.data.nextCursor).toBeNull();
		expect(rest.text).not.toContain("Next page");
	});
});

describe("receive", () => {
	it("pages through a backlog bigger than its limit without skipping or repeating", async () => {
		const { a, b } = await pair();
		for (let i = 0; i < 25; i++)
			expect(
				(await a.call("relay_send", { to: "Beta", message: `m${i}` })).isError,
			).toBe(false);

		const bodies: string[] = [];
		const remainings: number[] = [];
		for (let page = 0; page < 4; page++) {
			const r = await b.call("relay_receive", { limit: 10 });
			bodies.push(...r.data.messages.map((m: { body: string }) => m.body));
			remainings.push(r.data.remaining);
		}
		expect(bodies).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`));
		expect(remainings).toEqual([15, 5, 0, 0]);
	});

	it("peek shows without acking; a later receive returns the same messages, then nothing", async () => {
		const { h, a, b } = await pair();
		await a.call("relay_send", { to: "Beta", message: "one" });
		await a.call("relay_send", { to: "Beta", message: "two" });

		const p1 = await b.call("relay_receive", { peek: true, limit: 1 });
		expect(p1.data.peek).toBe(true);
		expect(p1.data.messages.map((m: { body: string }) => m.body)).toEqual([
			"one",
		]);
		expect(p1.data.remaining).toBe(1);
		expect(p1.text).toContain("peek");
		const p2 = await b.call("relay_receive", { peek: true });
		expect(p2.data.messages.map((m: { body: string }) => m.body)).toEqual([
			"one",
			"two",
		]);

		const r = await b.call("relay_receive");
		expect(r.data.messages.map((m: { id: string }) => m.id)).toEqual(
			p2.data.messages.map((m: { id: string }) => m.id),
		);
		expect(
			(await b.call("relay_receive", { peek: true })).data.messages,
		).toHaveLength(0);
		expect(h.hub.store).toBeDefined();
		expect(await h.hub.store.countPending("default", "Beta")).toBe(0);
	});

	it("bounds a huge body in the result and serves the rest with relay_get", async () => {
		const { a, b } = await pair();
		const body = `${"a".repeat(4_000)}${"b".repeat(6_000)}`;
		const sent = await a.call("relay_send", { to: "Beta", message: body });

		const r = await b.call("relay_receive");
		const m = r.data.messages[0];
		expect(m.truncated).toBe(true);
		expect(m.bodyChars).toBe(10_000);
		expect(m.body).toBe("a".repeat(4_000));
		// 4,000 characters of body, and the framing around them (header with its thread, the note, the hint).
		expect(r.text.length).toBeLessThan(4_700);
		expect(r.text).toContain(
			`relay_get {"id":"${sent.data.id}","offset":4000}`,
		);

		const rest = await b.call("relay_get", { id: sent.data.id, offset: 4_000 });
		expect(rest.isError).toBe(false);
		expect(rest.data.message.body).toBe("b".repeat(6_000));
		expect(rest.data.nextOffset).toBeNull();
	});
});

describe("wait", () => {
	it("returns a message that arrives while waiting, and one already waiting at once", async () => {
		const { a, b } = await pair();

		const waiting = b.call("relay_wait", { timeoutSeconds: 30 });
		await new Promise((r) => setTimeout(r, 300));
		await a.call("relay_send", { to: "Beta", message: "ping" });
		const got = await waiting;
		expect(got.isError).toBe(false);
		expect(got.data.timedOut).toBe(false);
		expect(got.data.message).toMatchObject({ from: "Alpha", body: "ping" });
		expect(got.text).toContain("ping");

		await a.call("relay_send", { to: "Beta", message: "already here" });
		await a.call("relay_send", { to: "Beta", message: "and another" });
		const now = await b.call("relay_wait", { timeoutSeconds: 30 });
		expect(now.data.message.body).toBe("already here");
		expect(now.data.remaining).toBe(1);
		// The one handed over by wait is acked: receive returns only the other.
		expect(
			(await b.call("relay_receive")).data.messages.map(
				(m: { body: string }) => m.body,
			),
		).toEqual(["and another"]);
	});

	it("times out as a normal result, and waits only for the sender asked for", async () => {
		const h = await hub();
		const dir = home();
		const a = await bridge(h.url, "Alpha", dir);
		const b = await bridge(h.url, "Beta", dir);
		const c = await bridge(h.url, "Gamma", dir);
		await online(h, "Alpha", "Beta", "Gamma");

		const none = await b.call("relay_wait", { timeoutSeconds: 1 });
		expect(none.isError).toBe(false);
		expect(none.data).toMatchObject({
			message: null,
			timedOut: true,
			connected: true,
		});
		expect(none.text).toMatch(/^No message within 1 s/);

		await c.call("relay_send", { to: "Beta", message: "from gamma" });
		const fromAlpha = b.call("relay_wait", {
			timeoutSeconds: 30,
			from: "Alpha",
		});
		await new Promise((r) => setTimeout(r, 300));
		await a.call("relay_send", { to: "Beta", message: "from alpha" });
		expect((await fromAlpha).data.message.body).toBe("from alpha");
		expect(
			(await b.call("relay_receive")).data.messages.map(
				(m: { body: string }) => m.body,
			),
		).toEqual(["from gamma"]);
	});
});

describe("offline sessions", () => {
	it("queues a message for a session that is offline and delivers it when it comes back", async () => {
		const h = await hub();
		const dir = home();
		const a = await bridge(h.url, "Alpha", dir);
		const d1 = await bridge(h.url, "Delta", dir);
		await online(h, "Alpha", "Delta");
		await d1.close();
		await until(
			() => !h.hub.presence.holder("default", "Delta"),
			5_000,
			"Delta offline",
		);

		const sent = await a.call("relay_send", {
			to: "Delta",
			message: "while you were away",
		});
		expect(sent.isError).toBe(false);
		expect(sent.text).toMatch(/^Queued for Delta \(offline\)/);
		expect(sent.data.queued).toEqual(["Delta"]);

		// Same RELAY_HOME: the restarted session presents its stored secret and gets its backlog.
		const d2 = await bridge(h.url, "Delta", dir);
		const got = await d2.call("relay_wait", { timeoutSeconds: 10 });
		expect(got.data.message).toMatchObject({
			from: "Alpha",
			body: "while you were away",
		});
		expect((await d2.call("relay_receive")).data.messages).toHaveLength(0);
	});

	it("acks a pushed message only once handed over: one held by a bridge that dies unread comes again", async () => {
		const h = await hub();
		const dir = home();
		const a = await bridge(h.url, "Alpha", dir);
		const d1 = await bridge(h.url, "Delta", dir);
		await online(h, "Alpha", "Delta");
		await a.call("relay_send", { to: "Delta", message: "held, never read" });
		await until(
			async () => (await d1.call("relay_status")).data.heldLocally === 1,
			5_000,
			"Delta holds the push",
		);
		await d1.close();
		expect(await h.hub.store.countPending("default", "Delta")).toBe(1);

		const d2 = await bridge(h.url, "Delta", dir);
		const got = await d2.call("relay_receive");
		expect(got.data.messages.map((m: { body: string }) => m.body)).toEqual([
			"held, never read",
		]);
	});

	it("queues for an ID that never connected, with a note saying so", async () => {
		const h = await hub();
		const a = await bridge(h.url, "Alpha", home());
		const sent = await a.call("relay_send", {
			to: "Nobody-yet",
			message: "hi",
		});
		expect(sent.isError).toBe(false);
		expect(sent.data.queued).toEqual(["Nobody-yet"]);
		expect(sent.text).toMatch(/never connected/);
	});
});

describe("reliability", () => {
	it("survives a hub restart mid-conversation: nothing lost, nothing twice", async () => {
		const dbDir = home();
		const db = join(dbDir, "relay.db");
		const port = await freePort();
		let h = await startHub({ port }, db);
		const first = h;
		cleanups.push(() => first.stop());
		const dir = home();
		const a = await bridge(h.url, "Alpha", dir);
		const b = await bridge(h.url, "Beta", dir);
		await online(h, "Alpha", "Beta");

		await a.call("relay_send", { to: "Beta", message: "before" });
		expect(
			(await b.call("relay_receive")).data.messages.map(
				(m: { body: string }) => m.body,
			),
		).toEqual(["before"]);
		// Pushed to Beta's bridge and held there, not yet handed to the model.
		await a.call("relay_send", {
			to: "Beta",
			message: "held across the restart",
		});
		await until(
			async () => (await b.call("relay_status")).data.heldLocally === 1,
			5_000,
			"Beta holds the push",
		);

		await h.stop();
		// A send made while the hub is down waits (bounded) for the reconnect, then goes through once.
		const during = a.call("relay_send", { to: "Beta", message: "during" });
		await new Promise((r) => setTimeout(r, 300));
		h = await startHub({ port }, db);
		cleanups.push(() => h.stop());
		const sentDuring = await during;
		expect(sentDuring.isError).toBe(false);
		await online(h, "Alpha", "Beta");
		await a.call("relay_send", { to: "Beta", message: "after" });

		const bodies: string[] = [];
		for (let i = 0; i < 3; i++)
			bodies.push(
				...(await b.call("relay_receive")).data.messages.map(
					(m: { body: string }) => m.body,
				),
			);
		expect(bodies).toEqual(["held across the restart", "during", "after"]);
		const history = await b.call("relay_history", { with: "Alpha" });
		expect(history.data.messages.map((m: { body: string }) => m.body)).toEqual([
			"before",
			"held across the restart",
			"during",
			"after",
		]);
		expect(await h.hub.store.countPending("default", "Beta")).toBe(0);
	});

	it("resumes after the link drops (a cut tunnel) without losing or repeating a message", async () => {
		const { proxy, a, b } = await pairBehindProxy("one");
		proxy.cut();
		await a.call("relay_send", { to: "Beta", message: "two" });
		await until(
			async () => (await b.call("relay_status")).data.connected === true,
			10_000,
			"Beta reconnected",
		);
		const bodies: string[] = [];
		for (let i = 0; i < 2; i++)
			bodies.push(
				...(await b.call("relay_receive")).data.messages.map(
					(m: { body: string }) => m.body,
				),
			);
		expect(bodies).toEqual(["one", "two"]);
	});

	it("retries a send whose reply was lost with the same idempotency key: stored once", async () => {
		const h = await hub();
		const proxy = await ReplyDroppingProxy.start(h.port);
		cleanups.push(() => proxy.close());
		const dir = home();
		const a = await bridge(proxy.url, "Alpha", dir);
		const b = await bridge(h.url, "Beta", dir);
		await online(h, "Alpha", "Beta");

		proxy.dropReplyTo("exactly once please");
		const sent = await a.call("relay_send", {
			to: "Beta",
			message: "exactly once please",
		});
		expect(proxy.dropped).toBe(1);
		expect(sent.isError).toBe(false);
		expect(sent.data.duplicate).toBe(true);
		expect(sent.text).toMatch(/stored once/);
		const got = await b.call("relay_receive");
		expect(got.data.messages.map((m: { body: string }) => m.body)).toEqual([
			"exactly once please",
		]);
		expect(got.data.messages[0].id).toBe(sent.data.id);
		const history = await b.call("relay_history", { with: "Alpha" });
		expect(history.data.messages).toHaveLength(1);
	});

	it("says a send's fate is unknown (not failed) when it went out and the hub then could not be reached", async () => {
		const h = await hub();
		const proxy = await ReplyDroppingProxy.start(h.port);
		let proxyClosed = false;
		cleanups.push(() => (proxyClosed ? undefined : proxy.close()));
		const a = await bridge(proxy.url, "Alpha", home());
		await online(h, "Alpha");

		proxy.dropReplyTo("fate unknown");
		const sending = a.call("relay_send", {
			to: "Beta",
			message: "fate unknown",
		});
		await until(() => proxy.dropped === 1, 5_000, "the send to reach the hub");
		await proxy.close();
		proxyClosed = true;
		const sent = await sending;
		expect(sent.isError).toBe(true);
		expect(sent.text).toMatch(
			/^E_TIMEOUT: The message went out but the hub did not confirm it in time \(the connection dropped meanwhile\): it may or may not have been stored/,
		);
		expect(sent.text).toContain('relay_history {"with":"Beta"}');
		expect(await h.hub.store.countPending("default", "Beta")).toBe(1);
	}, 30_000);

	it("hands over held messages while the hub is unreachable and acks them after reconnect", async () => {
		const { h, proxy, b } = await pairBehindProxy("held");

		await proxy.down();
		proxy.cut();
		await until(
			async () => (await b.call("relay_status")).data.connected === false,
			5_000,
			"Beta disconnected",
		);
		const r = await b.call("relay_receive");
		expect(r.isError).toBe(false);
		expect(r.data.source).toBe("local");
		expect(r.data.messages.map((m: { body: string }) => m.body)).toEqual([
			"held",
		]);
		expect(r.data.acksQueued).toBe(1);
		expect(r.text).toMatch(/Hub unreachable/);
		expect(await h.hub.store.countPending("default", "Beta")).toBe(1);

		await proxy.up();
		await until(
			async () => (await h.hub.store.countPending("default", "Beta")) === 0,
			15_000,
			"the queued ack to reach the hub",
		);
		expect((await b.call("relay_receive")).data.messages).toHaveLength(0);
	});

	it("says honestly, within its bound, that the hub is unreachable and how to fix it", async () => {
		// Port 1: privileged and outside the ephemeral range, so no test hub in another worker can be there (a
		// free port picked here could be taken by one before the bridge connects).
		const b = await bridge("ws://127.0.0.1:1", "Beta", home());
		const sent = await b.call("relay_send", {
			to: "Alpha",
			message: "anyone?",
		});
		expect(sent.isError).toBe(true);
		expect(sent.text).toMatch(
			/^E_UNREACHABLE: Cannot reach the relay hub at ws:\/\/127\.0\.0\.1:\d+/,
		);
		expect(sent.text).toMatch(/Is the hub running/);
		expect(sent.text).toMatch(/SSH tunnel/);
		const received = await b.call("relay_receive");
		expect(received.isError).toBe(true);
		expect(received.text).toMatch(/^E_UNREACHABLE/);
		const status = await b.call("relay_status");
		expect(status.isError).toBe(false);
		expect(status.data.connected).toBe(false);
		expect(status.text).toMatch(/^NOT connected/);
		expect(status.data.lastError.code).toBe("E_UNREACHABLE");
	}, 30_000);
});

describe("bad input and bad configuration", () => {
	it("answers bad tool input with isError results that say what is wrong", async () => {
		const h = await hub();
		const a = await bridge(h.url, "Alpha", home());
		await online(h, "Alpha");

		const empty = await a.call("relay_send", { to: "", message: "x" });
		expect(empty.isError).toBe(true);
		expect(empty.text).toMatch(/to is empty/);
		const missing = await a.call("relay_send", { to: "Beta" });
		expect(missing.isError).toBe(true);
		expect(missing.text).toMatch(/message/);
		const badLimit = await a.call("relay_receive", { limit: 0 });
		expect(badLimit.isError).toBe(true);
		expect(badLimit.text).toMatch(/limit/);
		const badWait = await a.call("relay_wait", { timeoutSeconds: 601 });
		expect(badWait.isError).toBe(true);
		expect(badWait.text).toMatch(/timeoutSeconds/);

		const badTarget = await a.call("relay_send", {
			to: "no spaces please",
			message: "x",
		});
		expect(badTarget.isError).toBe(true);
		expect(badTarget.text).toMatch(
			/^E_BAD_TARGET: recipient must start with a letter/,
		);
		const self = await a.call("relay_send", { to: "Alpha", message: "x" });
		expect(self.text).toMatch(/^E_BAD_TARGET: Alpha is this session/);
		const unknown = await a.call("relay_get", { id: "m-999-zzzzzz" });
		expect(unknown.isError).toBe(true);
		expect(unknown.text).toMatch(/^E_NOT_FOUND/);
		const malformed = await a.call("relay_get", { id: "m-999-nothing" });
		expect(malformed.isError).toBe(true);
		expect(malformed.text).toMatch(/must be a message id like m-18-a8k2p0 .* at id/);
		const tooBig = await a.call("relay_send", {
			to: "Beta",
			message: "x".repeat(70_000),
		});
		expect(tooBig.isError).toBe(true);
		expect(tooBig.text).toMatch(/^E_TOO_LARGE/);
	});

	it("refuses a body over the hub's limit at once, sends nothing, and keeps the connection", async () => {
		const { h, a, b } = await pair();
		const before = (await a.call("relay_status")).data.connectedSince;
		// 2 MiB: over the hub's hard frame ceiling (1 MiB), where the hub would close the socket (1009).
		for (const size of [2 * 1024 * 1024, 70_000]) {
			const r = await a.call("relay_send", { to: "Beta", message: "y".repeat(size) });
			expect(r.isError).toBe(true);
			expect(r.text).toBe(
				`E_TOO_LARGE: Message body of ${size} bytes is over the hub's 65536-byte limit; split it or send a file path.`,
			);
		}
		const status = await a.call("relay_status");
		expect(status.data).toMatchObject({ connected: true, connectedSince: before, lastError: null });
		expect(await h.hub.store.countPending("default", "Beta")).toBe(0);
		expect((await b.call("relay_receive")).data.messages).toEqual([]);
		const ok = await a.call("relay_send", { to: "Beta", message: "still here" });
		expect(ok.text).toMatch(/^Delivered live to Beta/);
	});

	it("starts with an invalid session ID but every tool says what to fix", async () => {
		const h = await hub();
		const b = await bridge(h.url, "not valid!", home());
		const sent = await b.call("relay_send", { to: "Alpha", message: "x" });
		expect(sent.isError).toBe(true);
		expect(sent.text).toMatch(
			/^E_BAD_ID: The session ID from CLAUDE_RELAY_SESSION_ID is not usable/,
		);
		expect(sent.text).toMatch(/claude-session/);
		const status = await b.call("relay_status");
		expect(status.data.connected).toBe(false);
		expect(status.data.lastError.code).toBe("E_BAD_ID");
	});
});

describe("identity, secrets and registry", () => {
	it("takes the ID from --client-id when CLAUDE_RELAY_SESSION_ID is unset, and reports Claude's session id", async () => {
		const h = await hub();
		const b = await startBridge({
			url: h.url,
			home: home(),
			args: ["--client-id", "Flagged"],
			env: { RELAY_CLIENT_ID: "FromEnv", CLAUDE_CODE_SESSION_ID: "claude-abc" },
		});
		cleanups.push(() => b.close());
		await online(h, "Flagged");
		const status = await b.call("relay_status");
		expect(status.data).toMatchObject({
			session: "Flagged",
			sessionSource: "--client-id",
			connected: true,
		});
		expect(
			h.hub.presence.holder("default", "Flagged")?.session?.meta.claudeSessionId,
		).toBe("claude-abc");
	});

	it("stores the per-ID secret with mode 0600, and a bridge without it cannot take the ID", async () => {
		const h = await hub();
		const dir = home();
		const a = await bridge(h.url, "Alpha", dir);
		await online(h, "Alpha");
		const file = join(dir, "secrets", "default.Alpha.secret");
		await until(() => existsSync(file), 5_000, "the secret file");
		expect(statSync(file).mode & 0o777).toBe(0o600);
		expect(statSync(join(dir, "secrets")).mode & 0o777).toBe(0o700);
		expect(readFileSync(file, "utf8").trim().length).toBeGreaterThan(10);
		await a.close();
		await until(
			() => !h.hub.presence.holder("default", "Alpha"),
			5_000,
			"Alpha offline",
		);

		const impostor = await bridge(h.url, "Alpha", home());
		const sent = await impostor.call("relay_send", {
			to: "Beta",
			message: "x",
		});
		expect(sent.isError).toBe(true);
		expect(sent.text).toMatch(/^E_ID_TAKEN/);

		const again = await bridge(h.url, "Alpha", dir);
		expect(
			(await again.call("relay_send", { to: "Beta", message: "x" })).isError,
		).toBe(false);
	});

	it("keeps its registry entry current: online with the hub URL while connected, offline after exit", async () => {
		const h = await hub();
		const dir = home();
		const registry = join(dir, "sessions", "registry.json");
		const a = await bridge(h.url, "Alpha", dir);
		await online(h, "Alpha");
		await until(
			() => {
				try {
					return (
						JSON.parse(readFileSync(registry, "utf8")).Alpha?.status ===
						"online"
					);
				} catch {
					return false;
				}
			},
			5_000,
			"registry says online",
		);
		const entry = JSON.parse(readFileSync(registry, "utf8")).Alpha;
		expect(entry).toMatchObject({ id: "Alpha", hubUrl: h.url, pid: a.pid });
		await a.close();
		expect(JSON.parse(readFileSync(registry, "utf8")).Alpha.status).toBe(
			"offline",
		);
		expect(
			statSync(join(dir, "logs", "bridge-Alpha.log")).size,
		).toBeGreaterThan(0);
	});

	it("a bridge with no ID (each `claude mcp list` health check) leaves no session behind when it stops", async () => {
		// A killed bridge says no bye: its session goes after the grace period (short here).
		const h = await startHub({ ephemeralGraceMs: 300 });
		cleanups.push(() => h.stop());
		const dir = home();
		const alpha = await bridge(h.url, "Alpha", dir);
		await online(h, "Alpha");
		const ids: string[] = [];
		// Two runs stopped as Claude Code stops them (stdin closed), one killed outright.
		for (const stop of ["close", "close", "kill"] as const) {
			const b = await startBridge({ url: h.url, home: dir });
			cleanups.push(() => b.close());
			const status = await b.call("relay_status");
			expect(status.data.sessionSource).toBe("hostname-pid");
			const id = status.data.session as string;
			ids.push(id);
			await online(h, id);
			expect((await h.hub.store.getSession("default", id))?.ephemeral).toBe(true);
			if (stop === "close") await b.close();
			else process.kill(b.pid, "SIGKILL");
			await until(async () => (await h.hub.store.getSession("default", id)) === null, 10_000, `${id} forgotten`);
		}
		expect(new Set(ids).size).toBe(3);
		// Nobody else is in the room: no "offline" recipients left behind on every broadcast.
		const sent = await alpha.call("relay_send", { to: "*", message: "anyone?" });
		expect(sent.data).toMatchObject({ live: [], queued: [] });
		expect(sent.data.warnings.map((w: { code: string }) => w.code)).toEqual(["W_NO_RECIPIENTS"]);
		expect((await h.hub.store.listSessions("default")).map((r) => r.session)).toEqual(["Alpha"]);
		// Nor on this machine: no secret file and no registry entry per start.
		for (const id of ids) expect(existsSync(join(dir, "secrets", `default.${id}.secret`))).toBe(false);
		const registry = JSON.parse(readFileSync(join(dir, "sessions", "registry.json"), "utf8"));
		expect(Object.keys(registry)).toEqual(["Alpha"]);
	});

	it("writes only MCP frames to stdout, even with debug logging", async () => {
		const { a, b } = await pair();
		// Any stray line on stdout would make the SDK client fail to parse and drop the connection.
		const errors: Error[] = [];
		a.client.onerror = (e) => errors.push(e);
		b.client.onerror = (e) => errors.push(e);
		await a.call("relay_send", { to: "Beta", message: "x" });
		await a.call("relay_status");
		expect((await b.call("relay_receive")).data.messages).toHaveLength(1);
		expect(errors).toEqual([]);
		expect(a.stderr()).toMatch(/"msg":"connected to the hub"/);
	});
});
