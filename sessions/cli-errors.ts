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
