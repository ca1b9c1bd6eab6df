/**
 * Runs another program (here: Claude Code's `claude`) without a shell, bounded in time, and never rejects:
 * a missing program, a failure and a timeout are all results. Looked up on PATH, so tests put a fake
 * `claude` first on PATH.
 */
import { spawn } from "node:child_process";

export interface RunResult {
	code: number;
	stdout: string;
	stderr: string;
	notFound: boolean;
	timedOut: boolean;
}

const KEEP = 64 * 1024;

export function runProgram(
	program: string,
	args: readonly string[],
	opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
	return new Promise((resolve) => {
		let stdout = "";
		let stderr = "";
		let timedOut = false;
		let settled = false;
		const done = (r: Omit<RunResult, "stdout" | "stderr" | "timedOut">) => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			resolve({ ...r, stdout, stderr, timedOut });
		};
		let child: ReturnType<typeof spawn>;
		try {
			child = spawn(program, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
		} catch (err) {
			stderr = (err as Error).message;
			return done({ code: 127, notFound: true });
		}
		const timer = setTimeout(() => {
			timedOut = true;
			child.kill("SIGKILL");
		}, opts.timeoutMs ?? 60_000);
		child.stdout?.setEncoding("utf8").on("data", (c: string) => {
			stdout = (stdout + c).slice(-KEEP);
		});
		child.stderr?.setEncoding("utf8").on("data", (c: string) => {
			stderr = (stderr + c).slice(-KEEP);
		});
		child.on("error", (err) => {
			stderr += (err as Error).message;
			done({ code: 127, notFound: (err as NodeJS.ErrnoException).code === "ENOENT" });
		});
		child.on("close", (code) => done({ code: code ?? 1, notFound: false }));
	});
}
