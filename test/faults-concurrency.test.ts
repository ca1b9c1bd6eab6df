/**
 * Concurrency: many sessions sending to one at once. Nothing is lost, nothing is delivered twice, and each
 * sender's messages arrive in the order it sent them, whether the receiver is online throughout, connects
 * in the middle of the burst (backlog replay racing live pushes), or everyone broadcasts at once.
 * (20 processes writing the sessions registry at once is covered by test/registry.test.ts.)
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import type { Message, ResultOf } from "../server/protocol.js";
import { connectClient, connectCollecting, memorySecrets, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { ackingReceiver, bodiesFrom, duplicates, until } from "./fixtures/faults.js";

const SENDERS = 20;
const EACH = 100;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

async function hub(): Promise<TestHub> {
	const d = tempDir();
	// "Everyone broadcasts at once" is 38,000 deliveries in a second, over the default broadcast budget by
	// design; this file is about ordering and duplicates under concurrency, not that bound.
	const h = await startHub({ broadcastDeliveriesPerSecond: 0 }, join(d.dir, "relay.db"));
	cleanups.push(d.cleanup);
	cleanups.push(h.stop);
	return h;
}

async function senders(url: string, prefix = "S"): Promise<HubClient[]> {
	const out = await Promise.all(Array.from({ length: SENDERS }, (_, s) => connectClient(url, `${prefix}${s}`)));
	for (const c of out) cleanups.push(() => c.close({ bye: false }));
	return out;
}

const body = (s: number, i: number) => `S${s}:${i}`;
const expected = (s: number) => Array.from({ length: EACH }, (_, i) => body(s, i));

/** Every sender fires all of its sends at once (all pipelined), all senders together. */
function burst(clients: HubClient[], to: string | ((s: number) => string)): Promise<ResultOf<"send">[][]> {
	return Promise.all(clients.map((c, s) => Promise.all(expected(s).map((b) => c.send(typeof to === "string" ? to : to(s), b)))));
}

/** The checks shared by every case: all there, once, in per-sender order, seqs consistent. */
function expectComplete(got: readonly Message[], results: ResultOf<"send">[][], from: (s: number) => string = (s) => `S${s}`): void {
	expect(got).toHaveLength(results.length * EACH);
	expect(duplicates(got.map((m) => m.id))).toEqual([]);
	expect(duplicates(got.map((m) => m.body))).toEqual([]);
	for (let s = 0; s < results.length; s++) {
		expect(bodiesFrom(got, from(s))).toEqual(expected(s));
		const acked = (results[s] ?? []).map((r) => r.message);
		// What each sender was told (ids, in its order) is what was delivered, in that order.
		expect(got.filter((m) => m.from === from(s)).map((m) => m.id)).toEqual(acked.map((m) => m.id));
		const seqs = acked.map((m) => m.seq);
		expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
		expect(acked.every((m) => m.body === body(s, acked.indexOf(m)))).toBe(true);
	}
	// Pushes reach a connection in commit order.
	const seqs = got.map((m) => m.seq);
	expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
}

describe(`${SENDERS} sessions × ${EACH} messages to one session at once`, () => {
	it("receiver online throughout: all arrive once, in per-sender order", async () => {
		const h = await hub();
		const { client: r } = await connectCollecting(h.url, "R");
		cleanups.push(() => r.close({ bye: false }));
		const got = ackingReceiver(r);
		const clients = await senders(h.url);
		const results = await burst(clients, "R");
		expect(results.flat().every((x) => x.live.includes("R") && !x.duplicate)).toBe(true);
		await until(() => got.length >= SENDERS * EACH, 15_000, "every message");
		expectComplete(got, results);
		await until(async () => (await r.request("inbox", { peek: true })).messages.length === 0, 10_000, "the acks to land");
	});

	it("receiver connects in the middle of the burst: backlog replay and live pushes do not lose or repeat", async () => {
		const h = await hub();
		const secrets = memorySecrets();
		const first = await connectClient(h.url, "R", { secrets });
		await first.close();
		const clients = await senders(h.url);
		const half = EACH / 2;
		// First half: all at once, committed before R connects (its backlog).
		const early = await Promise.all(clients.map((c, s) => Promise.all(expected(s).slice(0, half).map((b) => c.send("R", b)))));
		// Second half: one at a time per sender, so it keeps arriving while R replays its backlog.
		const late = Promise.all(
			clients.map(async (c, s) => {
				const out: ResultOf<"send">[] = [];
				for (const b of expected(s).slice(half)) out.push(await c.send("R", b));
				return out;
			}),
		);
		const { client: r, got } = await connectCollecting(h.url, "R", { secrets });
		cleanups.push(() => r.close({ bye: false }));
		const pendingAtHello = r.hello?.pending ?? -1;
		const rest = await late;
		const results = early.map((e, s) => [...e, ...(rest[s] ?? [])]);
		await until(() => got.length >= SENDERS * EACH, 15_000, "every message");
		// R connected after the first half and before the end of the second.
		expect(pendingAtHello).toBeGreaterThanOrEqual(SENDERS * half);
		expect(pendingAtHello).toBeLessThan(SENDERS * EACH);
		expectComplete(got, results);
	});

	it("receiver offline during the burst: its inbox pages through everything once, in order", async () => {
		const h = await hub();
		const secrets = memorySecrets();
		const first = await connectClient(h.url, "R", { secrets });
		await first.close();
		const clients = await senders(h.url);
		const results = await burst(clients, "R");
		expect(results.flat().every((x) => x.queued.includes("R"))).toBe(true);
		// Read it through inbox pages (no pushes consumed): what a model calling relay_receive sees.
		const r = await connectClient(h.url, "R", { secrets });
		cleanups.push(() => r.close({ bye: false }));
		const read: Message[] = [];
		for (;;) {
			const page = await r.request("inbox", { limit: 137 });
			read.push(...page.messages);
			if (page.remaining === 0) break;
			expect(page.messages.length).toBe(137);
		}
		expectComplete(read, results);
	});

	it("everyone broadcasts at once: each session gets every other's broadcasts once, in per-sender order", async () => {
		const h = await hub();
		const clients = await senders(h.url, "B");
		const gots = clients.map((c) => ackingReceiver(c));
		const results = await burst(clients, "*");
		expect(results.flat().every((x) => x.live.length === SENDERS - 1)).toBe(true);
		await until(() => gots.every((g) => g.length >= (SENDERS - 1) * EACH), 20_000, "every broadcast everywhere");
		for (let k = 0; k < SENDERS; k++) {
			const got = gots[k] as Message[];
			expect(got.some((m) => m.from === `B${k}`)).toBe(false);
			const others = results.map((r, s) => (s === k ? [] : r));
			const fromOthers = got;
			expect(fromOthers).toHaveLength((SENDERS - 1) * EACH);
			expect(duplicates(fromOthers.map((m) => m.id))).toEqual([]);
			for (let s = 0; s < SENDERS; s++) {
				if (s === k) continue;
				expect(bodiesFrom(fromOthers, `B${s}`)).toEqual(expected(s));
				expect(fromOthers.filter((m) => m.from === `B${s}`).map((m) => m.id)).toEqual((others[s] ?? []).map((x) => x.message.id));
			}
		}
	});
});
