/**
 * The one way the launchd and tunnel commands run other programs (launchctl, systemctl, ssh, autossh):
 * looked up on PATH, never through a shell, so tests can put fake programs first on PATH and user values
 * can never become shell code.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";

export interface ExecResult {
	/** Exit code; 127 when the program was not found, 128+n when killed by signal n. */
	code: number;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
	/** The signal we received and passed on while the program ran ("inherit" only): the user stopped it. */
	interrupted?: NodeJS.Signals;
}

export interface ExecOptions {
	/**
	 * "capture": collect stdout and stderr (default). "inherit": the program uses our terminal, and its stderr
	 * is also kept (the last 16 KiB) so a failure can be explained.
	 */
	stdio?: "capture" | "inherit";
	env?: NodeJS.ProcessEnv;
}

const KEEP_STDERR = 16 * 1024;

/** The absolute path of an executable found on PATH, or undefined. */
export function which(
	program: string,
	env: NodeJS.ProcessEnv = process.env,
): string | undefined {
	if (program.includes("/")) return isExecutable(program) ? program : undefined;
	for (const dir of (env.PATH ?? "").split(delimiter)) {
		if (!dir || !isAbsolute(dir)) continue;
		const candidate = join(dir, program);
		if (isExecutable(candidate)) return candidate;
	}
	return undefined;
}

function isExecutable(file: string): boolean {
	try {
		if (!statSync(file).isFile()) return false;
		accessSync(file, constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

/** Runs `program args...` and resolves when it exits; never rejects for the program's own failure. */
export function exec(
	program: string,
	args: readonly string[],
	options: ExecOptions = {},
): Promise<ExecResult> {
	const env = options.env ?? process.env;
	const path = which(program, env);
	if (!path)
		return Promise.resolve({
			code: 127,
			signal: null,
			stdout: "",
			stderr: `${program}: not found on PATH`,
		});
	const inherit = options.stdio === "inherit";
	return new Promise((resolve) => {
		const child = spawn(path, args, {
			env,
			stdio: inherit
				? ["inherit", "inherit", "pipe"]
				: ["ignore", "pipe", "pipe"],
		});
		let stdout = "";
		let stderr = "";
		child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
			stdout += chunk;
		});
		child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
			if (inherit) process.stderr.write(chunk);
			stderr = (stderr + chunk).slice(-KEEP_STDERR);
		});
		// While a foreground program runs, a signal to us is passed on, and we wait for the program to exit
		// instead of dying first (Ctrl-C reaches both: the program then sees it twice, which is harmless).
		let interrupted: NodeJS.Signals | undefined;
		const forward = (signal: NodeJS.Signals) => () => {
			interrupted = signal;
			child.kill(signal);
		};
		const onInt = forward("SIGINT");
		const onTerm = forward("SIGTERM");
		const onHup = forward("SIGHUP");
		if (inherit) {
			process.on("SIGINT", onInt);
			process.on("SIGTERM", onTerm);
			process.on("SIGHUP", onHup);
		}
		let settled = false;
		const done = (result: ExecResult) => {
			if (settled) return;
			settled = true;
			process.off("SIGINT", onInt);
			process.off("SIGTERM", onTerm);
			process.off("SIGHUP", onHup);
			resolve(interrupted ? { ...result, interrupted } : result);
		};
		child.on("error", (err) =>
			done({
				code: 127,
				signal: null,
				stdout,
				stderr: `${program}: ${err.message}`,
			}),
		);
		child.on("close", (code, signal) => {
			const bySignal = signal ? 128 + (osConstants.signals[signal] ?? 0) : 1;
			done({ code: code ?? bySignal, signal, stdout, stderr });
		});
	});
}
