/**
 * Makes sure the bridge never outlives the Claude session that spawned it. Any one of these ends it:
 * - stdin reaches its end or closes (the parent closed the pipe, or died and the OS closed it);
 * - the parent process is gone: polled every `intervalMs` (default 500 ms), by the parent pid changing
 *   (the bridge was re-parented to init or a subreaper) or no longer existing. This catches a parent killed
 *   with SIGKILL even when something else still holds the other end of stdin;
 * - SIGTERM, SIGINT or SIGHUP;
 * - stdout breaking (EPIPE): nobody reads MCP frames any more.
 * `onExit` is called once, with the reason.
 */
export interface WatchdogOptions {
	onExit: (reason: string) => void;
	intervalMs?: number;
	stdin?: NodeJS.ReadableStream;
	stdout?: NodeJS.WritableStream;
	/** The parent to watch; default: the parent at start. */
	parentPid?: number;
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

/** Starts watching; returns a function that stops it. */
export function startWatchdog(opts: WatchdogOptions): () => void {
	const stdin = opts.stdin ?? process.stdin;
	const stdout = opts.stdout ?? process.stdout;
	const parent = opts.parentPid ?? process.ppid;
	let fired = false;
	const fire = (reason: string) => {
		if (fired) return;
		fired = true;
		stop();
		opts.onExit(reason);
	};

	// Started by init itself (or a parent that already died): there is no parent to poll.
	const poll =
		parent > 1
			? setInterval(() => {
					if (process.ppid !== parent)
						fire(
							`parent process ${parent} exited (re-parented to ${process.ppid})`,
						);
					else if (!alive(parent)) fire(`parent process ${parent} exited`);
				}, opts.intervalMs ?? 500)
			: undefined;
	poll?.unref();

	const onEnd = () => fire("stdin closed");
	const onStdoutError = (err: NodeJS.ErrnoException) =>
		fire(`stdout failed (${err.code ?? err.message})`);
	const signals = ["SIGTERM", "SIGINT", "SIGHUP"] as const;
	const onSignal = (signal: NodeJS.Signals) => fire(`received ${signal}`);
	stdin.on("end", onEnd);
	stdin.on("close", onEnd);
	stdout.on("error", onStdoutError);
	for (const s of signals) process.on(s, onSignal);

	function stop(): void {
		if (poll) clearInterval(poll);
		stdin.off("end", onEnd);
		stdin.off("close", onEnd);
		// The stdout error handler stays: a late EPIPE while exiting must not become an uncaught exception.
		for (const s of signals) process.off(s, onSignal);
	}
	return stop;
}
