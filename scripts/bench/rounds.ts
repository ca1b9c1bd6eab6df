/**
 * Machines are noisy (other processes, CPU frequency, a shared VM): each comparison runs in rounds that
 * alternate the forwarder and the hub, both kept running, and reports the median round. CPU time per
 * operation is read from /proc for the server process during each round: unlike wall-clock rates, it
 * barely moves when the machine is busy, and it says whether the server was the bottleneck.
 */
import type { Child } from "./procs.js";
import { selfCpuMs } from "./procs.js";

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
