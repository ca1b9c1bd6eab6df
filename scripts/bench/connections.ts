/**
 * Connections: N sessions connect into ONE room (64 handshakes at a time) and sit idle, against the hub and
 * against the bare forwarder, each a fresh process. Reports the connect rate and each server's memory per
 * idle connection: (RSS with them - RSS before) / N, both read from /proc once the process has settled.
 * The rate is measured after `warmup` connections came and went (so both servers run compiled code, as the
 * other scenarios' warm-ups do); memory on a cold process (after a warm-up, sessions reuse the heap it grew,
 * which flatters both).
 *
 * Against the hub each session says hello as the bridge does (no presence frames, no list of peers: it asks
 * `peers` when its model wants to know) and waits for its answer; the forwarder has no hello (it would relay the frame to every other
 * client, which is O(N) for it), so its rate is the bare WebSocket upgrade: the hub is held to the stricter
 * baseline. The hello's cost must not grow with the room (issue 15): the rate at 10,000 against the rate at
 * 1,000 says whether it does.
 */
import { type Child, cpuMsOf, mainThreadCpuMsOf, selfCpuMs, sleep, spawnBenchHub, spawnForwarder } from "./procs.js";
import { openMany, Wire } from "./wire.js";

export interface ConnectionsOptions {
	sessions: number;
	concurrency: number;
	/** Connections opened and closed before measuring (0: a cold process, as a restarted hub is). */
	warmup: number;
}

export interface ConnectionsRun {
	/** Connections (the hub: connect + hello) completed per second. */
	connectRate: number;
	rssBefore: number;
	rssAfter: number;
	bytesPerSession: number;
	/**
	 * CPU per connection while they opened, in µs: the server process (every thread: V8's compiler and GC
	 * work on threads of their own), its main thread alone, and the bench's client. Steadier than the rate on
	 * a VM whose speed drifts; on 2 cores the rate is about what the server and the client use together.
	 */
	cpu: { serverUs: number; mainUs: number; clientUs: number };
}

export interface ConnectionsResult {
	options: ConnectionsOptions;
	relay: ConnectionsRun;
	forwarder: ConnectionsRun;
	/** What the hub's /healthz said with everyone connected. */
	sessionsOnline: number;
}

/** Waits until a process's RSS stops moving (< 1% over 500 ms) or 10 s pass. */
async function settledRss(server: Pick<Child, "rss">): Promise<number> {
	let last = server.rss();
	const deadline = Date.now() + 10_000;
	for (;;) {
		await sleep(500);
		const now = server.rss();
		if (Math.abs(now - last) < last * 0.01 || Date.now() > deadline) return now;
		last = now;
	}
}

async function health(port: number): Promise<{ sessionsOnline: number; connections: number }> {
	const res = await fetch(`http://127.0.0.1:${port}/healthz`);
	return (await res.json()) as { sessionsOnline: number; connections: number };
}

async function measureOn(server: Child, hub: boolean, o: ConnectionsOptions): Promise<{ run: ConnectionsRun; wires: Wire[] }> {
	// Ephemeral warm-up sessions in a room of their own: the hub forgets them when they leave.
	if (o.warmup > 0) {
		const warm = await openMany(server.url, o.warmup, o.concurrency, hub ? async (w, i) => void (await w.hello(`W${i}`, "warmup", { ephemeral: true })) : undefined);
		for (const w of warm) w.close();
		await sleep(500);
	}
	// One connection first, so the baseline includes ws, the router and (the hub) the store's statements.
	const first = await Wire.open(server.url);
	if (hub) await first.hello("Warm", "crowd");
	const rssBefore = await settledRss(server);
	const cpu0 = { server: cpuMsOf(server.pid), main: mainThreadCpuMsOf(server.pid), client: selfCpuMs() };
	const started = performance.now();
	const opened = await openMany(server.url, o.sessions, o.concurrency, hub ? async (w, i) => void (await w.hello(`S${i}`, "crowd")) : undefined);
	const seconds = (performance.now() - started) / 1000;
	const per = (ms: number) => (ms * 1000) / o.sessions;
	const cpu = {
		serverUs: per(cpuMsOf(server.pid) - cpu0.server),
		mainUs: per(mainThreadCpuMsOf(server.pid) - cpu0.main),
		clientUs: per(selfCpuMs() - cpu0.client),
	};
	const rssAfter = await settledRss(server);
	return {
		run: { connectRate: o.sessions / seconds, rssBefore, rssAfter, bytesPerSession: (rssAfter - rssBefore) / o.sessions, cpu },
		wires: [first, ...opened],
	};
}

export async function measureConnections(o: ConnectionsOptions): Promise<ConnectionsResult> {
	let forwarder: ConnectionsRun;
	const fwd = await spawnForwarder();
	try {
		const { run, wires } = await measureOn(fwd, false, o);
		forwarder = run;
		for (const w of wires) w.close();
	} finally {
		await fwd.stop();
	}
	const hub = await spawnBenchHub();
	try {
		const { run, wires } = await measureOn(hub, true, o);
		const h = await health(hub.port);
		for (const w of wires) w.close();
		if (h.sessionsOnline !== o.sessions + 1) throw new Error(`hub reports ${h.sessionsOnline} sessions online, expected ${o.sessions + 1}`);
		return { options: o, relay: run, forwarder, sessionsOnline: h.sessionsOnline };
	} finally {
		await hub.cleanup();
	}
}
