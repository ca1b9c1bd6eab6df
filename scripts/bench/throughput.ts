/**
 * Throughput: durable messages/s from one sender to one receiver, pipelined: the sender keeps `window`
 * sends in flight. Against the hub a send counts once its `result` came back (committed) and B got its push;
 * a run ends when every send is both acknowledged and received, and B must have received every one, in
 * order, once. The forwarder has no acknowledgement: its window is counted by B's receipts.
 * The log-line relay has none either (like the original claude-relay it models). Rounds alternate
 * forwarder, log-line relay and hub; the median round of each is reported.
 */
import type { Child } from "./procs.js";
import { compareWithForwarder, measured, type Round } from "./rounds.js";
import { answerKind, bodyOf, connectAs, indexOfDelivery, type Mode, sendFrame, type Wire } from "./wire.js";

export interface ThroughputOptions {
	messages: number;
	window: number;
	bodyBytes: number;
	rounds: number;
}

export interface ThroughputResult {
	options: ThroughputOptions;
	relay: Round;
	forwarder: Round;
	/** The log-line relay (the model of the original claude-relay). */
	logline: Round | null;
	rounds: { relay: Round[]; forwarder: Round[]; logline: Round[] };
	/** The largest the hub's SQLite WAL file got during the scenario (null on another store). */
	peakWalBytes: number | null;
}

/** One pipelined run from A to B (also what the multi-hub scenario runs, with A and B on two hubs). */
export function runThroughput(a: Wire, b: Wire, mode: Mode, o: Pick<ThroughputOptions, "messages" | "window" | "bodyBytes">): Promise<number> {
	return new Promise((resolve, reject) => {
		const frames = Array.from({ length: o.messages }, (_, i) => sendFrame(i, "TputB", bodyOf("t", i, o.bodyBytes)));
		let sent = 0;
		let acked = 0;
		let received = 0;
		let done = false;
		const fail = (err: Error) => {
			if (done) return;
			done = true;
			reject(err);
		};
		const finish = () => {
			if (done || received < o.messages || (mode === "hub" && acked < o.messages)) return;
			done = true;
			resolve(o.messages);
		};
		const fill = () => {
			const completed = mode === "hub" ? acked : received;
			while (sent < o.messages && sent - completed < o.window) a.send(frames[sent++] as string);
		};
		b.onText = (text) => {
			const i = indexOfDelivery(mode, text);
			if (i < 0) return;
			if (i !== received) return fail(new Error(`receiver got message ${i}, expected ${received} (lost, duplicated or out of order)`));
			received++;
			if (mode !== "hub") fill();
			finish();
		};
		a.onText = (text) => {
			const kind = answerKind(text);
			if (kind === "error" || kind === "duplicate") return fail(new Error(`a send failed: ${text.slice(0, 300)}`));
			if (kind !== "result") return;
			acked++;
			fill();
			finish();
		};
		fill();
	});
}

async function measureOn(server: Child, mode: Mode, o: ThroughputOptions, room: string): Promise<Round> {
	const b = await connectAs(server.url, mode, "TputB", room);
	const a = await connectAs(server.url, mode, "TputA", room);
	try {
		return await measured(server, () => runThroughput(a, b, mode, o));
	} finally {
		a.close();
		b.close();
		await new Promise((r) => setTimeout(r, 100));
	}
}

export async function measureThroughput(o: ThroughputOptions): Promise<ThroughputResult> {
	const warm = { ...o, messages: Math.min(o.messages, 5_000) };
	return { options: o, ...(await compareWithForwarder(o, warm, "tput", measureOn, true)) };
}
