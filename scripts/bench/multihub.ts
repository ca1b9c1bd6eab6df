/**
 * Multi-hub: two `claude-relay hub` processes on one redis-server (AOF with appendfsync everysec, what the
 * README recommends), the sender on hub 1 and the receiver on hub 2, so every message is committed by hub 1's
 * script in Redis and pushed by hub 2 from the fan-out. Durable msgs/s (pipelined) and send → push latency
 * (one at a time), beside the same pair on one hub on the same Redis and the bare forwarder, in rounds that
 * alternate them (median round; latency samples pooled).
 */
import { spawnSync } from "node:child_process";
import { REDIS_SERVER, startRedisServer } from "../redis-server.js";
import { runLatency, type Samples } from "./latency.js";
import { type BenchHub, type Child, spawnBenchHub, spawnForwarder, tempDir } from "./procs.js";
import { measured, medianRound, type Round } from "./rounds.js";
import { type Summary, summarize } from "./stats.js";
import { runThroughput } from "./throughput.js";
import { connectAs, type Mode } from "./wire.js";

export interface MultiHubOptions {
	messages: number;
	window: number;
	bodyBytes: number;
	rounds: number;
	/** Latency samples per round. */
	samples: number;
	warmup: number;
}

export interface PairResult {
	rate: Round;
	rounds: Round[];
	/** send → push at the receiver, µs. */
	push: Summary;
	/** send → result at the sender, µs. */
	ack: Summary;
	/** Hub CPU per message, both hubs together (one hub: that hub), µs. */
	hubCpuUs: number;
}

export type MultiHubResult =
	| {
			available: true;
			options: MultiHubOptions;
			redis: string;
			/** Sender on hub 1, receiver on hub 2. */
			crossHub: PairResult;
			/** Sender and receiver on hub 1 (same Redis): what crossing hubs adds. */
			oneHub: PairResult;
			forwarder: { rate: Round; push: Summary };
	  }
	| { available: false; reason: string };

async function startRedis(dir: string): Promise<{ url: string; stop: () => Promise<void>; version: string }> {
	const redis = await startRedisServer({ aof: { dir, fsync: "everysec" } });
	const version = /v=(\S+)/.exec(spawnSync(REDIS_SERVER, ["--version"], { encoding: "utf8" }).stdout)?.[1] ?? "?";
	return { url: redis.url, version, stop: redis.stop };
}

async function throughputRound(from: Child, to: Child, mode: Mode, o: MultiHubOptions, room: string, others: Child[]): Promise<Round> {
	// The names runThroughput sends to and from.
	const b = await connectAs(to.url, mode, "TputB", room);
	const a = await connectAs(from.url, mode, "TputA", room);
	try {
		const cpu0 = others.map((c) => c.cpuMs());
		const round = await measured(from, () => runThroughput(a, b, mode, o));
		// `measured` counts the sender's hub; add the receiver's when it is another process.
		const extraMs = others.reduce((sum, c, i) => sum + (c.cpuMs() - (cpu0[i] as number)), 0);
		return { ...round, serverCpuUs: round.serverCpuUs + (extraMs * 1000) / round.ops };
	} finally {
		a.close();
		b.close();
		await new Promise((r) => setTimeout(r, 100));
	}
}

async function latencyRound(from: Child, to: Child, mode: Mode, o: MultiHubOptions, room: string, warmup: number, into: Samples): Promise<void> {
	const b = await connectAs(to.url, mode, "LatB", room);
	const a = await connectAs(from.url, mode, "LatA", room);
	try {
		await runLatency(a, b, mode, o, warmup, into);
	} finally {
		a.close();
		b.close();
		await new Promise((r) => setTimeout(r, 100));
	}
}

export async function measureMultiHub(o: MultiHubOptions): Promise<MultiHubResult> {
	if (spawnSync(REDIS_SERVER, ["--version"], { stdio: "ignore" }).status !== 0) return { available: false, reason: `${REDIS_SERVER} not found` };
	const { dir, cleanup } = tempDir("relay-bench-redis-");
	const redis = await startRedis(dir);
	const started: (BenchHub | Child)[] = [];
	try {
		const fwd = await spawnForwarder();
		started.push(fwd);
		const hub1 = await spawnBenchHub([], redis.url);
		started.push(hub1);
		const hub2 = await spawnBenchHub([], redis.url);
		started.push(hub2);
		const warm = { ...o, messages: Math.min(o.messages, 5_000) };
		await throughputRound(fwd, fwd, "forwarder", warm, "mh-warm", []);
		await throughputRound(hub1, hub2, "hub", warm, "mh-warm", [hub2]);
		const rounds = { fwd: [] as Round[], one: [] as Round[], cross: [] as Round[] };
		const lat = { fwd: { push: [], ack: [] } as Samples, one: { push: [], ack: [] } as Samples, cross: { push: [], ack: [] } as Samples };
		for (let r = 0; r < o.rounds; r++) {
			const warmup = r === 0 ? o.warmup : 100;
			rounds.fwd.push(await throughputRound(fwd, fwd, "forwarder", o, `mh-t${r}`, []));
			rounds.one.push(await throughputRound(hub1, hub1, "hub", o, `mh-o${r}`, []));
			rounds.cross.push(await throughputRound(hub1, hub2, "hub", o, `mh-x${r}`, [hub2]));
			await latencyRound(fwd, fwd, "forwarder", o, `mh-l${r}`, warmup, lat.fwd);
			await latencyRound(hub1, hub1, "hub", o, `mh-lo${r}`, warmup, lat.one);
			await latencyRound(hub1, hub2, "hub", o, `mh-lx${r}`, warmup, lat.cross);
		}
		const pair = (rs: Round[], s: Samples): PairResult => {
			const rate = medianRound(rs);
			return { rate, rounds: rs, push: summarize(s.push), ack: summarize(s.ack), hubCpuUs: rate.serverCpuUs };
		};
		return {
			available: true,
			options: o,
			redis: `redis-server ${redis.version}, appendonly yes, appendfsync everysec`,
			crossHub: pair(rounds.cross, lat.cross),
			oneHub: pair(rounds.one, lat.one),
			forwarder: { rate: medianRound(rounds.fwd), push: summarize(lat.fwd.push) },
		};
	} finally {
		for (const c of started.reverse()) await ("cleanup" in c ? c.cleanup() : c.stop());
		await redis.stop();
		cleanup();
	}
}
