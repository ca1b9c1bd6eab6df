/**
 * Redis itself goes down under load. Two real hub processes share one real redis-server (AOF, appendfsync
 * always); senders on both stream messages to receivers on the other; Redis is SIGKILLed mid-stream, stays
 * down for longer than the hubs' deadline (heartbeat 2 s: a hub is taken for dead 1 s after its last beat),
 * then restarts on the same port and AOF. Then:
 * - while it is down, sends are refused with E_STORAGE and a sentence saying Redis is unreachable;
 * - nothing was acknowledged that is not stored: every acknowledged message is in the store afterwards,
 *   once, and reached its receiver once;
 * - refused sends resent with their idempotency key are stored exactly once (one in flight as Redis died may
 *   have been stored already, its answer lost: the hub says so, and the resend finds it, duplicate: true);
 * - presence survives the outage: no hub took another for dead when Redis came back (no peer_left), and
 *   sends across hubs say `live` again.
 */
import type { ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { HubClient } from "../mcp-client/hub-client.js";
import { ErrorCode, type RelayError } from "../server/errors.js";
import { newIdempotencyKey, type ResultOf } from "../server/protocol.js";
import { ackingReceiver, duplicates, sleep, until, wholeHistory } from "./fixtures/faults.js";
import { memorySecrets, tempDir } from "./fixtures/hub.js";
import { freePort, spawnHub } from "./fixtures/processes.js";
import { hasRedis, redisSkipNote, startRedis, type TestRedis } from "./fixtures/redis.js";

const HEARTBEAT_MS = 2_000;
/** Sends in flight per sender. */
const WINDOW = 4;

interface Attempt {
	n: number;
	key: string;
	body: string;
	result?: ResultOf<"send">;
	error?: RelayError;
}

const children: ChildProcess[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
	for (const c of children.splice(0)) c.kill("SIGKILL");
});

