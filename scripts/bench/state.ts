/**
 * Shared state: how fast the hub (a real `claude-relay hub` process, SQLite by default) answers state_set
 * and state_get, and a contended compare-and-set: 6 writers, each on its own connection, increment one key
 * with expectedVersion and retry from the current value carried by E_CONFLICT. Reported: committed
 * increments per second, attempts per increment, and whether the key ended exactly where it must.
 */
import { spawnBenchHub } from "./procs.js";
import { summarize, type Summary } from "./stats.js";
import { Wire } from "./wire.js";

export interface StateBenchOptions {
	/** Operations per pipelined run. */
	ops: number;
	/** Requests in flight on the pipelined runs. */
	window: number;
	/** Distinct keys the pipelined sets and gets cycle over. */
	keys: number;
	valueBytes: number;
	/** Sequential set round trips, for the latency line. */
	sequential: number;
	writers: number;
	/** Increments per writer in the contended run. */
	increments: number;
}

export interface StateBenchResult {
	options: StateBenchOptions;
	setsPerSecond: number;
	getsPerSecond: number;
	setRoundTripUs: Summary;
	cas: { incrementsPerSecond: number; attempts: number; conflicts: number; finalValue: number; finalVersion: number; correct: boolean };
}

/** Sends `n` frames keeping `window` in flight; resolves when every answer is in (rejects on an error frame). */
function pipelined(w: Wire, n: number, window: number, frame: (i: number) => string): Promise<number> {
	return new Promise((resolve, reject) => {
		let sent = 0;
		let answered = 0;
		const started = process.hrtime.bigint();
		const fill = () => {
			while (sent < n && sent - answered < window) w.send(frame(sent++));
		};
		w.onText = (text) => {
			if (text.startsWith('{"type":"error"')) {
				w.onText = null;
				reject(new Error(text.slice(0, 200)));
				return;
			}
			if (!text.startsWith('{"type":"result"')) return;
			answered++;
			if (answered === n) {
				w.onText = null;
				resolve(n / (Number(process.hrtime.bigint() - started) / 1e9));
				return;
			}
			fill();
		};
		fill();
	});
}

/** One writer of the contended run: `count` increments, retrying from the value each E_CONFLICT carries. */
function casWriter(w: Wire, key: string, count: number): Promise<{ attempts: number; conflicts: number }> {
	return new Promise((resolve, reject) => {
		let done = 0;
		let attempts = 0;
		let conflicts = 0;
		let current = { value: 0, version: 1 };
		let id = 0;
		const attempt = () => {
			attempts++;
			w.send(JSON.stringify({ type: "state_set", id: String(++id), key, value: current.value + 1, expectedVersion: current.version }));
		};
		w.onText = (text) => {
			const f = JSON.parse(text) as { type: string; result?: { entry: { version: number } }; code?: string; details?: { current: { value: number; version: number } } };
			if (f.type === "result" && f.result) {
				current = { value: current.value + 1, version: f.result.entry.version };
				if (++done === count) {
					w.onText = null;
					resolve({ attempts, conflicts });
					return;
				}
				attempt();
			} else if (f.type === "error" && f.code === "E_CONFLICT" && f.details) {
				conflicts++;
				current = f.details.current;
				attempt();
			} else if (f.type === "error") {
				w.onText = null;
				reject(new Error(text.slice(0, 200)));
			}
		};
		attempt();
	});
}

export async function measureState(o: StateBenchOptions): Promise<StateBenchResult> {
	const hub = await spawnBenchHub();
	const wires: Wire[] = [];
	try {
		const w = await Wire.open(hub.url);
		wires.push(w);
		await w.hello("bench-state", "bench-state");
		const value = "v".repeat(Math.max(0, o.valueBytes - 2));
		const setFrame = (i: number) => JSON.stringify({ type: "state_set", id: String(i), key: `bench/k${i % o.keys}`, value });
		// Warm-up: every key exists before the runs.
		await pipelined(w, o.keys * 2, o.window, setFrame);
		const setsPerSecond = await pipelined(w, o.ops, o.window, setFrame);
		const getsPerSecond = await pipelined(w, o.ops, o.window, (i) => JSON.stringify({ type: "state_get", id: String(i), key: `bench/k${i % o.keys}` }));
		const rtts: number[] = [];
		for (let i = 0; i < o.sequential; i++) {
			const t0 = process.hrtime.bigint();
			await pipelined(w, 1, 1, () => setFrame(i));
			rtts.push(Number(process.hrtime.bigint() - t0) / 1e3);
		}

		await w.request({ type: "state_set", id: "cas-init", key: "bench/counter", value: 0, expectedVersion: 0 });
		const writers: Wire[] = [];
		for (let i = 0; i < o.writers; i++) {
			const c = await Wire.open(hub.url);
			wires.push(c);
			await c.hello(`bench-writer-${i}`, "bench-state");
			writers.push(c);
		}
		const started = process.hrtime.bigint();
		const runs = await Promise.all(writers.map((c) => casWriter(c, "bench/counter", o.increments)));
		const seconds = Number(process.hrtime.bigint() - started) / 1e9;
		const final = (await w.request({ type: "state_get", id: "cas-final", key: "bench/counter" })) as { result: { entry: { value: number; version: number } } };
		const total = o.writers * o.increments;
		const { value: finalValue, version: finalVersion } = final.result.entry;
		return {
			options: o,
			setsPerSecond,
			getsPerSecond,
			setRoundTripUs: summarize(rtts),
			cas: {
				incrementsPerSecond: total / seconds,
				attempts: runs.reduce((n, r) => n + r.attempts, 0),
				conflicts: runs.reduce((n, r) => n + r.conflicts, 0),
				finalValue,
				finalVersion,
				correct: finalValue === total && finalVersion === total + 1,
			},
		};
	} finally {
		for (const c of wires) c.close();
		await hub.cleanup();
	}
}
