/**
 * The reconnect storm of issue 15: N clients connected to one room of a hub on a SQLite file, each with a
 * few unacked messages; the hub is SIGKILLed and a new one started on the same file and port. Every client
 * reconnects as a bridge does (after a random delay under a second, then again with backoff while the hub
 * is down or refuses it), says hello with its secret, takes its backlog and acks it. Reports:
 *
 *   - the time from the restart (the new process spawned) until every client is back with its whole
 *     backlog, and until every hello was answered;
 *   - lost (an expected message never pushed) and doubled (a message pushed twice to one client after the
 *     restart: clients dedupe by id, this counts what they would have had to);
 *   - the hub's longest event-loop block during the storm: relay_event_loop_delay_max_seconds from /metrics
 *     (the hub's own monitorEventLoopDelay, 10 ms resolution, started as the new hub begins to listen, and
 *     never reset), read every 500 ms to see when it grew, and once more at the end;
 *     with the hub's counts of connections that waited for a later turn (server/turn-budget.ts).
 */
import { type BenchHub, sleep, spawnBenchHub } from "./procs.js";
import { bodyOf, openMany, Wire } from "./wire.js";

export interface StormOptions {
	clients: number;
	/** Unacked messages per client when the hub dies. */
	backlog: number;
	/** Give up (and report what is missing) after this long. */
	deadlineMs: number;
}

export interface StormResult {
	options: StormOptions;
	/** Restart → every client has its whole backlog. */
	recoveredMs: number;
	/** Restart → every hello answered. */
	reconnectedMs: number;
	/** Restart → the new hub listening (process start, database open and integrity check). */
	hubStartMs: number;
	lost: number;
	doubled: number;
	/** Connection attempts refused or failed (hub still down, or the pre-hello pool full) before success. */
	retries: number;
	/** Longest event-loop block of the new hub from its listening to the end of the storm, ms (null: the last /metrics read failed). */
	maxBlockMs: number | null;
	/** When (from the restart) a read first saw the longest block. */
	maxBlockAtMs: number | null;
	/** Reads of /metrics during the storm, and those that failed (the longest block is cumulative: only the last read must work). */
	reads: { ok: number; failed: number; lastError: string | null };
	/** Connections that waited for a later turn of the event loop, and turns that spent their budget. */
	deferred: number | null;
	exhaustedTurns: number | null;
}

interface StormClient {
	session: string;
	secret: string;
	expected: Set<string>;
	got: Set<string>;
	doubled: number;
	done: boolean;
	wire: Wire | null;
}

/** Why the last /metrics read failed (for the report). */
let scrapeError: string | null = null;

interface LoopReading {
	maxMs: number;
	deferred: number;
	exhaustedTurns: number;
}

async function scrapeLoop(port: number): Promise<LoopReading | null> {
	try {
		const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
		const read = (name: string) => {
			const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, "m").exec(
				text,
			);
			return m ? Number(m[1]) : Number.NaN;
		};
		const maxMs = read("relay_event_loop_delay_max_seconds") * 1000;
		if (!Number.isFinite(maxMs)) {
			scrapeError = "no relay_event_loop_delay_max_seconds in /metrics";
			return null;
		}
		return {
			maxMs,
			deferred: read("relay_frames_deferred_total"),
			exhaustedTurns: read("relay_turns_exhausted_total"),
		};
	} catch (err) {
		scrapeError = String((err as Error).cause ?? (err as Error).message).slice(0, 120);
		return null;
	}
}

