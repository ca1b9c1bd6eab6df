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
 *   - the hub's longest event-loop block during the storm: prom-client's nodejs_eventloop_lag_max_seconds
 *     from /metrics (a monitorEventLoopDelay histogram, 10 ms resolution), read as the new hub starts
 *     listening (which resets it), then every 500 ms until the storm is over: the longest of any window,
 *     and when it was.
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
	/** Longest event-loop block of the new hub during the storm, ms (null: /metrics unreadable). */
	maxBlockMs: number | null;
	/** When (from the restart) the window with the longest block ended. */
	maxBlockAtMs: number | null;
	/** Mean event-loop delay over the storm, ms. */
	meanDelayMs: number | null;
	/**
	 * The 500 ms windows read during the storm, those whose read failed (the hub did not answer /metrics), and
	 * those read empty (no delay sample at all: a live event loop takes ~50 in 500 ms, so its monitor was not
	 * running). A window not seen is a block not seen: the block is reported only when nearly all were.
	 */
	lagWindows: { read: number; failed: number; empty: number; lastError: string | null };
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

async function scrapeLag(port: number): Promise<{ max: number; mean: number } | null> {
	try {
		const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
		const read = (name: string) => {
			const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, "m").exec(text);
			return m ? Number(m[1]) * 1000 : Number.NaN;
		};
		const max = read("nodejs_eventloop_lag_max_seconds");
		const mean = read("nodejs_eventloop_lag_mean_seconds");
		if (!Number.isFinite(max)) scrapeError = "no nodejs_eventloop_lag_max_seconds in /metrics";
		return Number.isFinite(max) ? { max, mean } : null;
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
		// Read every 500 ms (each read resets the histogram): the longest block of any window, and when it was.
		const port2 = second.port;
		await scrapeLag(port2);
		let lag: { max: number; mean: number } | null = null;
		let worstAt = 0;
		const windows: number[] = [];
		const lagWindows = { read: 0, failed: 0, empty: 0, lastError: null as string | null };
		const take = (l: { max: number; mean: number } | null) => {
			if (!l) {
				lagWindows.failed++;
				lagWindows.lastError = scrapeError;
				return;
			}
			lagWindows.read++;
			// A window with no delay sample in it reports NaN.
			if (Number.isFinite(l.mean)) windows.push(l.mean);
			else lagWindows.empty++;
			if (!lag || l.max > lag.max) {
				lag = { max: l.max, mean: 0 };
				worstAt = performance.now() - t0;
			}
		};
		let storming = true;
		const watch = (async () => {
			while (storming) {
				await sleep(500);
				take(await scrapeLag(port2));
			}
		})();
		await Promise.race([finished, sleep(o.deadlineMs)]);
		await Promise.all(storm);
		storming = false;
		await watch;
		take(await scrapeLag(port2));
		if (lag) (lag as { max: number; mean: number }).mean = windows.reduce((a, b) => a + b, 0) / Math.max(1, windows.length);
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
			maxBlockMs: lag ? (lag as { max: number }).max : null,
			maxBlockAtMs: lag ? worstAt : null,
			meanDelayMs: lag ? (lag as { mean: number }).mean : null,
			lagWindows,
		};
	} finally {
		for (const c of clients) c?.wire?.close();
		await second?.cleanup();
		await first.cleanup();
	}
}
