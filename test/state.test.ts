/**
 * Shared state and watches through a real hub on port 0: every state frame with good and bad input (raw
 * frames, as an attacker would send them), E_CONFLICT with the current key, the bounds (value size, nesting,
 * keys per room, watches per connection) and state_changed pushes.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import { ErrorCode, RelayError } from "../server/errors.js";
import type { StateChangedPush } from "../server/protocol.js";
import { connectClient, RawClient, startHub, type TestHub } from "./fixtures/hub.js";

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
async function rawSession(url: string, session: string, room = "default"): Promise<RawClient> {
	const r = new RawClient(url);
	cleanups.push(() => r.close());
	await r.opened();
	const hello = await r.request({ type: "hello", session, room });
	expect(hello.type).toBe("result");
	return r;
}
function changes(c: HubClient): StateChangedPush[] {
	const got: StateChangedPush[] = [];
	c.on("state_changed", (e) => got.push(e));
	return got;
}
async function until(pred: () => boolean, timeoutMs = 3_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!pred()) {
		if (Date.now() > deadline) throw new Error("condition not met in time");
		await new Promise((r) => setTimeout(r, 10));
	}
}
async function failure(p: Promise<unknown>): Promise<RelayError> {
	try {
		await p;
	} catch (err) {
		if (err instanceof RelayError) return err;
		throw err;
	}
	throw new Error("expected the request to fail");
}

describe("state frames", () => {
	it("set, get, append, list, delete: the result shapes", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const before = Date.now();
		const set = await a.request("state_set", { key: "plan/api", value: { steps: ["design"], owner: "A" } });
		expect(set).toEqual({ entry: { key: "plan/api", version: 1, updatedBy: "A", updatedAt: expect.any(Number), size: JSON.stringify({ steps: ["design"], owner: "A" }).length }, created: true });
		expect(set.entry.updatedAt).toBeGreaterThanOrEqual(before);
		expect(await a.request("state_get", { key: "plan/api" })).toEqual({ entry: { ...set.entry, value: { steps: ["design"], owner: "A" } } });
		expect(await a.request("state_get", { key: "nope" })).toEqual({ entry: null });
		const app = await a.request("state_append", { key: "log", item: "first", maxItems: 2 });
		expect(app).toMatchObject({ entry: { key: "log", version: 1 }, length: 1, dropped: 0 });
		await a.request("state_append", { key: "log", item: "second" });
		expect(await a.request("state_append", { key: "log", item: "third", maxItems: 2 })).toMatchObject({ length: 2, dropped: 1, entry: { version: 3 } });
		expect((await a.request("state_get", { key: "log" })).entry?.value).toEqual(["second", "third"]);
		const list = await a.request("state_list", { prefix: "plan/" });
		expect(list).toEqual({ entries: [set.entry], hasMore: false });
		expect(await a.request("state_delete", { key: "plan/api", expectedVersion: 1 })).toEqual({ deleted: true, version: 1 });
		expect(await a.request("state_delete", { key: "plan/api" })).toEqual({ deleted: false, version: null });
	});

	it("E_CONFLICT carries the current key, value included, and changes nothing", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const b = await client(url, "B");
		await a.request("state_set", { key: "counter", value: 0, expectedVersion: 0 });
		const again = await failure(b.request("state_set", { key: "counter", value: 5, expectedVersion: 0 }));
		expect(again.code).toBe(ErrorCode.CONFLICT);
		expect(again.message).toMatch(/already exists .*version 1.*by A/);
		expect(again.details).toEqual({ current: { key: "counter", version: 1, updatedBy: "A", updatedAt: expect.any(Number), size: 1, value: 0 } });
		await a.request("state_set", { key: "counter", value: 1, expectedVersion: 1 });
		const stale = await failure(b.request("state_set", { key: "counter", value: 1, expectedVersion: 1 }));
		expect(stale).toMatchObject({ code: ErrorCode.CONFLICT, details: { current: { version: 2, value: 1 } } });
		const gone = await failure(b.request("state_set", { key: "missing", value: 1, expectedVersion: 4 }));
		expect(gone).toMatchObject({ code: ErrorCode.CONFLICT, details: { current: null } });
		expect(gone.message).toMatch(/does not exist/);
		const del = await failure(b.request("state_delete", { key: "counter", expectedVersion: 1 }));
		expect(del).toMatchObject({ code: ErrorCode.CONFLICT, details: { current: { version: 2 } } });
		expect((await a.request("state_get", { key: "counter" })).entry).toMatchObject({ version: 2, value: 1 });
	});

	it("refuses bad keys, prefixes and frames with stable codes, and the connection stays usable", async () => {
		const { url } = await hubWith();
		const r = await rawSession(url, "A");
		const bad = ["", "a b", "k\u0000", "é", "x".repeat(257), "a\nb", 'q"', "a\\b", "~x", "a*"];
		for (const key of bad) {
			const res = await r.request({ type: "state_set", key, value: 1 });
			expect(res, JSON.stringify(key)).toMatchObject({ type: "error", code: ErrorCode.BAD_KEY });
		}
		expect(await r.request({ type: "state_get", key: "x".repeat(2000) })).toMatchObject({ type: "error", code: ErrorCode.BAD_FRAME });
		expect(await r.request({ type: "state_list", prefix: "a b" })).toMatchObject({ code: ErrorCode.BAD_KEY });
		expect(await r.request({ type: "state_list", prefix: "" })).toMatchObject({ type: "result" });
		expect(await r.request({ type: "watch", prefix: "no spaces" })).toMatchObject({ code: ErrorCode.BAD_KEY });
		// every character a key may have; a key is a name, never a path, so "../x" is just a name
		expect(await r.request({ type: "state_set", key: "A-z_0.9:/x", value: 1 })).toMatchObject({ type: "result" });
		expect(await r.request({ type: "state_set", key: "../etc/passwd", value: 1 })).toMatchObject({ type: "result" });
		expect(await r.request({ type: "state_get", key: "../etc/passwd" })).toMatchObject({ result: { entry: { value: 1 } } });
		// value missing, expectedVersion wrong types
		expect(await r.request({ type: "state_set", key: "k" })).toMatchObject({ code: ErrorCode.BAD_FRAME, message: expect.stringMatching(/value/) });
		expect(await r.request({ type: "state_append", key: "k" })).toMatchObject({ code: ErrorCode.BAD_FRAME, message: expect.stringMatching(/item/) });
		expect(await r.request({ type: "state_set", key: "k", value: 1, expectedVersion: -1 })).toMatchObject({ code: ErrorCode.BAD_FRAME });
		expect(await r.request({ type: "state_set", key: "k", value: 1, expectedVersion: 1.5 })).toMatchObject({ code: ErrorCode.BAD_FRAME });
		expect(await r.request({ type: "state_delete", key: "k", expectedVersion: 0 })).toMatchObject({ code: ErrorCode.BAD_FRAME });
		expect(await r.request({ type: "state_append", key: "k", item: 1, maxItems: 0 })).toMatchObject({ code: ErrorCode.BAD_FRAME });
		expect(await r.request({ type: "state_append", key: "k", item: 1, maxItems: 10_001 })).toMatchObject({ code: ErrorCode.BAD_FRAME });
		expect(await r.request({ type: "state_list", limit: 1001 })).toMatchObject({ code: ErrorCode.BAD_FRAME });
		// null is a value
		expect(await r.request({ type: "state_set", key: "k", value: null })).toMatchObject({ type: "result" });
		expect(await r.request({ type: "state_get", key: "k" })).toMatchObject({ result: { entry: { value: null } } });
		expect(await r.request({ type: "state_append", key: "k", item: 1 })).toMatchObject({ code: ErrorCode.NOT_ARRAY });
		expect(await r.request({ type: "ping" })).toMatchObject({ type: "result" });
	});

	it("state requests before hello are E_NOT_REGISTERED", async () => {
		const { url } = await hubWith();
		const r = new RawClient(url);
		cleanups.push(() => r.close());
		await r.opened();
		expect(await r.request({ type: "state_get", key: "k" })).toMatchObject({ code: ErrorCode.NOT_REGISTERED });
		expect(await r.request({ type: "claim", repo: "x", paths: ["a"] })).toMatchObject({ code: ErrorCode.NOT_REGISTERED });
	});

	it("values are bounded by the body limit, in UTF-8 bytes of their JSON", async () => {
		const { url } = await hubWith({ maxBodyBytes: 100 });
		const r = await rawSession(url, "A");
		expect(await r.request({ type: "state_set", key: "k", value: "x".repeat(98) })).toMatchObject({ type: "result" }); // 100 bytes
		const over = await r.request({ type: "state_set", key: "k", value: "x".repeat(99) });
		expect(over).toMatchObject({ code: ErrorCode.TOO_LARGE, message: expect.stringMatching(/101 bytes .* 100-byte/) });
		expect(await r.request({ type: "state_set", key: "j", value: "é".repeat(50) })).toMatchObject({ code: ErrorCode.TOO_LARGE });
		// An append that would grow the array past the limit, and one that maxItems keeps under it.
		await r.request({ type: "state_set", key: "log", value: ["y".repeat(93)] }); // 97 bytes; with ,"z": 101
		expect(await r.request({ type: "state_append", key: "log", item: "z" })).toMatchObject({ code: ErrorCode.TOO_LARGE });
		expect(await r.request({ type: "state_append", key: "log", item: "z", maxItems: 1 })).toMatchObject({ type: "result", result: { length: 1 } });
		expect(await r.request({ type: "state_get", key: "k" })).toMatchObject({ result: { entry: { version: 1 } } });
	});

	it("values nested deeper than 64 levels are refused, and the hub does not overflow its stack", async () => {
		const { url } = await hubWith({ maxFrameBytes: 1024 * 1024, hardMaxPayloadBytes: 2 * 1024 * 1024 });
		const r = await rawSession(url, "A");
		const nested = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
		r.sendRaw(`{"type":"state_set","id":"deep","key":"k","value":${nested(64)}}`);
		expect(await r.next((f) => f.id === "deep")).toMatchObject({ type: "result" });
		r.sendRaw(`{"type":"state_set","id":"deeper","key":"k","value":${nested(65)}}`);
		expect(await r.next((f) => f.id === "deeper")).toMatchObject({ code: ErrorCode.BAD_FRAME, message: expect.stringMatching(/deeper than 64/) });
		// Far deeper than JSON.stringify could recurse: refused all the same.
		r.sendRaw(`{"type":"state_set","id":"abyss","key":"k","value":${nested(200_000)}}`);
		expect(await r.next((f) => f.id === "abyss")).toMatchObject({ code: ErrorCode.BAD_FRAME });
		r.sendRaw(`{"type":"state_append","id":"abyss2","key":"k","item":{"a":${nested(100_000)}}}`);
		expect(await r.next((f) => f.id === "abyss2")).toMatchObject({ code: ErrorCode.BAD_FRAME });
		expect(await r.request({ type: "ping" })).toMatchObject({ type: "result" });
	});

	it("a room holds at most stateMaxKeys keys and stateMaxRoomBytes bytes (E_LIMIT); other rooms are apart", async () => {
		const { url } = await hubWith({ stateMaxKeys: 2, stateMaxRoomBytes: 40 });
		const a = await rawSession(url, "A");
		expect(await a.request({ type: "state_set", key: "one", value: 1 })).toMatchObject({ type: "result" });
		expect(await a.request({ type: "state_set", key: "two", value: "x".repeat(30) })).toMatchObject({ type: "result" });
		const keys = await a.request({ type: "state_set", key: "three", value: 1 });
		expect(keys).toMatchObject({ code: ErrorCode.LIMIT, message: expect.stringMatching(/2 state keys/) });
		expect(await a.request({ type: "state_set", key: "one", value: "y".repeat(10) })).toMatchObject({ code: ErrorCode.LIMIT, message: expect.stringMatching(/bytes/) });
		const other = await rawSession(url, "B", "other");
		expect(await other.request({ type: "state_set", key: "three", value: 1 })).toMatchObject({ type: "result" });
		await a.request({ type: "state_delete", key: "two" });
		expect(await a.request({ type: "state_set", key: "three", value: 1 })).toMatchObject({ type: "result" });
	});

	it("rooms do not see each other's state", async () => {
		const { url } = await hubWith();
		const a = await rawSession(url, "A", "one");
		const b = await rawSession(url, "A", "two");
		await a.request({ type: "state_set", key: "k", value: "one" });
		expect(await b.request({ type: "state_get", key: "k" })).toMatchObject({ result: { entry: null } });
		expect(await b.request({ type: "state_list" })).toMatchObject({ result: { entries: [] } });
	});
});

describe("watch and state_changed", () => {
	it("watchers of a prefix get every change under it, from anyone, with version and writer", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const b = await client(url, "B");
		const got = changes(b);
		expect(await b.request("watch", { prefix: "tasks/" })).toEqual({ watching: ["tasks/"] });
		await a.request("state_set", { key: "tasks/1", value: "x" });
		await a.request("state_append", { key: "tasks/log", item: 1 });
		await a.request("state_set", { key: "other", value: 1 });
		await b.request("state_set", { key: "tasks/1", value: "y" });
		await a.request("state_delete", { key: "tasks/1" });
		await until(() => got.length === 4);
		expect(got.map(({ key, version, updatedBy, deleted }) => ({ key, version, updatedBy, deleted }))).toEqual([
			{ key: "tasks/1", version: 1, updatedBy: "A", deleted: false },
			{ key: "tasks/log", version: 1, updatedBy: "A", deleted: false },
			{ key: "tasks/1", version: 2, updatedBy: "B", deleted: false },
			{ key: "tasks/1", version: 2, updatedBy: "A", deleted: true },
		]);
		expect(got[0]).toEqual({ type: "state_changed", room: "default", key: "tasks/1", version: 1, updatedBy: "A", updatedAt: expect.any(Number), deleted: false });
		// A refused write changes nothing and pushes nothing.
		await failure(a.request("state_set", { key: "tasks/2", value: 1, expectedVersion: 3 }));
		await a.request("state_set", { key: "tasks/3", value: 1 });
		await until(() => got.length === 5);
		expect(got[4]?.key).toBe("tasks/3");
	});

	it("unwatch one prefix or all; a watch ends with its connection; the empty prefix watches everything", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const b = await client(url, "B");
		const got = changes(b);
		await b.request("watch", { prefix: "x/" });
		expect(await b.request("watch", { prefix: "" })).toEqual({ watching: ["", "x/"] });
		await a.request("state_set", { key: "anything", value: 1 });
		await until(() => got.length === 1);
		expect(await b.request("unwatch", { prefix: "" })).toEqual({ watching: ["x/"] });
		expect(await b.request("unwatch", {})).toEqual({ watching: [] });
		await a.request("state_set", { key: "x/1", value: 1 });
		// A second connection of B watches, then closes: no push reaches anybody after that.
		const c = await client(url, "C");
		await c.request("watch", { prefix: "" });
		const gotC = changes(c);
		await a.request("state_set", { key: "x/2", value: 1 });
		await until(() => gotC.length === 1);
		await c.close({ bye: true });
		await a.request("state_set", { key: "x/3", value: 1 });
		await a.request("ping", {});
		await new Promise((r) => setTimeout(r, 50));
		expect(got).toHaveLength(1);
		expect(gotC).toHaveLength(1);
	});

	it("watches in another room see nothing", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A", { room: "one" });
		const b = await client(url, "B", { room: "two" });
		const got = changes(b);
		await b.request("watch", { prefix: "" });
		await a.request("state_set", { key: "k", value: 1 });
		await b.request("state_set", { key: "mine", value: 1 });
		await until(() => got.length === 1);
		expect(got[0]?.key).toBe("mine");
	});

	it("at most maxWatches prefixes per connection (E_LIMIT); watching one again is free", async () => {
		const { url } = await hubWith({ maxWatches: 2 });
		const r = await rawSession(url, "A");
		await r.request({ type: "watch", prefix: "a" });
		await r.request({ type: "watch", prefix: "b" });
		expect(await r.request({ type: "watch", prefix: "a" })).toMatchObject({ result: { watching: ["a", "b"] } });
		expect(await r.request({ type: "watch", prefix: "c" })).toMatchObject({ code: ErrorCode.LIMIT, message: expect.stringMatching(/2 prefixes/) });
		await r.request({ type: "unwatch", prefix: "a" });
		expect(await r.request({ type: "watch", prefix: "c" })).toMatchObject({ result: { watching: ["b", "c"] } });
	});

	it("a watcher that stopped reading gets no more pushes past the send-buffer mark: dropped, not buffered without end", async () => {
		const mark = 64 * 1024;
		const { hub, url } = await hubWith({ sendBufferHighBytes: mark, rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000, slowConsumerMs: 600_000 });
		const watcher = await rawSession(url, "W");
		expect(await watcher.request({ type: "watch", prefix: "" })).toMatchObject({ type: "result" });
		// The watcher's process stops reading its socket: the kernel buffers fill, then the hub's.
		(watcher.ws as unknown as { _socket: import("node:net").Socket })._socket.pause();
		const writer = await client(url, "A");
		const key = (i: number) => `k/${"x".repeat(240)}/${i % 50}`;
		const conn = hub.presence.holder("default", "W");
		let maxBuffered = 0;
		for (let round = 0; round < 40 && hub.watches.dropped === 0; round++) {
			await Promise.all(Array.from({ length: 500 }, (_, i) => writer.request("state_set", { key: key(round * 500 + i), value: round })));
			maxBuffered = Math.max(maxBuffered, conn?.ws.bufferedAmount ?? 0);
		}
		expect(hub.watches.dropped).toBeGreaterThan(0);
		// Never more than the mark plus the one push that crossed it.
		expect(maxBuffered).toBeLessThanOrEqual(mark + 1024);
		expect(conn?.ws.bufferedAmount ?? 0).toBeLessThanOrEqual(mark + 1024);
	});
});
