/**
 * Cold start of the bridge: the time from spawning `node dist/cli.js mcp` to its answer to `initialize`,
 * which every Claude Code session pays before its tools appear. Each run is a fresh process with an empty
 * RELAY_HOME and no hub (the bridge answers before it connects). One warm-up run (file cache) is not
 * counted. `measureBareNode` gives the floor: `node -e 0` from spawn to exit.
 *
 * Run on its own: `npm run build && node dist/bench.js coldstart`.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./stats.js";

export interface ColdStartResult {
	median: number;
	/** Milliseconds of each counted run, in order. */
	runs: number[];
}

const INITIALIZE = `${JSON.stringify({
	jsonrpc: "2.0",
	id: 1,
	method: "initialize",
	params: {
		protocolVersion: "2025-06-18",
		capabilities: {},
		clientInfo: { name: "cold-start-bench", version: "1" },
	},
})}\n`;

/** dist/cli.js of this repository: found upwards from this module, else from the working directory. */
export function findCli(): string {
	for (const start of [
		dirname(fileURLToPath(import.meta.url)),
		process.cwd(),
	]) {
		for (let dir = resolve(start); ; dir = dirname(dir)) {
			const cli = join(dir, "dist", "cli.js");
			if (existsSync(cli) && existsSync(join(dir, "package.json"))) return cli;
			if (dirname(dir) === dir) break;
		}
	}
	throw new Error("dist/cli.js not found: run `npm run build` first");
}

/** One spawn → `initialize` reply, in milliseconds. */
async function once(cli: string, home: string): Promise<number> {
	const started = performance.now();
	const child = spawn(process.execPath, [cli, "mcp"], {
		stdio: ["pipe", "pipe", "ignore"],
		env: {
			...process.env,
			RELAY_HOME: home,
			RELAY_URL: "ws://127.0.0.1:9",
			CLAUDE_RELAY_SESSION_ID: "Bench-cold-start",
			RELAY_LOG_LEVEL: "silent",
		},
	});
	child.stdin.write(INITIALIZE);
	const elapsed = await new Promise<number>((resolvePromise, reject) => {
		let out = "";
		const timer = setTimeout(
			() => reject(new Error("no initialize reply within 10 s")),
			10_000,
		);
		child.stdout.on("data", (chunk: Buffer) => {
			out += chunk.toString();
			if (out.includes('"id":1')) {
				clearTimeout(timer);
				resolvePromise(performance.now() - started);
			}
		});
		child.once("exit", (code) => {
			clearTimeout(timer);
			reject(
				new Error(`the bridge exited (${code}) before answering initialize`),
			);
		});
	});
	// Let it go the way Claude Code does (stdin closed) and wait, so runs never overlap.
	const exited = new Promise((r) => child.once("exit", r));
	child.stdin.end();
	const killer = setTimeout(() => child.kill("SIGKILL"), 3_000);
	await exited;
	clearTimeout(killer);
	return elapsed;
}

export async function measureColdStart(
	runs: number,
	opts: { cli?: string } = {},
): Promise<ColdStartResult> {
	const cli = opts.cli ?? findCli();
	const home = mkdtempSync(join(tmpdir(), "relay-cold-"));
	try {
		await once(cli, home);
		const times: number[] = [];
		for (let i = 0; i < runs; i++) times.push(await once(cli, home));
		return { median: median(times), runs: times };
	} finally {
		rmSync(home, { recursive: true, force: true });
	}
}

/** `node -e 0`, spawn to exit: what any Node process costs on this machine. */
export async function measureBareNode(runs: number): Promise<ColdStartResult> {
	const times: number[] = [];
	for (let i = 0; i <= runs; i++) {
		const started = performance.now();
		await new Promise((r) =>
			spawn(process.execPath, ["-e", "0"], { stdio: "ignore" }).once("exit", r),
		);
		if (i > 0) times.push(performance.now() - started);
	}
	return { median: median(times), runs: times };
}

