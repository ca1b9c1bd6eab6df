/**
 * The spawn driver: runs a configured headless command (`codex exec …`, `claude -p --resume <id> …`) in the
 * session's cwd, for a session that is offline (nothing runs it that could be nudged). argv only, no shell;
 * its placeholders are filled with validated values only ({session}: a session ID, {claudeSessionId}: one
 * of [A-Za-z0-9-], {nudge}: the fixed sentence, {cwd}: the directory). Its environment names the session
 * (CLAUDE_RELAY_SESSION_ID) and marks the run as one the daemon started (CLAUDE_RELAY_AUTOWAKE=1, which the
 * block-git hook reads).
 *
 * One run at a time per session (the rails' single flight). It runs in a process group of its own (detached):
 * at its time limit the whole group gets SIGTERM, then SIGKILL 2 s later, and when the command exits, what
 * it left behind in its group is ended the same way. A process that leaves the group (setsid, a daemon of
 * its own) is out of reach: that is the limit of process groups. Its output goes to
 * $RELAY_HOME/logs/autowake-<session>.log.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { paths } from "../../../server/paths.js";

export interface SpawnRun {
	session: string;
	argv: string[];
	cwd: string;
	env: NodeJS.ProcessEnv;
	timeoutMs: number;
}

export interface SpawnOutcome {
	code: number | null;
	signal: string | null;
	timedOut: boolean;
	ms: number;
	pid: number | undefined;
	/** Where the output went, and at which byte this run's part starts. */
	log: string;
	logOffset: number;
	error?: string;
}

const KILL_GRACE_MS = 2_000;

export const spawnLog = (home: string, session: string) => join(paths.logs(home), `autowake-${session}.log`);

/** Ends a process group: SIGTERM now, SIGKILL after the grace. Never throws. */
function endGroup(pgid: number, grace = KILL_GRACE_MS): void {
	try {
		process.kill(-pgid, "SIGTERM");
	} catch {
		return; // already gone
	}
	setTimeout(() => {
		try {
			process.kill(-pgid, "SIGKILL");
		} catch {
			// gone
		}
	}, grace).unref();
}

export class SpawnDriver {
	readonly #running = new Map<string, number>();

	constructor(private readonly home: string) {}

	isRunning(session: string): boolean {
		return this.#running.has(session);
	}

	run(r: SpawnRun): Promise<SpawnOutcome> {
		const log = spawnLog(this.home, r.session);
		mkdirSync(paths.logs(this.home), { recursive: true, mode: 0o700 });
		const fd = openSync(log, "a", 0o600);
		let offset = 0;
		try {
			offset = statSync(log).size;
		} catch {
			// just created
		}
		writeSync(fd, `--- ${new Date().toISOString()} ${JSON.stringify(r.argv)} in ${r.cwd}\n`);
		const started = Date.now();
		return new Promise((resolve) => {
			let timedOut = false;
			let settled = false;
			let timer: NodeJS.Timeout | undefined;
			const finish = (o: Omit<SpawnOutcome, "ms" | "log" | "logOffset" | "timedOut">) => {
				if (settled) return;
				settled = true;
				clearTimeout(timer);
				this.#running.delete(r.session);
				try {
					writeSync(fd, `--- exit ${o.code ?? o.signal}${timedOut ? " (timed out)" : ""} after ${Date.now() - started} ms\n`);
				} catch {
					// the log is best effort
				}
				closeSync(fd);
				resolve({ ...o, timedOut, ms: Date.now() - started, log, logOffset: offset });
			};
			let child: ReturnType<typeof spawn>;
			try {
				child = spawn(r.argv[0] as string, r.argv.slice(1), { cwd: r.cwd, env: r.env, detached: true, stdio: ["ignore", fd, fd] });
			} catch (err) {
				finish({ code: null, signal: null, pid: undefined, error: (err as Error).message });
				return;
			}
			const pid = child.pid;
			if (pid !== undefined) this.#running.set(r.session, pid);
			timer = setTimeout(() => {
				timedOut = true;
				if (pid !== undefined) endGroup(pid);
			}, r.timeoutMs);
			child.on("error", (err) => finish({ code: null, signal: null, pid, error: err.message }));
			child.on("exit", (code, signal) => {
				// Whatever it started in its group goes with it.
				if (pid !== undefined) endGroup(pid);
				finish({ code, signal, pid });
			});
		});
	}

	/** Ends every run (the daemon is stopping). */
	stopAll(): void {
		for (const pid of this.#running.values()) endGroup(pid, 500);
	}
}
