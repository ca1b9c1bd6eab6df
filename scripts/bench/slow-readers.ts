/**
 * Slow readers: what a reader that stops reading costs the hub. `readers` sessions are claimed, a sender
 * broadcasts `backlog` messages of `bodyBytes` while they are away, then each reconnects, says hello and
 * stops reading (its socket paused: not even the hello answer is read) while the hub replays its backlog.
 * Reports the hub's RSS growth per paused reader, at its peak and once settled, next to the documented
 * bound (sendBufferHighBytes plus one frame). Run with the hub's defaults; the readers are measured before
 * the slow-consumer check (30 s) drops them.
 */
import { DEFAULTS } from "../../server/defaults.js";
import { type BenchHub, sleep, spawnBenchHub } from "./procs.js";
import { bodyOf, Wire } from "./wire.js";

export interface SlowReadersOptions {
	readers: number;
	backlog: number;
	bodyBytes: number;
}

export interface SlowReadersResult {
	options: SlowReadersOptions;
	rssBefore: number;
	rssPeak: number;
	rssSettled: number;
	/** (peak - before) / readers, and the same settled. */
	peakPerReader: number;
	settledPerReader: number;
	/** sendBufferHighBytes + the largest message frame of the backlog. */
	boundPerReader: number;
	/** What each reader would cost if the whole backlog were buffered for it. */
	backlogBytes: number;
}

/** Samples the hub's RSS every 100 ms until it moves less than 1% over a second (or 15 s): peak and last. */
async function watchRss(hub: BenchHub): Promise<{ peak: number; settled: number }> {
	let peak = hub.rss();
	let last = peak;
	let quiet = 0;
	const deadline = Date.now() + 15_000;
	while (quiet < 10 && Date.now() < deadline) {
		await sleep(100);
		const now = hub.rss();
		peak = Math.max(peak, now);
		quiet = Math.abs(now - last) < last * 0.01 ? quiet + 1 : 0;
		last = now;
	}
	return { peak, settled: last };
}

export async function measureSlowReaders(o: SlowReadersOptions): Promise<SlowReadersResult> {
	const hub = await spawnBenchHub();
	const wires: Wire[] = [];
	try {
		const secrets: string[] = [];
		for (let i = 0; i < o.readers; i++) {
			const w = await Wire.open(hub.url);
			const hello = await w.hello(`Paused${i}`, "slow");
			secrets.push(hello.secret ?? "");
			w.close();
		}
		const sender = await Wire.open(hub.url);
		wires.push(sender);
		await sender.hello("Sender", "slow");
		let largest = 0;
		for (let i = 0; i < o.backlog; i++) {
			const res = await sender.request({ type: "send", id: `s${i}`, to: "*", body: bodyOf("b", i, o.bodyBytes) });
			largest = Math.max(largest, JSON.stringify({ type: "message", message: (res.result as { message: unknown }).message }).length);
		}
		await sleep(500);
		const rssBefore = hub.rss();
		for (let i = 0; i < o.readers; i++) {
			const w = await Wire.open(hub.url);
			wires.push(w);
			w.send(JSON.stringify({ type: "hello", id: "hello", session: `Paused${i}`, room: "slow", secret: secrets[i] }));
			(w.ws as unknown as { _socket: { pause(): void } })._socket.pause();
		}
		const { peak, settled } = await watchRss(hub);
		return {
			options: o,
			rssBefore,
			rssPeak: peak,
			rssSettled: settled,
			peakPerReader: (peak - rssBefore) / o.readers,
			settledPerReader: (settled - rssBefore) / o.readers,
			boundPerReader: DEFAULTS.sendBufferHighBytes + largest,
			backlogBytes: o.backlog * largest,
		};
	} finally {
		for (const w of wires) w.close();
		await hub.cleanup();
	}
}
