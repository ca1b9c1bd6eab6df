/**
 * The SQLite store's cost per message in CPU instructions, counted by valgrind's callgrind: the same count
 * for the same code and inputs however busy the machine is. The timed scenarios move by ±20% from one run to
 * the next on a shared 2-core VM (the same build measured 9.6-15 µs per append), more than most changes to
 * the store are worth, so an A/B of the store is read here rather than off their timings.
 *
 * What one message costs the store in the throughput scenario: an append (1→1, with an idempotency key, a
 * 256-byte body: the journal record, the rows, the commit) and its pushed mark, in batches of 128 as a
 * window of sends arrives. Two processes run it, one with BASE and one with BASE + EXTRA messages after the
 * same warm-up; the difference divided by EXTRA is the marginal cost, without the process's start-up. The
 * split by shared object says where it goes: SQLite (better_sqlite3.node), V8 and Node (node), libc.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { newIdempotencyKey } from "../../server/protocol.js";
import { SqliteStore } from "../../server/store/sqlite.js";
import { built } from "./procs.js";

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

async function counted(count: number, o: AppendCostOptions, out: string): Promise<{ total: number; objects: Record<string, number> | null }> {
	const { stderr } = await run(
		"valgrind",
		["--tool=callgrind", `--callgrind-out-file=${out}`, process.execPath, built.bench, "--role", "appends", String(count), String(o.warmup), String(o.batch), String(o.bodyBytes)],
		{ maxBuffer: 64 * 2 ** 20, env: { ...process.env, NODE_OPTIONS: "" } },
	);
	const collected = /Collected\s*:\s*(\d+)/.exec(stderr);
	if (!collected) throw new Error(`callgrind printed no total: ${stderr.slice(-300)}`);
	return { total: Number(collected[1]), objects: await byObject(out) };
}

export async function measureAppendCost(o: AppendCostOptions): Promise<AppendCostResult> {
	try {
		await run("valgrind", ["--version"]);
	} catch {
		return { available: false, reason: "valgrind is not installed" };
	}
	const dir = mkdtempSync(join(tmpdir(), "relay-bench-callgrind-"));
	try {
		// The two runs are independent and callgrind's counts do not depend on load: side by side.
		const [small, large] = await Promise.all([counted(o.base, o, join(dir, "small.out")), counted(o.base + o.extra, o, join(dir, "large.out"))]);
		let split: Record<string, number> | null = null;
		if (small.objects && large.objects) {
			split = {};
			for (const name of new Set([...Object.keys(small.objects), ...Object.keys(large.objects)])) {
				const per = ((large.objects[name] ?? 0) - (small.objects[name] ?? 0)) / o.extra;
				if (Math.abs(per) >= 1) split[name] = Math.round(per);
			}
		}
		return { available: true, options: o, perMessage: Math.round((large.total - small.total) / o.extra), byObject: split };
	} finally {
		if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
	}
}
