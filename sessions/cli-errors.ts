/**
 * How the sessions, register, launchd and tunnel commands fail: one line on stderr, a non-zero exit code,
 * no stack trace (set RELAY_DEBUG=1 to see one for an unexpected error).
 */
import { sanitizeLine } from "../server/sanitize.js";

/** An expected failure whose message is meant for people: bad input, a busy port, a missing program. */
export class UserError extends Error {
	override name = "UserError";
	constructor(
		message: string,
		readonly exitCode = 1,
	) {
		super(message);
	}
}

/** Arguments yargs itself refused (a missing positional, an unknown option): exit code 2, like a bad value. */
export class UsageError extends UserError {
	override name = "UsageError";
	constructor(message: string) {
		super(message, 2);
	}
}

/**
 * A yargs `.fail()` for the commands whose documented exit code for invalid arguments is 2 (send, client):
 * yargs' own exits 1, which scripts read as "tried and failed". Shows the command's help on stderr and
 * throws a UsageError, which runCli reports.
 */
export function failWithUsage(msg: string | null, err: Error | undefined, y: { showHelp(print: (s: string) => void): unknown }): never {
	if (err) throw err;
	y.showHelp((s) => process.stderr.write(`${s}\n\n`));
	throw new UsageError(msg ?? "invalid arguments");
}

/**
 * Prints `claude-relay <command>: <message>` and sets the exit code; for use in a yargs handler's catch. The
 * message may quote the hub or a file (a peer's host, a path): it is printed as one terminal-safe line.
 */
export function reportFailure(command: string, err: unknown): void {
	const message = err instanceof Error ? err.message : String(err);
	process.stderr.write(`claude-relay ${command}: ${sanitizeLine(message)}\n`);
	if (
		!(err instanceof UserError) &&
		process.env.RELAY_DEBUG &&
		err instanceof Error &&
		err.stack
	)
		process.stderr.write(`${err.stack}\n`);
	process.exitCode = err instanceof UserError ? err.exitCode : 1;
}
