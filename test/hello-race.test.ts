/**
 * A connection holds one session ID. Two hellos written back to back on one socket (pipelined: the second
 * leaves before the first is answered) must bind one ID and refuse the other, and closing the socket must
 * leave nothing online. Raw frames on a real hub, thousands of tries.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../server/errors.js";
import { join } from "node:path";
import { RawClient, startHub, tempDir, type TestHub } from "./fixtures/hub.js";
import { hasRedis, redisSkipNote, startRedis, startRedisHub, type TestRedis, uniquePrefix } from "./fixtures/redis.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

async function hubWith(opts: Parameters<typeof startHub>[0] = {}, db?: string): Promise<TestHub> {
	// Thousands of fresh IDs from one address: the caps on new IDs are not what this file is about.
	const h = await startHub({ newSessionsPerMinute: 0, maxSessionsPerRoom: 0, ...opts }, db);
	cleanups.push(h.stop);
	return h;
}

async function health(port: number): Promise<{ sessionsOnline: number; connections: number }> {
	return (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { sessionsOnline: number; connections: number };
}

async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await pred())) {
		if (Date.now() > deadline) throw new Error("condition not met in time");
		await new Promise((r) => setTimeout(r, 20));
	}
}

/** Opens a socket, writes both hellos in one go, and returns the two answers (in request order). */
async function doubleHello(url: string, first: Record<string, unknown>, second: Record<string, unknown>) {
	const r = new RawClient(url);
	await r.opened();
	// One write for both frames, so the hub reads them in the same turn: the second is parsed and
	// dispatched before the first has finished its claim.
	const a = JSON.stringify({ type: "hello", id: "h1", ...first });
	const b = JSON.stringify({ type: "hello", id: "h2", ...second });
	(r.ws as unknown as { _socket: import("node:net").Socket })._socket.cork();
	r.sendRaw(a);
	r.sendRaw(b);
	(r.ws as unknown as { _socket: import("node:net").Socket })._socket.uncork();
	const answers = await Promise.all([
		r.next((f) => f.id === "h1" && (f.type === "result" || f.type === "error")),
		r.next((f) => f.id === "h2" && (f.type === "result" || f.type === "error")),
	]);
	return { r, answers };
}

describe("two hellos pipelined on one connection", () => {
	it("bind exactly one ID, thousands of times; after close nothing stays online", async () => {
		const { url, port, hub } = await hubWith();
		const TRIES = 2_000;
		const BATCH = 100;
		let doubles = 0;
		let wrongCode = 0;
		for (let start = 0; start < TRIES; start += BATCH) {
			const batch = await Promise.all(
				Array.from({ length: BATCH }, (_, j) => doubleHello(url, { session: `A${start + j}` }, { session: `B${start + j}` })),
			);
			for (const { r, answers } of batch) {
				const results = answers.filter((f) => f.type === "result").length;
				if (results !== 1) doubles++;
				else if (answers.find((f) => f.type === "error")?.code !== ErrorCode.ALREADY_REGISTERED) wrongCode++;
				r.close();
			}
		}
		await until(async () => (await health(port)).connections === 0);
		const h = await health(port);
		// Counted first, asserted after: a failure says how many of the tries bound two IDs and how many
		// sessions stayed "online" with no connection left.
		expect({ doubles, wrongCode, sessionsOnline: h.sessionsOnline, presence: hub.presence.size }).toEqual({
			doubles: 0,
			wrongCode: 0,
			sessionsOnline: 0,
			presence: 0,
		});
		// Every bound ID is offline in the store's view too: nothing thinks it is held.
		for (const id of ["A0", "B0", `A${TRIES - 1}`]) expect(hub.presence.holder("default", id)).toBeUndefined();
	}, 120_000);

	it("the same ID twice: one result and one E_ALREADY_REGISTERED", async () => {
		const { url, port } = await hubWith();
		const secret = "s".repeat(43); // adoptable: both hellos would be accepted as a first claim alone
		for (let i = 0; i < 200; i++) {
			const { r, answers } = await doubleHello(url, { session: `Same${i}`, secret }, { session: `Same${i}`, secret });
			expect(answers.map((f) => f.type).sort()).toEqual(["error", "result"]);
			expect(answers.find((f) => f.type === "error")?.code).toBe(ErrorCode.ALREADY_REGISTERED);
			r.close();
		}
		await until(async () => (await health(port)).connections === 0);
		expect((await health(port)).sessionsOnline).toBe(0);
	}, 60_000);

	it("a hello refused for its ID leaves the connection free to say hello again", async () => {
		const { url } = await hubWith();
		const first = new RawClient(url);
		cleanups.push(() => first.close());
		await first.opened();
		expect((await first.request({ type: "hello", session: "Taken" })).type).toBe("result");
		const r = new RawClient(url);
		cleanups.push(() => r.close());
		await r.opened();
		const refused = await r.request({ type: "hello", session: "Taken" });
		expect(refused.code).toBe(ErrorCode.ID_TAKEN);
		const ok = await r.request({ type: "hello", session: "Free" });
		expect(ok.type).toBe("result");
		const again = await r.request({ type: "hello", session: "Other" });
		expect(again.code).toBe(ErrorCode.ALREADY_REGISTERED);
	});
});

