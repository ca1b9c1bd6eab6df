/**
 * Costs per message in CPU instructions, counted by valgrind's callgrind: the same count for the same code
 * and inputs however busy the machine is. The timed scenarios move by ±20% from one run to the next on a
 * shared 2-core VM (the same build measured 9.6-15 µs per append), more than most changes are worth, so an
 * A/B is read here rather than off their timings. Two counts, each the difference of two runs that differ
 * only in how many messages they carry (so start-up and shutdown cancel out):
 *
 * The server's, in the throughput scenario's path (one sender, 256 in flight, 256-byte bodies): the hub
 * (durable, default store) and the bare forwarder, each under callgrind while the clients run at full
 * speed outside it. User space only: the kernel's share (socket writes, the journal's write(2)) is not
 * counted, and how many frames one socket read brings moves both counts by about ±15% between runs.
 *
 * The store's: one message as the throughput scenario costs the store, an append (1→1, with an idempotency
 * key, a 256-byte body: the journal record, the rows, the commit) and its pushed mark, in batches of 128 as
 * a window of sends arrives, after the same warm-up in both runs. The split by shared object says where it
 * goes: SQLite (better_sqlite3.node), V8 and Node (node), libc.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { newIdempotencyKey } from "../../server/protocol.js";
import { SqliteStore } from "../../server/store/sqlite.js";
import { built, type Child, spawnBenchHub, spawnForwarder, type Wrapper } from "./procs.js";
import { runThroughput } from "./throughput.js";
import { connectAs, type Mode } from "./wire.js";

const run = promisify(execFile);

export interface AppendCostOptions {
	/** Appends measured by the smaller run; the larger runs `base + extra`. */
	base: number;
	extra: number;
	/** Appends before either count starts mattering (the same in both runs). */
	warmup: number;
	batch: number;
	bodyBytes: number;
}

export interface ServerCostOptions {
	/**
	 * Messages each run carries first, uncounted in effect (the same in both): until V8 has compiled the hot
	 * paths, its optimizing compiler is a third of a message's instructions, which a long run never pays.
	 */
	warmup: number;
	/** Messages of the smaller run after the warm-up; the larger carries `base + extra`. */
	base: number;
	extra: number;
	window: number;
	bodyBytes: number;
}

export type ServerCostResult =
	| { available: false; reason: string }
	| { available: true; options: ServerCostOptions; hub: number; forwarder: number; hubByObject: Record<string, number> | null };

export type AppendCostResult =
	| { available: false; reason: string }
	| {
			available: true;
			options: AppendCostOptions;
			/** Marginal instructions per message, in all and by shared object (null when callgrind_annotate is missing). */
			perMessage: number;
			byObject: Record<string, number> | null;
	  };

/** `--role appends <count>`: the work callgrind counts (run under valgrind by measureAppendCost). */
export async function runAppends(count: number, o: Pick<AppendCostOptions, "warmup" | "batch" | "bodyBytes">): Promise<void> {
	const dir = mkdtempSync(join(tmpdir(), "relay-bench-appends-"));
	const store = new SqliteStore({ file: join(dir, "relay.db") });
	try {
		await store.open();
		const body = "x".repeat(o.bodyBytes);
		const total = o.warmup + count;
		for (let i = 0; i < total; i += o.batch) {
			const n = Math.min(o.batch, total - i);
			const appends = [];
			for (let j = 0; j < n; j++) {
				appends.push(store.append({ room: "bench", from: "A", to: "B", body, replyTo: null, key: newIdempotencyKey(), recipients: ["B"], sentAt: Date.now() }));
			}
			const results = await Promise.all(appends);
			await store.markPushed(
				"bench",
				results.map((r) => ({ seq: r.message.seq, recipients: r.recipients, all: true })),
				Date.now(),
			);
			// A turn between windows, as between socket reads: the rows go in (and commits happen) as in the hub.
			await new Promise((r) => setImmediate(r));
		}
	} finally {
		await store.close();
		rmSync(dir, { recursive: true, force: true });
	}
}

/** Instructions of a callgrind output file, by the shared object each function is in. */
async function byObject(file: string): Promise<Record<string, number> | null> {
	let text: string;
	try {
		({ stdout: text } = await run("callgrind_annotate", ["--inclusive=no", "--threshold=100", file], { maxBuffer: 256 * 2 ** 20 }));
	} catch {
		return null;
	}
	const out: Record<string, number> = {};
	for (const line of text.split("\n")) {
		const m = /^\s*([\d,]+) \([^)]*\)\s+(.*)$/.exec(line);
		if (!m || m[2]?.includes("PROGRAM TOTALS")) continue;
		const object = /\[([^\]]+)\]\s*$/.exec(m[2] as string)?.[1]?.split("/").pop() ?? "(unknown)";
		out[object] = (out[object] ?? 0) + Number((m[1] as string).replaceAll(",", ""));
	}
	return out;
}