export async function measureStorm(o: StormOptions): Promise<StormResult> {
	const first = await spawnBenchHub();
	let second: BenchHub | null = null;
	const clients: StormClient[] = [];
	try {
		// Everyone connects and claims an ID (secrets kept, as the bridge keeps them on disk).
		const wires = await openMany(first.url, o.clients, 64, async (w, i) => {
			const hello = await w.hello(`R${i}`, "storm");
			clients[i] = { session: `R${i}`, secret: String(hello.secret), expected: new Set(), got: new Set(), doubled: 0, done: false, wire: w };
		});
		// A sender queues `backlog` messages for each, pipelined; the receivers do not ack.
		const sender = await Wire.open(first.url);
		await sender.hello("StormSender", "storm");
		const total = o.clients * o.backlog;
		await new Promise<void>((resolve, reject) => {
			let sent = 0;
			let answered = 0;
			const window = 256;
			const pump = () => {
				while (sent < total && sent - answered < window) {
					const c = clients[sent % o.clients] as StormClient;
					sender.send(JSON.stringify({ type: "send", id: String(sent), to: c.session, body: bodyOf("s", sent, 200) }));
					sent++;
				}
			};
			sender.onText = (text) => {
				if (!text.startsWith('{"type":"result"') && !text.startsWith('{"type":"error"')) return;
				const f = JSON.parse(text) as { type: string; id: string; result?: { message: { id: string; to: string } }; message?: string };
				if (f.type === "error" || !f.result) return reject(new Error(`send failed: ${f.message}`));
				const c = clients[Number(f.result.message.to.slice(1))];
				c?.expected.add(f.result.message.id);
				answered++;
				if (answered === total) resolve();
				else pump();
			};
			pump();
		});
		sender.close();

		// The hub dies with every backlog unacked.
		first.proc.kill("SIGKILL");
		await new Promise<void>((r) => (first.proc.exitCode !== null || first.proc.signalCode !== null ? r() : first.proc.once("exit", () => r())));
		for (const w of wires) w.close();

		let retries = 0;
		let reconnected = 0;
		let recovered = 0;
		let reconnectedAt = 0;
		let recoveredAt = 0;
		let allDone: () => void = () => undefined;
		const finished = new Promise<void>((r) => (allDone = r));
		const t0 = performance.now();
		const connect = async (c: StormClient, attempt: number): Promise<void> => {
			for (let k = attempt; ; k++) {
				if (performance.now() - t0 > o.deadlineMs) return;
				try {
					const w = await Wire.open(first.url, 5_000);
					w.ws.on("message", (data) => {
						const text = String(data);
						if (!text.startsWith('{"type":"message"')) return;
						const id = (JSON.parse(text) as { message: { id: string } }).message.id;
						if (c.got.has(id)) c.doubled++;
						c.got.add(id);
						if (!c.done && c.got.size >= c.expected.size && [...c.expected].every((e) => c.got.has(e))) {
							c.done = true;
							w.send(JSON.stringify({ type: "ack", id: "ack", ids: [...c.expected] }));
							if (++recovered === o.clients) {
								recoveredAt = performance.now();
								allDone();
							}
						}
					});
					await w.hello(c.session, "storm", { secret: c.secret });
					c.wire = w;
					if (++reconnected === o.clients) reconnectedAt = performance.now();
					return;
				} catch {
					retries++;
					// The bridge's backoff: doubling from 250 ms to 5 s, with jitter.
					await sleep(Math.min(5_000, 250 * 2 ** Math.min(k, 5)) * (0.5 + Math.random()));
				}
			}
		};
		const respawn = spawnBenchHub([], first.db, { port: first.port });
		// Bridges notice the close at once and come back after their first backoff (a random delay under 1 s).
		const storm = clients.map((c) => sleep(Math.random() * 1_000).then(() => connect(c, 0)));
		second = await respawn;
		const hubStartMs = performance.now() - t0;
		// A first read, then every 500 ms to see when the longest block grew.
		const port2 = second.port;
		await scrapeLoop(port2);
		const reads = { ok: 0, failed: 0, lastError: null as string | null };
		let last: LoopReading | null = null;
		let worstAt: number | null = null;
		const take = (l: LoopReading | null) => {
			if (!l) {
				reads.failed++;
				reads.lastError = scrapeError;
				return null;
			}
			reads.ok++;
			if (!last || l.maxMs > last.maxMs) worstAt = performance.now() - t0;
			last = l;
			return l;
		};
		let storming = true;
		const watch = (async () => {
			while (storming) {
				await sleep(500);
				take(await scrapeLoop(port2));
			}
		})();
		await Promise.race([finished, sleep(o.deadlineMs)]);
		await Promise.all(storm);
		storming = false;
		await watch;
		const final = take(await scrapeLoop(port2));
		let lost = 0;
		let doubled = 0;
		for (const c of clients) {
			for (const e of c.expected) if (!c.got.has(e)) lost++;
			doubled += c.doubled;
		}
		return {
			options: o,
			recoveredMs: recoveredAt ? recoveredAt - t0 : Number.POSITIVE_INFINITY,
			reconnectedMs: reconnectedAt ? reconnectedAt - t0 : Number.POSITIVE_INFINITY,
			hubStartMs,
			lost,
			doubled,
			retries,
			maxBlockMs: final ? final.maxMs : null,
			maxBlockAtMs: final ? worstAt : null,
			reads,
			deferred: final ? final.deferred : null,
			exhaustedTurns: final ? final.exhaustedTurns : null,
		};
	} finally {
		for (const c of clients) c?.wire?.close();
		await second?.cleanup();
		await first.cleanup();
	}
}