/**
 * A send to an ID racing that ID's hello: queued before the claim (caught up), committed between the claim
 * and the hello's count of its backlog, or after (pushed live). On one hub, a hello that counts nothing
 * pending goes live without reading the inbox (Connection.noBacklog, then startAfterHello), so a message
 * committed after the count must still reach it: every one arrives, exactly once, whatever the order the hub
 * reads the two frames in. On Redis, with the sender on another hub, the count is a round trip and the push
 * can land inside it (there the hub reads after hello, as before).
 */
async function raceTrials(senderUrl: string, recipientUrl: string): Promise<void> {
	const sender = new RawClient(senderUrl);
	cleanups.push(() => sender.close());
	await sender.opened();
	expect((await sender.request({ type: "hello", session: "Sender" })).type).toBe("result");
	const TRIES = 300;
	const BATCH = 25;
	for (let start = 0; start < TRIES; start += BATCH) {
		const trials = Array.from({ length: BATCH }, async (_, k) => {
			const i = start + k;
			const r = new RawClient(recipientUrl);
			cleanups.push(() => r.close());
			await r.opened();
			const hello = () => r.sendRaw(JSON.stringify({ type: "hello", id: "h", session: `Late${i}`, presence: false, peers: 0 }));
			const send = () => sender.sendRaw(JSON.stringify({ type: "send", id: `s${i}`, to: `Late${i}`, body: `m${i}` }));
			// Same tick in both orders, and the send one turn after the hello.
			if (i % 3 === 0) {
				hello();
				send();
			} else if (i % 3 === 1) {
				send();
				hello();
			} else {
				hello();
				setImmediate(send);
			}
			expect((await r.next((f) => f.id === "h")).type).toBe("result");
			await r.next((f) => f.type === "message" && (f.message as { body: string }).body === `m${i}`, 5_000);
			return r;
		});
		const done = await Promise.all(trials);
		await new Promise((res) => setTimeout(res, 50));
		for (const r of done) {
			expect(r.frames.filter((f) => f.type === "message")).toEqual([]);
			r.close();
		}
	}
	const answers = sender.frames.filter((f) => f.type === "result" || f.type === "error");
	expect(answers.filter((f) => f.type === "result")).toHaveLength(TRIES);
}

describe("a send racing its recipient's hello", () => {
	for (const store of ["memory", "sqlite"] as const) {
		it(`reaches the recipient exactly once, hundreds of times (${store})`, async () => {
			const dir = tempDir("relay-hello-race-");
			cleanups.push(dir.cleanup);
			const { url } = await hubWith({}, store === "memory" ? ":memory:" : join(dir.dir, "relay.db"));
			await raceTrials(url, url);
		}, 120_000);
	}
});

describe.skipIf(!hasRedis)(`a send racing its recipient's hello, across two hubs on Redis${redisSkipNote}`, () => {
	let server: TestRedis;
	beforeAll(async () => {
		server = await startRedis();
	});
	afterAll(async () => {
		await server?.stop();
	});

	it("reaches the recipient exactly once, hundreds of times", async () => {
		const prefix = uniquePrefix();
		const start = async () => {
			const { hub, url } = await startRedisHub(server.url, prefix, { newSessionsPerMinute: 0, maxSessionsPerRoom: 0 });
			cleanups.push(() => hub.close());
			return url;
		};
		const [a, b] = [await start(), await start()];
		await raceTrials(a, b);
	}, 120_000);
});
