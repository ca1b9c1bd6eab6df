/**
 * Fan-out: one sender broadcasts (`to: "*"`) to 50 sessions in a room of its own; deliveries per second =
 * 50 × broadcasts / time until every receiver has every broadcast (each checked in order, once). The
 * sender keeps `window` broadcasts in flight, counted as not yet received by all 50 (against the hub,
 * also not yet acknowledged). The forwarder relays each frame to every other client.
 */
import type { Child } from "./procs.js";
import { compareWithForwarder, measured, type Round } from "./rounds.js";
import { answerKind, bodyOf, connectAs, indexOfDelivery, type Mode, sendFrame, type Wire } from "./wire.js";

export interface FanoutOptions {
	receivers: number;
	broadcasts: number;
	window: number;
	bodyBytes: number;
	rounds: number;
}

/** Rounds count deliveries: `rate` is deliveries/s, `serverCpuUs` CPU per delivery. */
export interface FanoutResult {
	options: FanoutOptions;
	relay: Round;
	forwarder: Round;
	rounds: { relay: Round[]; forwarder: Round[] };
}

/** Resolves with the number of deliveries. */
function run(sender: Wire, receivers: Wire[], mode: Mode, o: FanoutOptions): Promise<number> {
	return new Promise((resolve, reject) => {
		const frames = Array.from({ length: o.broadcasts }, (_, i) => sendFrame(i, "*", bodyOf("f", i, o.bodyBytes)));
		const perMessage = new Uint16Array(o.broadcasts);
		const next = new Array<number>(receivers.length).fill(0);
		let sent = 0;
		let acked = 0;
		let complete = 0;
		let done = false;
		const fail = (err: Error) => {
			if (done) return;
			done = true;
			reject(err);
		};
		const finish = () => {
			if (done || complete < o.broadcasts || (mode === "hub" && acked < o.broadcasts)) return;
			done = true;
			resolve(o.broadcasts * receivers.length);
		};
		const fill = () => {
			const settled = mode === "hub" ? Math.min(acked, complete) : complete;
			while (sent < o.broadcasts && sent - settled < o.window) sender.send(frames[sent++] as string);
		};
		receivers.forEach((r, k) => {
			r.onText = (text) => {
				const i = indexOfDelivery(mode, text);
				if (i < 0) return;
				if (i !== next[k]) return fail(new Error(`receiver ${k} got broadcast ${i}, expected ${next[k]}`));
				next[k] = i + 1;
				perMessage[i] = (perMessage[i] as number) + 1;
				if (perMessage[i] === receivers.length) {
					complete++;
					fill();
					finish();
				}
			};
		});
		sender.onText = (text) => {
			const kind = answerKind(text);
			if (kind === "error" || kind === "duplicate") return fail(new Error(`a broadcast failed: ${text.slice(0, 300)}`));
			if (kind !== "result") return;
			acked++;
			fill();
			finish();
		};
		fill();
	});
}

async function measureOn(server: Child, mode: Mode, o: FanoutOptions, room: string): Promise<Round> {
	const receivers: Wire[] = [];
	for (let k = 0; k < o.receivers; k++) receivers.push(await connectAs(server.url, mode, `F${k}`, room));
	const sender = await connectAs(server.url, mode, "FanSender", room);
	try {
		return await measured(server, () => run(sender, receivers, mode, o));
	} finally {
		sender.close();
		for (const r of receivers) r.close();
		// Let the forwarder notice the closes before the next round's clients connect.
		await new Promise((r) => setTimeout(r, 200));
	}
}

export async function measureFanout(o: FanoutOptions): Promise<FanoutResult> {
	const warm = { ...o, broadcasts: Math.min(o.broadcasts, 300) };
	return { options: o, ...(await compareWithForwarder(o, warm, "fan", measureOn)) };
}