/**
 * Where callgrind's output files go: a temp directory removed afterwards, or BENCH_CALLGRIND_DIR, kept, to
 * read with `callgrind_annotate` (the function-by-function difference of the small and the large run is
 * where one more message's instructions go).
 */
function outputDir(): { dir: string; keep: boolean } {
	const wanted = process.env.BENCH_CALLGRIND_DIR;
	if (!wanted) return { dir: mkdtempSync(join(tmpdir(), "relay-bench-callgrind-")), keep: false };
	mkdirSync(wanted, { recursive: true });
	return { dir: wanted, keep: true };
}

/** The marginal count per unit between two runs, in all and by shared object. */
function marginal(
	small: { total: number; objects: Record<string, number> | null },
	large: { total: number; objects: Record<string, number> | null },
	extra: number,
): { perMessage: number; byObject: Record<string, number> | null } {
	let split: Record<string, number> | null = null;
	if (small.objects && large.objects) {
		split = {};
		for (const name of new Set([...Object.keys(small.objects), ...Object.keys(large.objects)])) {
			const per = ((large.objects[name] ?? 0) - (small.objects[name] ?? 0)) / extra;
			if (Math.abs(per) >= 1) split[name] = Math.round(per);
		}
	}
	return { perMessage: Math.round((large.total - small.total) / extra), byObject: split };
}

const collectedIn = (stderr: string): number => {
	const collected = /Collected\s*:\s*(\d+)/.exec(stderr);
	if (!collected) throw new Error(`callgrind printed no total: ${stderr.slice(-300)}`);
	return Number(collected[1]);
};

/** One server under callgrind carrying `messages` from A to B; its instruction count once it has exited. */
async function serverRun(mode: Mode, messages: number, o: ServerCostOptions, out: string): Promise<{ total: number; objects: Record<string, number> | null }> {
	const wrap: Wrapper = ["valgrind", "--tool=callgrind", `--callgrind-out-file=${out}`];
	const hub = mode === "hub" ? await spawnBenchHub([], undefined, { wrap }) : null;
	const server: Child = hub ?? (await spawnForwarder(wrap));
	try {
		const b = await connectAs(server.url, mode, "TputB", "cost");
		const a = await connectAs(server.url, mode, "TputA", "cost");
		await runThroughput(a, b, mode, { messages: o.warmup, window: o.window, bodyBytes: o.bodyBytes });
		await runThroughput(a, b, mode, { messages, window: o.window, bodyBytes: o.bodyBytes });
		a.close();
		b.close();
	} finally {
		await server.stop();
		await hub?.cleanup();
	}
	return { total: collectedIn(server.stderr()), objects: await byObject(out) };
}

/** Runs `measure` with a directory for callgrind's files, or says why it cannot (no valgrind). */
async function withCallgrind<T>(measure: (dir: string) => Promise<T>): Promise<T | { available: false; reason: string }> {
	try {
		await run("valgrind", ["--version"]);
	} catch {
		return { available: false, reason: "valgrind is not installed" };
	}
	const { dir, keep } = outputDir();
	try {
		return await measure(dir);
	} finally {
		if (!keep) rmSync(dir, { recursive: true, force: true });
	}
}

/** The hub's and the forwarder's instructions per message in the throughput path (see the header). */
export function measureServerCost(o: ServerCostOptions): Promise<ServerCostResult> {
	return withCallgrind(async (dir) => {
		const per = async (mode: Mode) => {
			// One at a time: the clients run outside valgrind and must never wait for a core.
			const small = await serverRun(mode, o.base, o, join(dir, `${mode}-small.out`));
			const large = await serverRun(mode, o.base + o.extra, o, join(dir, `${mode}-large.out`));
			return marginal(small, large, o.extra);
		};
		const hub = await per("hub");
		const forwarder = await per("forwarder");
		return { available: true as const, options: o, hub: hub.perMessage, forwarder: forwarder.perMessage, hubByObject: hub.byObject };
	});
}

async function counted(count: number, o: AppendCostOptions, out: string): Promise<{ total: number; objects: Record<string, number> | null }> {
	const { stderr } = await run(
		"valgrind",
		["--tool=callgrind", `--callgrind-out-file=${out}`, process.execPath, built.bench, "--role", "appends", String(count), String(o.warmup), String(o.batch), String(o.bodyBytes)],
		{ maxBuffer: 64 * 2 ** 20, env: { ...process.env, NODE_OPTIONS: "" } },
	);
	return { total: collectedIn(stderr), objects: await byObject(out) };
}

export function measureAppendCost(o: AppendCostOptions): Promise<AppendCostResult> {
	return withCallgrind(async (dir) => {
		// The two runs are independent and callgrind's counts do not depend on load: side by side.
		const [small, large] = await Promise.all([counted(o.base, o, join(dir, "small.out")), counted(o.base + o.extra, o, join(dir, "large.out"))]);
		return { available: true as const, options: o, ...marginal(small, large, o.extra) };
	});
}
