/**
 * Three real hub processes (dist/cli.js hub, each its own process) on one real redis-server, with a short
 * heartbeat. Six clients are spread across them, each listing all three hubs (in a different order), each
 * streaming sends to two others while receiving from two. One hub is SIGKILLed mid-stream (nothing runs on
 * its way out). Then:
 * - every send was acknowledged, and every recipient ends with each message exactly once after dedupe, in
 *   each sender's order, and the store holds each once;
 * - every session that was on the killed hub showed offline on the surviving hubs within one heartbeat
 *   (a watcher on a surviving hub sees its peer_left), including one whose client lists only the killed hub
 *   and so cannot move;
 * - the clients that were on the killed hub moved to another hub and are online there.
 */
import type { ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HubClient } from "../mcp-client/hub-client.js";
import type { Message, ResultOf } from "../server/protocol.js";
import { ackingReceiver, duplicates, sendWindowed, until, wholeHistory } from "./fixtures/faults.js";
import { memorySecrets, tempDir } from "./fixtures/hub.js";
import { freePort, spawnHub, waitFor } from "./fixtures/processes.js";
import { hasRedis, redisSkipNote, startRedis, type TestRedis } from "./fixtures/redis.js";

const HEARTBEAT_MS = 2_000;
const CLIENTS = 6;
/** Messages each client sends (alternately to the next two clients). */
const PER_SENDER = 300;
const WINDOW = 10;
/** SIGKILL the first hub once this many sends (of all clients) have been acknowledged. */
const KILL_AT = 600;

const children: ChildProcess[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
	for (const c of children.splice(0)) c.kill("SIGKILL");
});

