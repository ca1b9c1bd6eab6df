/**
 * Session flood: what the caps on sessions leave of a well-behaved pair's latency while a client on the same
 * machine floods the hub (issue 10: 20,000 minted IDs made each broadcast block the hub ~50 ms and pushed the
 * pair's p50 from 0.6 ms to 1.7 s). Both hubs run the default limits: 200 frames/s per connection (burst
 * 2,000), 60 new IDs a minute per address, 500 sessions a room.
 *
 *   1. Minting: `mintAttempts` hellos with fresh IDs, 64 at a time: how many get in before E_CLAIM_RATE.
 *   2. A broadcast flood at the caps, on a second hub started with --new-sessions-per-minute 0 so that the
 *      room fills in seconds rather than the eight minutes the default rate allows: the attacker fills the
 *      pair's room to its cap (E_ROOM_FULL past it) with sessions that then go offline, so every broadcast
 *      queues a delivery for each of them, and `flooders` of its connections broadcast at the legal sustained
 *      rate (200/s each) for `seconds`. The pair (A sends to B, one message at a time, send → push) is
 *      measured before and during; the database's growth and the hub's disk writes during the flood too.
 *      Run twice: with every default limit, and without the broadcast delivery budget
 *      (--broadcast-deliveries-per-second 0), which shows what the caps on sessions alone leave.
 */
import { readFileSync, statSync } from "node:fs";
import { type BenchHub, sleep, spawnBenchHub } from "./procs.js";
import { type Summary, summarize } from "./stats.js";
import { answerKind, bodyOf, connectAs, openMany, sendFrame, type Wire } from "./wire.js";

export interface FloodOptions {
	mintAttempts: number;
	/** Hellos with fresh IDs tried against the full room (past its cap). */
	fillAttempts: number;
	flooders: number;
	/** Broadcasts per second per flooder: the sustained rate limit, so every frame is legal. */
	perSecond: number;
	seconds: number;
	/** Pair samples before the flood. */
	baselineSamples: number;
	bodyBytes: number;
}

export interface FloodResult {
	options: FloodOptions;
	mint: { accepted: number; claimRate: number; other: number; seconds: number };
	/** Every default limit. */
	capsAndBudget: FloodRun;
	/** --broadcast-deliveries-per-second 0: the caps on sessions alone. */
	capsOnly: FloodRun;
}

export interface FloodRun {
	/** Hub flags beyond the defaults (and --new-sessions-per-minute 0, to fill the room in seconds). */
	args: string[];
	fill: { accepted: number; roomFull: number; other: number; sessionsInRoom: number };
	/** send → push, microseconds. */
	baseline: Summary;
	during: Summary;
	flood: {
		sent: number;
		acked: number;
		rateLimited: number;
		errors: number;
		firstError: string | null;
		/** Broadcasts the hub acknowledged per second, all flooders together. */
		ackedPerSecond: number;
		/** Deliveries queued per second (pendingDeliveries at /healthz, before and after). */
		deliveriesPerSecond: number;
	};
	dbGrowthBytes: number;
	/** Bytes the hub process made the kernel write to storage during the flood (/proc/<pid>/io), or null. */
	diskWriteBytes: number | null;
	hubRssAfter: number;
}

const PAIR_TAG = "pair-";

async function health(hub: BenchHub): Promise<{ pendingDeliveries: number; sessionsOnline: number }> {
	return (await (await fetch(`http://127.0.0.1:${hub.port}/healthz`)).json()) as { pendingDeliveries: number; sessionsOnline: number };
}

function diskWrites(pid: number): number | null {
	try {
		const m = /^write_bytes:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
		return m ? Number(m[1]) : null;
	} catch {
		return null;
	}
}

function dbBytes(db: string): number {
	let n = 0;
	for (const f of [db, `${db}-wal`]) {
		try {
			n += statSync(f).size;
		} catch {
			// not there (yet)
		}
	}
	return n;
}

