/**
 * The processes the benchmark measures: the hub (`node dist/cli.js hub`, a real separate process with its
 * own event loop and a temp database), the bare forwarder (this bundle run with `--role forwarder`) and the
 * log-line relay (`--role logline`).
 * Both listen on an ephemeral port and print it; we read it from their stdout.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

/** dist/bench.js (this bundle), whatever chunk this code ends up in. */
const SELF = resolve(process.argv[1] ?? "dist/bench.js");
export const ROOT = dirname(dirname(SELF));

/** The built files the bench runs: dist/, or the snapshot of it taken by `snapshotDist`. */
export const built = { cli: join(dirname(SELF), "cli.js"), bench: SELF };

/**
 * Copies dist/ to bench-results/.dist-<pid>/ (git-ignored, and inside the repository so that the bundle's
 * external packages still resolve from node_modules) and runs the hub, the bridge and the helpers from
 * there: a `npm run build` or `npm test` started meanwhile empties dist/, which would fail half the run.
 * Returns the function that removes the snapshot.
 */
export function snapshotDist(): () => void {
	const dir = join(ROOT, "bench-results", `.dist-${process.pid}`);
	cpSync(dirname(SELF), dir, { recursive: true });
	built.cli = join(dir, "cli.js");
	built.bench = join(dir, "bench.js");
	return () => rmSync(dir, { recursive: true, force: true });
}

