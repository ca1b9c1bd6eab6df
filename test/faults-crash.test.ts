/**
 * Crash: a sender streams 5,000 messages while the hub process is killed with SIGKILL, twice, and
 * restarted on the same database and port each time. The sender (HubClient) re-sends what was in flight
 * with the same idempotency keys after each reconnect; the receiver dedupes pushes by id (HubClient does)
 * and acks as it goes. At the end every send is acknowledged, and the receiver and the database both hold
 * each message exactly once, in the order it was sent.
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HubClient } from "../mcp-client/hub-client.js";
import { memorySecrets, tempDir } from "./fixtures/hub.js";
import { ackingReceiver, duplicates, sendWindowed, until, wholeHistory } from "./fixtures/faults.js";
import { freePort, spawnHub, waitFor } from "./fixtures/processes.js";

const N = 5_000;
const WINDOW = 100;
/** Kill the hub when this many sends have been acknowledged. */
const KILL_AT = [1_200, 3_200];

const children: ChildProcess[] = [];
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
	for (const c of children.splice(0)) c.kill("SIGKILL");
});

describe("the hub SIGKILLed mid-stream and restarted on the same database", () => {
	it("every acknowledged message reaches the receiver exactly once, in order, and is stored once", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const port = await freePort();
		const url = `ws://127.0.0.1:${port}`;
		// Rate limits raised: a 5,000-message stream is the point here, not the throttle.
		const args = ["--db", join(dir, "relay.db"), "--rate-limit", "100000", "--rate-burst", "100000"];
		let hub = await spawnHub(port, args);
		children.push(hub);

		const opts = { url, keepaliveMs: 0, minReconnectDelayMs: 50, maxReconnectDelayMs: 300, requestTimeoutMs: 60_000 };
		const b = new HubClient({ ...opts, session: "B", secrets: memorySecrets() });
		cleanups.push(() => b.close({ bye: false }));
		const got = ackingReceiver(b);
		await b.waitReady();
		const a = new HubClient({ ...opts, session: "A", secrets: memorySecrets() });
		cleanups.push(() => a.close({ bye: false }));
		let drops = 0;
		a.on("disconnected", () => drops++);
		await a.waitReady();

		const kills: Array<{ acked: number; received: number }> = [];
		let restarting: Promise<void> = Promise.resolve();
		const killAndRestart = async () => {
			const old = hub;
			old.kill("SIGKILL");
			await waitFor(() => old.exitCode !== null || old.signalCode !== null, 5_000, "the hub to die");
			hub = await spawnHub(port, args);
			children.push(hub);
		};
		const bodies = Array.from({ length: N }, (_, i) => `crash ${i}`);
		const results = await sendWindowed(a, "B", bodies, WINDOW, (acked) => {
			if (kills.length < KILL_AT.length && acked >= (KILL_AT[kills.length] as number)) {
				kills.push({ acked, received: got.length });
				restarting = restarting.then(killAndRestart);
			}
		});
		await restarting;

		// Both kills happened mid-stream, with sends still to go.
		expect(kills.map((k) => k.acked)).toEqual(KILL_AT);
		expect(kills.every((k) => k.acked < N)).toBe(true);
		expect(drops).toBeGreaterThanOrEqual(2);

		// Every send acknowledged, each with its own message, in send order.
		expect(results.map((r) => r.message.body)).toEqual(bodies);
		expect(duplicates(results.map((r) => r.message.id))).toEqual([]);
		const seqs = results.map((r) => r.message.seq);
		expect(seqs).toEqual([...seqs].sort((x, y) => x - y));

		// The receiver: each exactly once (by id and by body), in order, the ids the sender was told.
		await until(() => got.length >= N, 20_000, "the receiver to get every message");
		expect(duplicates(got.map((m) => m.id))).toEqual([]);
		expect(duplicates(got.map((m) => m.body))).toEqual([]);
		expect(got.map((m) => m.body)).toEqual(bodies);
		expect(got.map((m) => m.id)).toEqual(results.map((r) => r.message.id));

		// The database: the conversation holds each message once; the receiver's acks landed.
		const stored = await wholeHistory(b, "A");
		expect(stored.map((m) => m.id)).toEqual(results.map((r) => r.message.id));
		await until(async () => (await b.request("inbox", { peek: true })).messages.length === 0, 10_000, "every ack to land");
	});
});