/** Hellos with fresh IDs `<prefix><i>`, 64 at a time; the wires that got in, and the codes of those that did not. */
async function hellos(url: string, prefix: string, n: number): Promise<{ ok: Wire[]; codes: Map<string, number>; seconds: number }> {
	const ok: Wire[] = [];
	const codes = new Map<string, number>();
	const started = performance.now();
	await openMany(url, n, 64, async (w, i) => {
		const f = await w.request({ type: "hello", id: "hello", session: `${prefix}${i}`, room: "default", meta: { client: "bench" } }).then(
			() => null,
			(err: Error) => err.message.split(":")[0] ?? "?",
		);
		if (f === null) ok.push(w);
		else {
			codes.set(f, (codes.get(f) ?? 0) + 1);
			w.close();
		}
	});
	return { ok, codes, seconds: (performance.now() - started) / 1000 };
}

/** The pair's pace: a well-behaved pair stays well inside the frame rate limit (200/s). */
const PAIR_INTERVAL_MS = 10;

/**
 * A sends to B one message at a time, one every PAIR_INTERVAL_MS at most; each sample is send → B has the
 * push (µs). Runs until `more` says stop.
 */
async function pairLatency(a: Wire, b: Wire, more: (samples: number) => boolean, bodyBytes: number): Promise<number[]> {
	const samples: number[] = [];
	let expect = "";
	let onPush: () => void = () => undefined;
	let onAck: () => void = () => undefined;
	let failure: Error | null = null;
	b.onText = (text) => {
		const t = performance.now();
		if (!text.startsWith('{"type":"message"')) return;
		const at = text.indexOf(`"body":"${PAIR_TAG}`);
		if (at < 0) return; // a flood broadcast: B is in the room too
		const end = text.indexOf(" ", at);
		if (text.slice(at + 8, end) !== expect) failure = new Error(`B got ${text.slice(at + 8, end)} while waiting for ${expect}`);
		pushedAt = t;
		onPush();
	};
	let pushedAt = 0;
	a.onText = (text) => {
		const kind = answerKind(text);
		if (kind === "other") return;
		if (kind !== "result") failure = new Error(`a pair send failed: ${text.slice(0, 300)}`);
		onAck();
	};
	let lastSend = 0;
	for (let i = 0; more(samples.length); i++) {
		expect = `${PAIR_TAG}${i}`;
		const pushed = new Promise<void>((r) => {
			onPush = r;
		});
		const acked = new Promise<void>((r) => {
			onAck = r;
		});
		const wait = lastSend + PAIR_INTERVAL_MS - performance.now();
		if (wait > 0) await sleep(wait);
		const t0 = performance.now();
		lastSend = t0;
		a.send(sendFrame(i, "FloodB", bodyOf(PAIR_TAG, i, bodyBytes)));
		let timer: NodeJS.Timeout | undefined;
		const timeout = new Promise<never>((_, reject) => {
			timer = setTimeout(() => reject(new Error(`pair message ${i} took over 60 s`)), 60_000);
		});
		try {
			await Promise.race([Promise.all([pushed, acked]), timeout]);
		} finally {
			clearTimeout(timer);
		}
		if (failure) throw failure;
		samples.push((pushedAt - t0) * 1000);
	}
	return samples;
}

/** Broadcasts at `perSecond` until `stopAt`, never more than `window` unanswered; counts the answers. */
function flood(w: Wire, i0: number, o: FloodOptions, stopAt: number, window: number) {
	const out = { sent: 0, acked: 0, rateLimited: 0, errors: 0, firstError: null as string | null };
	w.onText = (text) => {
		const kind = answerKind(text);
		if (kind === "other") return;
		if (kind === "error") {
			if (text.includes("E_RATE_LIMITED")) out.rateLimited++;
			else out.errors++;
			out.firstError ??= text.slice(0, 200);
		} else out.acked++;
	};
	const body = bodyOf("b", 0, o.bodyBytes);
	const started = performance.now();
	return new Promise<typeof out>((resolve) => {
		const timer = setInterval(() => {
			const now = performance.now();
			if (Date.now() >= stopAt) {
				clearInterval(timer);
				resolve(out);
				return;
			}
			const due = Math.floor(((now - started) / 1000) * o.perSecond) - out.sent;
			const room = window - (out.sent - out.acked - out.rateLimited - out.errors);
			for (let k = 0; k < Math.min(due, room); k++) w.send(sendFrame(i0 + out.sent++, "*", body));
		}, 10);
	});
}