export interface Child {
	proc: ChildProcess;
	pid: number;
	port: number;
	url: string;
	/** Resident set size of the process now, in bytes (Linux /proc; `ps` elsewhere). */
	rss(): number;
	/** CPU time used so far, ms. */
	cpuMs(): number;
	/** SIGTERM (graceful: a --cpu-prof profile gets written), then SIGKILL after 5 s (a minute when wrapped). */
	stop(): Promise<void>;
	stderr(): string;
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
	const dir = mkdtempSync(join(tmpdir(), prefix));
	return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function rssOf(pid: number): number {
	try {
		const status = readFileSync(`/proc/${pid}/status`, "utf8");
		const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
		if (m) return Number(m[1]) * 1024;
	} catch {
		// not Linux: fall through to ps
	}
	return Number(execFileSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" }).trim()) * 1024;
}

/** utime + stime of a /proc stat file (a process's, or one of its threads'), in milliseconds; 0 if unreadable. */
function statCpuMs(file: string): number {
	try {
		const stat = readFileSync(file, "utf8");
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		// utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
		return (Number(fields[11]) + Number(fields[12])) * 10;
	} catch {
		return 0;
	}
}

/** CPU time (user + system) a process has used so far, in milliseconds (Linux /proc; 0 elsewhere). */
export function cpuMsOf(pid: number): number {
	return statCpuMs(`/proc/${pid}/stat`);
}

/** CPU time a process's main thread (the event loop) has used so far, in milliseconds (Linux /proc; 0 elsewhere). */
export function mainThreadCpuMsOf(pid: number): number {
	return statCpuMs(`/proc/${pid}/task/${pid}/stat`);
}

/** CPU milliseconds this process has used so far. */
export function selfCpuMs(): number {
	const u = process.cpuUsage();
	return (u.user + u.system) / 1000;
}

/**
 * Samples a file's size every `everyMs` until stopped and returns the largest seen (0 if it never existed):
 * the hub's SQLite WAL, whose bound is --wal-max-bytes.
 */
export function samplePeakSize(file: string, everyMs = 10): () => number {
	let peak = 0;
	const look = () => {
		try {
			peak = Math.max(peak, statSync(file).size);
		} catch {
			// not there (yet, or any more)
		}
	};
	const timer = setInterval(look, everyMs);
	return () => {
		clearInterval(timer);
		look();
		return peak;
	};
}

/** Whether a pid is gone: no such process, or a zombie nobody has reaped yet (it runs no code any more). */
export function processGone(pid: number): boolean {
	try {
		process.kill(pid, 0);
	} catch (err) {
		return (err as NodeJS.ErrnoException).code !== "EPERM";
	}
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
		return state === "Z" || state === "X";
	} catch {
		return false;
	}
}

/**
 * A command the server runs under (`["valgrind", "--tool=callgrind", …]`): slower to start and to stop, so
 * it gets a minute for each instead of 15 s and 5 s.
 */
export type Wrapper = string[];

async function startChild(command: string, args: string[], env: NodeJS.ProcessEnv, portPattern: RegExp, what: string, wrap?: Wrapper): Promise<Child> {
	const [program, ...prefix] = wrap?.length ? [...wrap, command] : [command];
	const startMs = wrap?.length ? 60_000 : 15_000;
	const graceMs = wrap?.length ? 60_000 : 5_000;
	const proc = spawn(program as string, [...prefix, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
	let out = "";
	let err = "";
	proc.stderr?.on("data", (d) => {
		err += String(d);
		if (err.length > 64_000) err = err.slice(-32_000);
	});
	const port = await new Promise<number>((resolvePort, reject) => {
		const timer = setTimeout(() => reject(new Error(`${what} did not print its port within ${startMs / 1000} s: ${err}`)), startMs);
		proc.stdout?.on("data", (d) => {
			if (out.length < 64_000) out += String(d);
			const m = portPattern.exec(out);
			if (m) {
				clearTimeout(timer);
				resolvePort(Number(m[1]));
			}
		});
		proc.once("exit", (code, signal) => {
			clearTimeout(timer);
			reject(new Error(`${what} exited (${code ?? signal}) before listening: ${err}`));
		});
	});
	const pid = proc.pid as number;
	return {
		proc,
		pid,
		port,
		url: `ws://127.0.0.1:${port}`,
		rss: () => rssOf(pid),
		cpuMs: () => cpuMsOf(pid),
		stderr: () => err,
		stop: async () => {
			if (proc.exitCode !== null || proc.signalCode !== null) return;
			const exited = new Promise<void>((r) => proc.once("exit", () => r()));
			proc.kill("SIGTERM");
			const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
			await exited;
			clearTimeout(timer);
		},
	};
}

/** Extra node flags for the hub under test, e.g. BENCH_HUB_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
function hubNodeArgs(): string[] {
	return (process.env.BENCH_HUB_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
}

export interface BenchHub extends Child {
	db: string;
	cleanup(): Promise<void>;
}

/**
 * `claude-relay hub` on an ephemeral port with a fresh temp database, rate limits and the caps on sessions
 * raised so the benchmark measures the hub and not its throttle (`limits: "default"` keeps them: the flood
 * scenario measures the hub at its limits). Everything else is the default configuration.
 */
export async function spawnBenchHub(
	extraArgs: string[] = [],
	store?: string,
	opts: { limits?: "raised" | "default"; port?: number; wrap?: Wrapper } = {},
): Promise<BenchHub> {
	const { dir, cleanup } = tempDir("relay-bench-");
	// BENCH_HUB_DB=:memory: (or redis://…) runs the same scenarios on another store, to tell what durability
	// costs from what the rest of the hub costs; `store` does the same for one scenario.
	const db = store ?? (process.env.BENCH_HUB_DB || join(dir, "relay.db"));
	const args = [
		...hubNodeArgs(),
		built.cli,
		"hub",
		String(opts.port ?? 0),
		"--db",
		db,
		"--log-level",
		"warn",
		...(opts.limits === "default"
			? []
			: [
					"--rate-limit",
					"1000000",
					"--rate-burst",
					"1000000",
					"--max-sessions-per-room",
					"0",
					"--new-sessions-per-minute",
					"0",
					"--broadcast-deliveries-per-second",
					"0",
					// The connections and storm scenarios hold 10,000 and 5,000 sessions (default cap 5,000).
					"--max-connections",
					"20000",
				]),
		"--retention-days",
		"0",
		"--retention-max-messages",
		"0",
		...extraArgs,
	];
	let child: Child;
	try {
		child = await startChild(process.execPath, args, { RELAY_HOME: dir }, /listening\s+ws:\/\/[^:\s]+:(\d+)/, "the hub", opts.wrap);
	} catch (err) {
		cleanup();
		throw err;
	}
	return {
		...child,
		db,
		cleanup: async () => {
			await child.stop();
			cleanup();
		},
	};
}

/** The log-line relay (scripts/bench/logline-relay.ts), a model of the original claude-relay, as its own process. */
export async function spawnLoglineRelay(): Promise<Child> {
	return startChild(process.execPath, [built.bench, "--role", "logline"], {}, /logline relay listening (\d+)/, "the log-line relay");
}

/** The bare ws forwarder (scripts/bench/forwarder.ts) as its own process. */
export async function spawnForwarder(wrap?: Wrapper): Promise<Child> {
	return startChild(process.execPath, [built.bench, "--role", "forwarder"], {}, /forwarder listening (\d+)/, "the forwarder", wrap);
}

export function gitCommit(): { commit: string; short: string; dirty: boolean } {
	try {
		const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
		const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: ROOT, encoding: "utf8" }).trim() !== "";
		return { commit, short: commit.slice(0, 7), dirty };
	} catch {
		return { commit: "unknown", short: "nogit", dirty: false };
	}
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
