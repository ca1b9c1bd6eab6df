/**
 * Fan-out: one sender broadcasts (`to: "*"`) to 50 sessions in a room of its own; deliveries per second =
 * 50 × broadcasts / time until every receiver has every broadcast (each checked in order, once). The
 * sender keeps `window` broadcasts in flight, counted as not yet received by all 50 (against the hub,
 * also not yet acknowledged). The forwarder relays each frame to every other client.
 *
 * Topic fan-out: the same, to `#bench`, which the 50 subscribe to (and the sender does not), measured on one
 * hub in rounds that alternate with broadcast rounds, so the two are compared under the same conditions:
 * a topic send reads its audience inside the commit instead of taking it from memory.
 */
import type { Child } from "./procs.js";
import { spawnBenchHub } from "./procs.js";
import { compareWithForwarder, measured, medianRound, type Round } from "./rounds.js";
import { answerKind, bodyOf, connectAs, indexOfDelivery, type Mode, sendFrame, type Wire } from "./wire.js";

export interface FanoutOptions {
	receivers: number;
	broadcasts: number;
	window: number;
	bodyBytes: number;
	rounds: number;
	/** `*` (default) or `#topic`, which the receivers subscribe to. */
	to?: string;
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
		const frames = Array.from({ length: o.broadcasts }, (_, i) => sendFrame(i, o.to ?? "*", bodyOf("f", i, o.bodyBytes)));
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
	const topic = o.to?.startsWith("#") ? o.to.slice(1) : undefined;
	for (let k = 0; k < o.receivers; k++) {
		const w = await connectAs(server.url, mode, `F${k}`, room);
		if (topic !== undefined && mode === "hub") await w.request({ type: "subscribe", id: "sub", topic });
		receivers.push(w);
	}
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

export interface TopicFanoutResult {
	options: FanoutOptions;
	/** Median rounds: `*` to 50 sessions, and `#bench` to 50 subscribers, on the same hub. */
	broadcast: Round;
	topic: Round;
	/**
	 * The median over round pairs of topic rate / broadcast rate: each pair ran back to back, so this is what
	 * the comparison rests on when the machine's speed drifts between rounds (it does, by ±30%).
	 */
	pairedRatio: number;
	/** The same for server CPU per delivery (topic / broadcast): above 1, a topic delivery costs more. */
	pairedCpuRatio: number;
	rounds: { broadcast: Round[]; topic: Round[] };
}

/** Broadcast and topic fan-out on one hub, in alternating rounds (broadcast first), each in fresh rooms. */
export async function measureTopicFanout(o: FanoutOptions): Promise<TopicFanoutResult> {
	const hub = await spawnBenchHub();
	const asTopic = { ...o, to: "#bench" };
	try {
		const warm = { ...o, broadcasts: Math.min(o.broadcasts, 300) };
		await measureOn(hub, "hub", warm, "warm-b");
		await measureOn(hub, "hub", { ...warm, to: "#bench" }, "warm-t");
		const rounds: TopicFanoutResult["rounds"] = { broadcast: [], topic: [] };
		for (let r = 0; r < o.rounds; r++) {
			// Which goes first alternates too, so that neither always runs on a warmer (or busier) machine.
			const [first, second] = r % 2 === 0 ? ([o, asTopic] as const) : ([asTopic, o] as const);
			const a = await measureOn(hub, "hub", first, `tf${r}`);
			const b = await measureOn(hub, "hub", second, `ts${r}`);
			rounds.broadcast.push(r % 2 === 0 ? a : b);
			rounds.topic.push(r % 2 === 0 ? b : a);
		}
		const paired = (of: (x: Round) => number) => {
			const ratios = rounds.topic.map((t, i) => of(t) / of(rounds.broadcast[i] as Round)).sort((a, b) => a - b);
			return ratios[Math.floor((ratios.length - 1) / 2)] as number;
		};
		return {
			options: o,
			broadcast: medianRound(rounds.broadcast),
			topic: medianRound(rounds.topic),
			pairedRatio: paired((x) => x.rate),
			pairedCpuRatio: paired((x) => x.serverCpuUs),
			rounds,
		};
	} finally {
		await hub.cleanup();
	}
}
