/**
 * The accept window (server/accept-window.ts): at most `acceptWindow` accepted sockets are read before their
 * HTTP request is heard; a silent one gives its place up after `acceptSlotMs` while others wait, and is
 * paused again at its handle. Real hubs on port 0 and raw TCP sockets, so the parts of Node the window relies
 * on (http.Server's own connection listener, the handle's readStop/readStart) are exercised as they are.
 */
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Hub } from "../server/hub.js";
import { createStore } from "../server/store/index.js";
import { until } from "./fixtures/faults.js";
import { RawClient, startHub, type TestHub } from "./fixtures/hub.js";

const hubs: TestHub[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
	for (const s of sockets.splice(0)) s.destroy();
	await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

async function hub(options: Parameters<typeof startHub>[0]): Promise<TestHub> {
	const h = await startHub(options);
	hubs.push(h);
	return h;
}

/** A TCP connection that says nothing (the stream's own `closed` tells when the hub closed it). */
function silent(port: number): Socket & { received: string } {
	const s = connect(port, "127.0.0.1") as Socket & { received: string };
	s.received = "";
	s.on("data", (d) => {
		s.received += d.toString("latin1");
	});
	s.on("error", () => {});
	sockets.push(s);
	return s;
}

function healthz(port: number): string {
	return `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`;
}

describe("accept window", () => {
	it("does not read a socket that gave its place up until it gets one again", async () => {
		// A long slot, so the steps below happen well inside B's.
		const { hub: h, port } = await hub({ acceptWindow: 1, acceptSlotMs: 400 });
		const a = silent(port);
		await until(() => h.accepts.open === 1, 5_000, "A's place");
		silent(port);
		await until(() => h.accepts.waiting === 1, 5_000, "B in line");
		await until(() => h.accepts.requeued === 1, 5_000, "A giving its place to B");
		let requeuedAtAnswer = -1;
		const answered = new Promise<void>((resolve) =>
			a.once("data", () => {
				requeuedAtAnswer = h.accepts.requeued;
				resolve();
			}),
		);
		a.write(healthz(port));
		await answered;
		// Read only once B's place expired and A had its turn again. With the parser still reading A's
		// handle (a pause of the stream alone), A was answered at once, with 1.
		expect(requeuedAtAnswer).toBeGreaterThanOrEqual(2);
		await until(() => a.closed === true, 5_000, "A's answer");
		expect(a.received).toMatch(/^HTTP\/1\.1 200 /);
	});

	it("lets a newcomer in past any number of silent sockets, without closing them", async () => {
		const { hub: h, url, port } = await hub({ acceptWindow: 2, acceptSlotMs: 20 });
		const quiet = Array.from({ length: 20 }, () => silent(port));
		await until(() => h.accepts.open + h.accepts.waiting === 20, 5_000, "20 silent sockets accepted");
		const c = new RawClient(url);
		try {
			await c.opened();
			const answer = await c.request({ type: "hello", session: "CC-1", room: "r" });
			expect(answer).toMatchObject({ type: "result", result: { session: "CC-1" } });
		} finally {
			c.ws.terminate();
		}
		expect(h.accepts.requeued).toBeGreaterThan(0);
		expect(quiet.filter((s) => s.closed)).toHaveLength(0);
	});

	it("bounds the line by the connection cap: past it a new socket is read at once, as with no window", async () => {
		const { hub: h, port } = await hub({ acceptWindow: 1, acceptSlotMs: 60_000, maxConnections: 3 });
		silent(port);
		await until(() => h.accepts.open === 1, 5_000, "the first place");
		for (let i = 0; i < 3; i++) silent(port);
		await until(() => h.accepts.waiting === 3, 5_000, "3 in line");
		const extra = silent(port);
		extra.write(healthz(port));
		await until(() => extra.closed === true, 5_000, "the answer to the socket past the line's bound");
		// Answered while the line still held its three (their slot is a minute): it did not wait.
		expect(extra.received).toMatch(/^HTTP\/1\.1 200 /);
		expect(h.accepts.overflowed).toBe(1);
		expect(h.accepts.waiting).toBe(3);
	});

	it("still closes silent sockets at the request deadline while they rotate", async () => {
		// The request deadline is the pre-hello timeout (at least 1 s), counted from a socket's first read.
		const { hub: h, port } = await hub({ acceptWindow: 1, acceptSlotMs: 20, preHelloTimeoutMs: 1_000 });
		const quiet = [silent(port), silent(port), silent(port)];
		await until(() => h.accepts.requeued >= 3, 5_000, "the three rotating");
		await until(() => quiet.every((s) => s.closed), 10_000, "all three closed by the hub");
		expect(h.accepts.open + h.accepts.waiting).toBe(0);
	});

	it("closes the sockets still in line when the hub closes", async () => {
		const h = new Hub({ port: 0, acceptWindow: 1, acceptSlotMs: 60_000 }, { store: createStore(":memory:") });
		const { port } = await h.listen();
		const quiet = [silent(port), silent(port), silent(port)];
		await until(() => h.accepts.open === 1 && h.accepts.waiting === 2, 5_000, "one place, two in line");
		await h.close();
		await until(() => quiet.every((s) => s.closed), 5_000, "every socket closed");
	});

	it("with --accept-window 0 reads every socket at once", async () => {
		const { hub: h, port } = await hub({ acceptWindow: 0 });
		for (let i = 0; i < 5; i++) silent(port);
		const asker = silent(port);
		asker.write(healthz(port));
		await until(() => asker.closed === true, 5_000, "the answer");
		expect(asker.received).toMatch(/^HTTP\/1\.1 200 /);
		expect(h.accepts).toEqual({ waiting: 0, open: 0, requeued: 0, overflowed: 0 });
	});

	it("refuses a window that is not a count", () => {
		for (const acceptWindow of [-1, 1.5, Number.NaN]) {
			expect(() => new Hub({ port: 0, acceptWindow }, { store: createStore(":memory:") })).toThrow(/--accept-window must be an integer, 0 or more/);
		}
	});
});
