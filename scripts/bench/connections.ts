/**
 * Connections: 2,000 sessions connect and say hello (64 handshakes at a time), then sit idle. Reports the
 * connect+hello rate and the hub's memory per idle session: (RSS with them - RSS before) / 2,000, both read
 * from /proc after the hub has settled. Run once with every session in one room (the default: every
 * session in `default`) and once with rooms of 20, because presence work grows with the size of a room.
 */
import { type BenchHub, sleep, spawnBenchHub } from "./procs.js";
import { openMany, Wire } from "./wire.js";

export interface ConnectionsOptions {
	sessions: number;
	concurrency: number;
	/** Sessions per room; Infinity: all in one room. */
	roomSize: number;
}

export interface ConnectionsResult {
	options: ConnectionsOptions;
	/** Connect + hello completions per second. */
	connectRate: number;
	rssBefore: number;
	rssAfter: number;
	bytesPerSession: number;
	/** What /healthz said with everyone connected. */
	sessionsOnline: number;
}

/** Waits until the hub's RSS stops moving (< 1% over 500 ms) or 10 s pass. */
async function settledRss(hub: BenchHub): Promise<number> {
	let last = hub.rss();
	const deadline = Date.now() + 10_000;
	for (;;) {
		await sleep(500);
		const now = hub.rss();
		if (Math.abs(now - last) < last * 0.01 || Date.now() > deadline) return now;
		last = now;
	}
}

async function health(hub: BenchHub): Promise<{ sessionsOnline: number; connections: number }> {
	const res = await fetch(`http://127.0.0.1:${hub.port}/healthz`);
	return (await res.json()) as { sessionsOnline: number; connections: number };
}

export async function measureConnections(o: ConnectionsOptions): Promise<ConnectionsResult> {
	const hub = await spawnBenchHub();
	const wires: Wire[] = [];
	try {
		// One session first, so the baseline includes ws, the router and the store's statements.
		const first = await Wire.open(hub.url);
		await first.hello("Warm", "warm");
		wires.push(first);
		const rssBefore = await settledRss(hub);
		const started = performance.now();
		const room = (i: number) => (Number.isFinite(o.roomSize) ? `r${Math.floor(i / o.roomSize)}` : "idle");
		const opened = await openMany(hub.url, o.sessions, o.concurrency, async (w, i) => {
			await w.hello(`S${i}`, room(i));
		});
		const seconds = (performance.now() - started) / 1000;
		wires.push(...opened);
		const rssAfter = await settledRss(hub);
		const h = await health(hub);
		if (h.sessionsOnline !== o.sessions + 1) throw new Error(`hub reports ${h.sessionsOnline} sessions online, expected ${o.sessions + 1}`);
		return {
			options: o,
			connectRate: o.sessions / seconds,
			rssBefore,
			rssAfter,
			bytesPerSession: (rssAfter - rssBefore) / o.sessions,
			sessionsOnline: h.sessionsOnline,
		};
	} finally {
		for (const w of wires) w.close();
		await hub.cleanup();
	}
}
