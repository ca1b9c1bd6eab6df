/**
 * Machines are noisy (other processes, CPU frequency, a shared VM): each comparison runs in rounds that
 * alternate the forwarder and the hub, both kept running, and reports the median round. CPU time per
 * operation is read from /proc for the server process during each round: unlike wall-clock rates, it
 * barely moves when the machine is busy, and it says whether the server was the bottleneck.
 */
import type { Child } from "./procs.js";
import { samplePeakSize, selfCpuMs, spawnBenchHub, spawnForwarder, spawnLoglineRelay } from "./procs.js";
import type { Mode } from "./wire.js";

export interface Round {
	/** Operations (messages or deliveries) completed. */
	ops: number;
	seconds: number;
	/** ops per second. */
	rate: number;
	/** Server CPU time per operation, microseconds. */
	serverCpuUs: number;
	/** Share of one core the server used during the round (1 = saturated). */
	serverUtil: number;
	/** Share of one core the bench process (the clients) used. */
	clientUtil: number;
}

/** Runs `fn` (which returns how many operations it completed) and measures it. */
export async function measured(server: Child, fn: () => Promise<number>): Promise<Round> {
	const cpu0 = server.cpuMs();
	const self0 = selfCpuMs();
	const t0 = performance.now();
	const ops = await fn();
	const seconds = (performance.now() - t0) / 1000;
	const serverMs = server.cpuMs() - cpu0;
	return {
		ops,
		seconds,
		rate: ops / seconds,
		serverCpuUs: (serverMs * 1000) / ops,
		serverUtil: serverMs / (seconds * 1000),
		clientUtil: (selfCpuMs() - self0) / (seconds * 1000),
	};
}

/** The round with the median rate. */
export function medianRound(rounds: readonly Round[]): Round {
	const sorted = [...rounds].sort((a, b) => a.rate - b.rate);
	return sorted[Math.floor((sorted.length - 1) / 2)] as Round;
}

export interface Compared {
	relay: Round;
	forwarder: Round;
	/** The log-line relay's median round, when asked for (`withLogline`). */
	logline: Round | null;
	rounds: { relay: Round[]; forwarder: Round[]; logline: Round[] };
	/** The largest the hub's SQLite WAL file got during the whole scenario; null on another store. */
	peakWalBytes: number | null;
}

/**
 * The shape every rate scenario shares: start a forwarder and a hub, warm both up (JIT, SQLite page cache)
 * in rooms of their own, then alternate measured rounds on fresh rooms, forwarder first, and keep the
 * median of each side. `withLogline` adds the log-line relay (the model of the original claude-relay) as a
 * third side, after the forwarder in each round.
 */
export async function compareWithForwarder<O>(
	options: O & { rounds: number },
	warm: O,
	roomPrefix: string,
	measureOn: (server: Child, mode: Mode, o: O, room: string) => Promise<Round>,
	withLogline = false,
): Promise<Compared> {
	const fwd = await spawnForwarder();
	const log = withLogline ? await spawnLoglineRelay() : null;
	const hub = await spawnBenchHub();
	const onFile = hub.db !== ":memory:" && !/^rediss?:/i.test(hub.db);
	const walPeak = onFile ? samplePeakSize(`${hub.db}-wal`) : null;
	try {
		await measureOn(fwd, "forwarder", warm, "warm");
		if (log) await measureOn(log, "logline", warm, "warm");
		await measureOn(hub, "hub", warm, "warm");
		const rounds: Compared["rounds"] = { relay: [], forwarder: [], logline: [] };
		for (let r = 0; r < options.rounds; r++) {
			rounds.forwarder.push(await measureOn(fwd, "forwarder", options, `${roomPrefix}${r}`));
			if (log) rounds.logline.push(await measureOn(log, "logline", options, `${roomPrefix}${r}`));
			rounds.relay.push(await measureOn(hub, "hub", options, `${roomPrefix}${r}`));
		}
		const peakWalBytes = walPeak ? walPeak() : null;
		const logline = log ? medianRound(rounds.logline) : null;
		return { relay: medianRound(rounds.relay), forwarder: medianRound(rounds.forwarder), logline, rounds, peakWalBytes };
	} finally {
		walPeak?.();
		await fwd.stop();
		await log?.stop();
		await hub.cleanup();
	}
}
