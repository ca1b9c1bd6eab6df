/**
 * Latency: one message at a time from A to B, send → push (the moment B has the frame), p50/p99/max.
 * Against the hub A also waits for its `result` before the next send (so nothing overlaps); that
 * send → result time is reported too. The forwarder relays the same bytes; there is no result to wait for.
 * The log-line relay (a model of the original claude-relay: parse, route by ID, a log line written
 * synchronously per message, no database) pushes a `message` frame and answers nothing either.
 *
 * Another server, the same hub on the in-memory store, splits the hub's extra time into what durability
 * costs (the append journal's write and the SQLite inserts before the push) and what the rest of the hub
 * costs (parsing, validation, routing, the result frame).
 */
import { type Child, spawnBenchHub, spawnForwarder, spawnLoglineRelay } from "./procs.js";
import { type Summary, summarize } from "./stats.js";
import { answerKind, bodyOf, connectAs, indexOfDelivery, type Mode, sendFrame, type Wire } from "./wire.js";

export interface LatencyOptions {
	/** Samples per round, per target. */
	samples: number;
	warmup: number;
	bodyBytes: number;
	/** Rounds alternate forwarder, log-line relay, hub and hub on :memory:; their samples are pooled. */
	rounds: number;
}

export interface LatencyRun {
	/** send → push at B, microseconds. */
	push: Summary;
	/** send → result at A, microseconds (hub only). */
	ack: Summary | null;
}

export interface LatencyResult {
	options: LatencyOptions;
	relay: LatencyRun;
	/** The same hub on `--db :memory:`: no durability. */
	memory: LatencyRun;
	/** The model of the original claude-relay (scripts/bench/logline-relay.ts). */
	logline: LatencyRun;
	forwarder: LatencyRun;
}

export interface Samples {
	push: number[];
	ack: number[];
}

/** One message at a time from A to B, samples in µs (also what the multi-hub scenario runs, across two hubs). */
export async function runLatency(a: Wire, b: Wire, mode: Mode, o: Pick<LatencyOptions, "samples" | "bodyBytes">, warmup: number, into: Samples): Promise<void> {
	let expect = -1;
	let pushedAt = 0;
	let ackedAt = 0;
	let onPush: () => void = () => undefined;
	let onAck: () => void = () => undefined;
	let failure: Error | null = null;
	b.onText = (text) => {
		const t = performance.now();
		const i = indexOfDelivery(mode, text);
		if (i < 0) return;
		if (i !== expect) failure = new Error(`B got message ${i} while waiting for ${expect}`);
		pushedAt = t;
		onPush();
	};
	a.onText = (text) => {
		const t = performance.now();
		const kind = answerKind(text);
		if (kind === "other") return;
		if (kind !== "result") failure = new Error(`a send failed: ${text.slice(0, 300)}`);
		ackedAt = t;
		onAck();
	};
	for (let i = 0; i < warmup + o.samples; i++) {
		const frame = sendFrame(i, "LatB", bodyOf("l", i, o.bodyBytes));
		expect = i;
		const pushed = new Promise<void>((r) => {
			onPush = r;
		});
		const acked = mode === "hub" ? new Promise<void>((r) => (onAck = r)) : null;
		const t0 = performance.now();
		a.send(frame);
		await pushed;
		if (acked) await acked;
		if (failure) throw failure;
		if (i >= warmup) {
			into.push.push((pushedAt - t0) * 1000);
			if (acked) into.ack.push((ackedAt - t0) * 1000);
		}
	}
}

async function measureOn(server: Child, mode: Mode, o: LatencyOptions, room: string, warmup: number, into: Samples): Promise<void> {
	const b = await connectAs(server.url, mode, "LatB", room);
	const a = await connectAs(server.url, mode, "LatA", room);
	try {
		await runLatency(a, b, mode, o, warmup, into);
	} finally {
		a.close();
		b.close();
		await new Promise((r) => setTimeout(r, 100));
	}
}

export async function measureLatency(o: LatencyOptions): Promise<LatencyResult> {
	const fwd = await spawnForwarder();
	const hub = await spawnBenchHub();
	const mem = await spawnBenchHub([], ":memory:");
	const log = await spawnLoglineRelay();
	const f: Samples = { push: [], ack: [] };
	const l: Samples = { push: [], ack: [] };
	const h: Samples = { push: [], ack: [] };
	const m: Samples = { push: [], ack: [] };
	try {
		for (let r = 0; r < o.rounds; r++) {
			const warmup = r === 0 ? o.warmup : 100;
			await measureOn(fwd, "forwarder", o, `lat${r}`, warmup, f);
			await measureOn(log, "logline", o, `lat${r}`, warmup, l);
			await measureOn(hub, "hub", o, `lat${r}`, warmup, h);
			await measureOn(mem, "hub", o, `lat${r}`, warmup, m);
		}
		return {
			options: o,
			relay: { push: summarize(h.push), ack: summarize(h.ack) },
			memory: { push: summarize(m.push), ack: summarize(m.ack) },
			logline: { push: summarize(l.push), ack: null },
			forwarder: { push: summarize(f.push), ack: null },
		};
	} finally {
		await fwd.stop();
		await log.stop();
		await hub.cleanup();
		await mem.cleanup();
	}
}