describe.skipIf(!hasRedis)(`three hub processes on one Redis, one SIGKILLed under load${redisSkipNote}`, () => {
	let redis: TestRedis;
	beforeAll(async () => {
		redis = await startRedis();
	});
	afterAll(async () => {
		await redis?.stop();
	});

	it("exactly once and in order for every recipient; the dead hub's sessions go offline within a heartbeat; its clients move", async () => {
		const home = tempDir("relay-3hubs-");
		cleanups.push(home.cleanup);
		const ports = [await freePort(), await freePort(), await freePort()];
		const urls = ports.map((p) => `ws://127.0.0.1:${p}`);
		const args = ["--db", redis.url, "--heartbeat", String(HEARTBEAT_MS), "--rate-limit", "100000", "--rate-burst", "100000"];
		const hubs = await Promise.all(ports.map((p) => spawnHub(p, args, { RELAY_HOME: home.dir })));
		children.push(...hubs);
		const [doomed, doomedUrl] = [hubs[0] as ChildProcess, urls[0] as string];

		// presence: the watcher counts joins and leaves; the list of peers in every hello, for the same reason.
		const opts = { keepaliveMs: 0, minReconnectDelayMs: 50, maxReconnectDelayMs: 300, requestTimeoutMs: 60_000, presence: true, helloPeers: 500 };
		const open = (session: string, list: string[]) => {
			const c = new HubClient({ ...opts, url: list, session, secrets: memorySecrets() });
			cleanups.push(() => c.close({ bye: false }));
			return c;
		};
		// The watcher lists only a hub that survives; Stuck lists only the hub that dies, so it cannot move.
		const watcher = open("Watch", [urls[1] as string]);
		const online = new Set<string>();
		const offlineAt = new Map<string, number>();
		let killedAt = 0;
		watcher.on("ready", (h) => {
			for (const p of h.peers) online.add(p.session);
		});
		watcher.on("peer_joined", (p) => online.add(p.session));
		watcher.on("peer_left", (p) => {
			online.delete(p.session);
			if (killedAt > 0 && !offlineAt.has(p.session)) offlineAt.set(p.session, Date.now());
		});
		await watcher.waitReady();
		const stuck = open("Stuck", [doomedUrl]);
		await stuck.waitReady();

		// Client i starts on hub i % 3 and lists the others after it.
		const ids = Array.from({ length: CLIENTS }, (_, i) => `C${i}`);
		const clients = ids.map((id, i) => open(id, [0, 1, 2].map((k) => urls[(i + k) % 3] as string)));
		const got = clients.map((c) => ackingReceiver(c));
		await Promise.all(clients.map((c) => c.waitReady()));
		expect(clients.map((c) => urls.indexOf(c.url))).toEqual([0, 1, 2, 0, 1, 2]);
		await until(() => [...ids, "Stuck"].every((id) => online.has(id)), 10_000, "the watcher to see everyone online");

		// The sessions on the doomed hub when it dies; then the kill, once a third of the sends are acknowledged.
		let acked = 0;
		let onDoomed: string[] = [];
		const kill = () => {
			onDoomed = [...clients.filter((c) => c.ready && c.url === doomedUrl).map((c) => c.session), "Stuck"];
			killedAt = Date.now();
			doomed.kill("SIGKILL");
		};
		const targets = (i: number) => [ids[(i + 1) % CLIENTS] as string, ids[(i + 2) % CLIENTS] as string];
		const bodies = (i: number, to: string) => Array.from({ length: PER_SENDER / 2 }, (_, n) => `${ids[i]}>${to}#${n}`);
		const results = await Promise.all(
			clients.flatMap((c, i) =>
				targets(i).map((to) =>
					sendWindowed(c, to, bodies(i, to), WINDOW / 2, () => {
						if (++acked === KILL_AT) kill();
					}, 60_000),
				),
			),
		);
		expect(killedAt).toBeGreaterThan(0);
		await waitFor(() => doomed.exitCode !== null || doomed.signalCode !== null, 5_000, "the killed hub to be gone");

		// Every send acknowledged, each its own message.
		const sent = results.flat();
		expect(sent).toHaveLength(CLIENTS * PER_SENDER);
		expect(duplicates(sent.map((r: ResultOf<"send">) => r.message.id))).toEqual([]);

		// Every recipient: each message addressed to it exactly once (HubClient dedupes by id; no body twice means
		// no resend was stored twice), in each sender's order; the store holds each once too.
		const mine = (id: string) => sent.filter((r) => r.message.to === id).map((r) => r.message);
		for (const [k, id] of ids.entries()) {
			const expected = mine(id);
			const received = got[k] as Message[];
			await until(() => received.length >= expected.length, 30_000, `${id} to get its ${expected.length} messages`);
			expect(duplicates(received.map((m) => m.id))).toEqual([]);
			expect(duplicates(received.map((m) => m.body))).toEqual([]);
			expect(new Set(received.map((m) => m.id))).toEqual(new Set(expected.map((m) => m.id)));
			for (const from of new Set(expected.map((m) => m.from))) {
				const order = received.filter((m) => m.from === from).map((m) => Number(m.body.split("#")[1]));
				expect(order).toEqual([...order].sort((x, y) => x - y));
				const stored = (await wholeHistory(clients[k] as HubClient, from)).filter((m) => m.to === id);
				expect(stored.map((m) => m.body)).toEqual(bodies(ids.indexOf(from), id));
			}
		}

		// Offline on the surviving hubs within one heartbeat of the kill: every session the killed hub held.
		expect(onDoomed.length).toBeGreaterThanOrEqual(3);
		await until(() => onDoomed.every((id) => offlineAt.has(id)), 10_000, "peer_left for every session of the killed hub");
		const late = onDoomed.map((id) => ({ id, ms: (offlineAt.get(id) as number) - killedAt })).filter((x) => x.ms > HEARTBEAT_MS);
		expect(late).toEqual([]);
		const peers = async (url: string) =>
			((await (await fetch(`${url.replace("ws", "http")}/healthz`)).json()) as { presence: { hubs: number; sessionsOnline: number } }).presence;
		// The clients that were on it moved: online elsewhere, and every surviving hub counts them.
		await until(() => clients.every((c) => c.ready && c.url !== doomedUrl), 10_000, "the killed hub's clients to move");
		// Each surviving hub counts the live hubs at its own next beat (every quarter heartbeat): wait for each,
		// rather than read the second right after the first (under load it may not have beaten yet).
		for (const [i, url] of [urls[1], urls[2]].entries()) {
			await until(async () => {
				const p = await peers(url as string);
				return p.sessionsOnline === CLIENTS + 1 && p.hubs === 2;
			}, 10_000, `hub ${i + 2} to count two hubs and every session but Stuck`);
		}
		expect(await peers(urls[1] as string)).toMatchObject({ hubs: 2, sessionsOnline: CLIENTS + 1 });
		expect(await peers(urls[2] as string)).toMatchObject({ hubs: 2, sessionsOnline: CLIENTS + 1 });
		expect((await watcher.request("peers", {})).peers.map((p) => p.session).sort()).toEqual(ids);
		expect(stuck.ready).toBe(false);
	});
});
