/**
 * Watchdog: how long a bridge outlives its Claude session when that session is SIGKILLed. The "session" is
 * a tiny parent process (this bundle with `--role wd-parent`) that spawns `claude-relay mcp` with stdio
 * pipes, as Claude Code does, and waits until it answers `initialize`. The bench SIGKILLs the parent and
 * polls until the bridge's pid is gone (or a zombie). Median of 5 runs.
 */
import { spawn } from "node:child_process";
import { initialize, spawnBridge } from "./mcp.js";
import { built, processGone, sleep, spawnBenchHub, tempDir } from "./procs.js";
import { median } from "./stats.js";

export type WatchdogResult =
	| { available: true; runs: number[]; medianMs: number; timedOut: number }
	| { available: false; reason: string };

/** The parent role: spawn the bridge, initialize it, report `ready <pid>`, then just stay alive. */
export async function runWatchdogParent(url: string, home: string, session: string): Promise<void> {
	const bridge = spawnBridge({ url, home, session });
	try {
		await initialize(bridge);
	} catch (err) {
		process.stdout.write(`unavailable ${(err as Error).message.replace(/\n/g, " ")}\n`);
		bridge.kill("SIGKILL");
		process.exit(0);
	}
	process.stdout.write(`ready ${bridge.pid}\n`);
	setInterval(() => undefined, 60_000);
}

function startParent(url: string, home: string, session: string): Promise<{ parent: ReturnType<typeof spawn>; bridgePid: number } | { unavailable: string }> {
	const parent = spawn(process.execPath, [built.bench, "--role", "wd-parent", url, home, session], { stdio: ["ignore", "pipe", "inherit"] });
	return new Promise((resolve, reject) => {
		let out = "";
		const timer = setTimeout(() => {
			parent.kill("SIGKILL");
			reject(new Error("the watchdog parent did not report within 15 s"));
		}, 15_000);
		parent.stdout?.on("data", (d) => {
			out += String(d);
			const ready = /^ready (\d+)$/m.exec(out);
			const unavailable = /^unavailable (.*)$/m.exec(out);
			if (ready) {
				clearTimeout(timer);
				resolve({ parent, bridgePid: Number(ready[1]) });
			} else if (unavailable) {
				clearTimeout(timer);
				resolve({ unavailable: unavailable[1] ?? "" });
			}
		});
	});
}

export async function measureWatchdog(runs = 5, timeoutMs = 10_000): Promise<WatchdogResult> {
	const hub = await spawnBenchHub();
	const home = tempDir("relay-bench-wd-");
	const times: number[] = [];
	let timedOut = 0;
	try {
		for (let i = 0; i < runs; i++) {
			const started = await startParent(hub.url, home.dir, `WD${i}`);
			if ("unavailable" in started) return { available: false, reason: started.unavailable };
			const { parent, bridgePid } = started;
			const t0 = performance.now();
			parent.kill("SIGKILL");
			while (!processGone(bridgePid)) {
				if (performance.now() - t0 > timeoutMs) break;
				await sleep(1);
			}
			const elapsed = performance.now() - t0;
			if (!processGone(bridgePid)) {
				timedOut++;
				try {
					process.kill(bridgePid, "SIGKILL");
				} catch {
					// gone meanwhile
				}
			}
			times.push(elapsed);
		}
		return { available: true, runs: times, medianMs: median(times), timedOut };
	} finally {
		home.cleanup();
		await hub.cleanup();
	}
}