/** Phase 2 on a fresh hub started with `args`: the pair, the room filled to its cap, the flood. */
async function floodAtTheCaps(o: FloodOptions, args: string[]): Promise<FloodRun> {
	const hub = await spawnBenchHub(["--new-sessions-per-minute", "0", ...args], undefined, { limits: "default" });
	const wires: Wire[] = [];
	try {
		const b = await connectAs(hub.url, "hub", "FloodB", "default");
		const a = await connectAs(hub.url, "hub", "FloodA", "default");
		wires.push(a, b);
		const baseline = await pairLatency(a, b, (n) => n < o.baselineSamples, o.bodyBytes);

		const fill = await hellos(hub.url, "S", o.fillAttempts);
		const flooders = fill.ok.slice(0, o.flooders);
		wires.push(...flooders);
		// The rest go offline: named sessions that every broadcast queues a delivery for.
		for (const w of fill.ok.slice(o.flooders)) w.close();
		await sleep(1_000);
		const roomFull = fill.codes.get("E_ROOM_FULL") ?? 0;

		const before = { health: await health(hub), db: dbBytes(hub.db), disk: diskWrites(hub.pid), at: performance.now() };
		const stopAt = Date.now() + o.seconds * 1000;
		const flooding = Promise.all(flooders.map((w, k) => flood(w, k * 10_000_000, o, stopAt, 2 * o.perSecond)));
		const during = await pairLatency(a, b, () => Date.now() < stopAt, o.bodyBytes);
		const counts = await flooding;
		const seconds = (performance.now() - before.at) / 1000;
		// Let the hub answer what is still in flight before reading what it wrote.
		await sleep(2_000);
		const after = { health: await health(hub), db: dbBytes(hub.db), disk: diskWrites(hub.pid) };
		const total = counts.reduce(
			(s, c) => ({
				sent: s.sent + c.sent,
				acked: s.acked + c.acked,
				rateLimited: s.rateLimited + c.rateLimited,
				errors: s.errors + c.errors,
				firstError: s.firstError ?? c.firstError,
			}),
			{ sent: 0, acked: 0, rateLimited: 0, errors: 0, firstError: null as string | null },
		);
		return {
			args,
			fill: { accepted: fill.ok.length, roomFull, other: o.fillAttempts - fill.ok.length - roomFull, sessionsInRoom: 2 + fill.ok.length },
			baseline: summarize(baseline),
			during: summarize(during),
			flood: {
				...total,
				ackedPerSecond: total.acked / seconds,
				deliveriesPerSecond: (after.health.pendingDeliveries - before.health.pendingDeliveries) / seconds,
			},
			dbGrowthBytes: after.db - before.db,
			diskWriteBytes: after.disk !== null && before.disk !== null ? after.disk - before.disk : null,
			hubRssAfter: hub.rss(),
		};
	} finally {
		for (const w of wires) w.close();
		await hub.cleanup();
	}
}

export async function measureFlood(o: FloodOptions): Promise<FloodResult> {
	// 1. Minting fresh IDs, at the default limits.
	const capped = await spawnBenchHub([], undefined, { limits: "default" });
	let mint: FloodResult["mint"];
	try {
		const r = await hellos(capped.url, "M", o.mintAttempts);
		const claimRate = r.codes.get("E_CLAIM_RATE") ?? 0;
		mint = { accepted: r.ok.length, claimRate, other: o.mintAttempts - r.ok.length - claimRate, seconds: r.seconds };
		for (const w of r.ok) w.close();
	} finally {
		await capped.cleanup();
	}
	// 2. The room at its cap and a broadcast flood at the legal frame rate: with every default limit, then
	// without the broadcast delivery budget (the caps on sessions alone), to show what each bound does.
	const capsAndBudget = await floodAtTheCaps(o, []);
	const capsOnly = await floodAtTheCaps(o, ["--broadcast-deliveries-per-second", "0"]);
	return { options: o, mint, capsAndBudget, capsOnly };
}