describe.skipIf(!hasRedis)(`Redis down under load, two hub processes${redisSkipNote}`, () => {
	it("refuses sends with E_STORAGE, acknowledges nothing it did not store, and recovers with presence intact", async () => {
		const dir = tempDir("relay-redis-down-");
		cleanups.push(dir.cleanup);
		let redis: TestRedis = await startRedis({ aofDir: dir.dir });
		cleanups.push(() => redis.stop());
		const ports = [await freePort(), await freePort()];
		const urls = ports.map((p) => `ws://127.0.0.1:${p}`) as [string, string];
		const args = ["--db", redis.url, "--heartbeat", String(HEARTBEAT_MS), "--rate-limit", "100000", "--rate-burst", "100000"];
		children.push(...(await Promise.all(ports.map((p) => spawnHub(p, args, { RELAY_HOME: dir.dir })))));

		const open = async (session: string, url: string) => {
			const c = new HubClient({ url, session, secrets: memorySecrets(), keepaliveMs: 0, minReconnectDelayMs: 50, maxReconnectDelayMs: 300, requestTimeoutMs: 30_000, presence: true });
			cleanups.push(() => c.close({ bye: false }));
			await c.waitReady();
			return c;
		};
		// A on hub 1 sends to RB on hub 2; B on hub 2 sends to RA on hub 1.
		const [a, rb, b, ra] = [await open("A", urls[0]), await open("RB", urls[1]), await open("B", urls[1]), await open("RA", urls[0])];
		const got = { RB: ackingReceiver(rb), RA: ackingReceiver(ra) };
		const left: string[] = [];
		for (const r of [ra, rb]) r.on("peer_left", (p) => left.push(`${p.session} ${p.reason}`));
		await until(async () => (await a.send("RB", "warm-up")).live.includes("RB") && (await b.send("RA", "warm-up")).live.includes("RA"), 10_000, "presence across the hubs");

		let phase: "up" | "down" | "back" = "up";
		const stream = async (c: HubClient, to: string) => {
			const out: Attempt[] = [];
			let n = 0;
			const successesSinceBack = () => out.filter((x) => x.result && x.n >= backFrom).length;
			let backFrom = Number.POSITIVE_INFINITY;
			while (phase !== "back" || successesSinceBack() < 40) {
				if (phase === "back" && backFrom === Number.POSITIVE_INFINITY) backFrom = n;
				const batch = Array.from({ length: WINDOW }, () => {
					const attempt: Attempt = { n: n++, key: newIdempotencyKey(), body: `${c.session}#${n - 1}` };
					return c.send(to, attempt.body, { key: attempt.key }).then(
						(result) => ({ ...attempt, result }),
						(error: RelayError) => ({ ...attempt, error }),
					);
				});
				out.push(...(await Promise.all(batch)));
			}
			return out;
		};
		const streams = Promise.all([stream(a, "RB"), stream(b, "RA")]);
		const acked = () => got.RA.length + got.RB.length;
		await until(() => acked() >= 300, 20_000, "the streams to get going");

		// Redis dies (SIGKILL: what its clients see of a crash, a reboot, a network cut) and stays down past every deadline.
		await redis.kill();
		phase = "down";
		const downAt = Date.now();
		await sleep(HEARTBEAT_MS * 1.5);
		redis = await startRedis({ port: redis.port, aofDir: dir.dir });
		phase = "back";
		const downMs = Date.now() - downAt;
		const [fromA, fromB] = await streams;

		// While it was down: refused, with the reason, never a timeout or an internal error.
		for (const attempts of [fromA, fromB]) {
			const errors = attempts.filter((x) => x.error);
			expect(errors.length).toBeGreaterThan(0);
			for (const { error } of errors) {
				expect(error?.code).toBe(ErrorCode.STORAGE);
				expect(error?.message).toMatch(
					/^The hub's storage failed: Redis at redis:\/\/127\.0\.0\.1:\d+\/? is unreachable .*This request was not applied, unless it was already on its way to the storage when the connection dropped; retry it later \(a send with the same key is stored once/,
				);
			}
		}
		expect(downMs).toBeGreaterThan(HEARTBEAT_MS);

		// Refused sends, resent with their keys, are stored once (a request in flight as Redis died may have been applied: then it is a duplicate).
		const retried = new Map<string, ResultOf<"send">>();
		for (const [c, to, attempts] of [
			[a, "RB", fromA],
			[b, "RA", fromB],
		] as const) {
			for (const x of attempts.filter((y) => y.error)) retried.set(x.body, await c.send(to, x.body, { key: x.key }));
			void c;
		}

		for (const [sender, receiver, attempts, client] of [
			["A", "RB", fromA, rb],
			["B", "RA", fromB, ra],
		] as const) {
			const ackedFirst = attempts.filter((x) => x.result).map((x) => x.result as ResultOf<"send">);
			const all = [...ackedFirst, ...attempts.filter((x) => x.error).map((x) => retried.get(x.body) as ResultOf<"send">)];
			// Acknowledged the first time: in the store, once, in the order they were sent.
			const stored = (await wholeHistory(client, sender)).filter((m) => m.body !== "warm-up");
			const storedIds = new Set(stored.map((m) => m.id));
			expect(ackedFirst.filter((r) => !storedIds.has(r.message.id)).map((r) => r.message.body)).toEqual([]);
			expect(duplicates(stored.map((m) => m.body))).toEqual([]);
			expect(stored.map((m) => m.body).sort()).toEqual(all.map((r) => r.message.body).sort());
			const seqs = ackedFirst.map((r) => r.message.seq);
			expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
			// And each reached its receiver once.
			const received = got[receiver].filter((m) => m.body !== "warm-up");
			await until(() => received.length >= all.length || got[receiver].length - 1 >= all.length, 20_000, `${receiver} to get every stored message`);
			const ids = got[receiver].filter((m) => m.body !== "warm-up").map((m) => m.id);
			expect(duplicates(ids)).toEqual([]);
			expect(new Set(ids)).toEqual(storedIds);
		}

		// Presence came through: no hub was taken for dead when Redis returned, and sends across hubs are live.
		expect(left).toEqual([]);
		expect((await a.send("RB", "after")).live).toEqual(["RB"]);
		expect((await b.send("RA", "after")).live).toEqual(["RA"]);
	});
});
