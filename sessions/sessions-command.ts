/**
 * `claude-relay sessions` (list the sessions registry) and `claude-relay register <id>` (record an ID in it;
 * the `claude-session` shell function calls this). Implementation: sessions/sessions.ts.
 */
import type { CommandModule } from "yargs";
import { reportFailure } from "./cli-errors.js";

const DEFAULT_URL = "ws://localhost:9999";

interface SessionsArgs {
	json: boolean;
	prune: boolean;
	url: string;
	room: string;
}

export const sessionsCommand: CommandModule<object, SessionsArgs> = {
	command: "sessions",
	describe:
		"List the registered session IDs: status, host, working directory, start time",
	builder: (y) =>
		y
			.option("json", {
				type: "boolean",
				default: false,
				describe: "Print JSON instead of a table",
			})
			.option("prune", {
				type: "boolean",
				default: false,
				describe: "Remove sessions that ended more than 24 hours ago",
			})
			.option("url", {
				type: "string",
				default: process.env.RELAY_URL || DEFAULT_URL,
				defaultDescription: `$RELAY_URL or ${DEFAULT_URL}`,
				describe: "Hub to ask who is online (GET /sessions); the registry alone if unreachable",
			})
			.option("room", {
				type: "string",
				default: process.env.RELAY_ROOM || "default",
				defaultDescription: "$RELAY_ROOM or default",
				describe: "Room whose sessions the hub lists",
			})
			.example("$0 sessions", "Table of every registered session")
			.example("$0 sessions --json", "The same as JSON")
			.example(
				"$0 sessions --prune",
				"Forget sessions that ended more than a day ago",
			),
	handler: async (argv) => {
		try {
			const { runSessions } = await import("./sessions.js");
			const token = process.env.RELAY_TOKEN?.trim() || undefined;
			await runSessions({ json: argv.json, prune: argv.prune, url: argv.url, room: argv.room, token });
		} catch (err) {
			reportFailure("sessions", err);
		}
	},
};

interface RegisterArgs {
	id: string | undefined;
	pid: number | undefined;
	cwd: string | undefined;
}

export const registerCommand: CommandModule<object, RegisterArgs> = {
	command: "register [id]",
	describe:
		"Record a session ID in the sessions registry (claude-session does this for you)",
	builder: (y) =>
		y
			.positional("id", {
				type: "string",
				describe:
					"Session ID: a letter, then letters, digits, '_' or '-' (64 at most)",
			})
			.option("pid", {
				type: "number",
				describe:
					"Process that owns the session; the entry shows 'ended' once it exits [default: the caller]",
			})
			.option("cwd", {
				type: "string",
				describe: "Working directory to record [default: the current one]",
			})
			.example(
				'$0 register CC-1 --pid $$ --cwd "$PWD"',
				"What `claude-session CC-1` runs",
			)
			.example(
				'$0 register -- "$ID"',
				"Pass an ID that might start with '-' safely",
			)
			.epilogue(
				"Exit codes: 0 recorded, 2 invalid ID (the reason is printed), 1 other errors.",
			),
	handler: async (argv) => {
		try {
			const { runRegister } = await import("./sessions.js");
			const pid = argv.pid;
			if (pid !== undefined && (!Number.isInteger(pid) || pid < 0)) {
				process.stderr.write(
					`claude-relay register: --pid must be a process ID (got ${String(pid)})\n`,
				);
				process.exitCode = 2;
				return;
			}
			// After `--` yargs leaves the ID in argv._ (["register", id]): that is how an ID like "--help" arrives.
			const given =
				argv.id !== undefined ? [argv.id] : argv._.slice(1).map(String);
			if (given.length !== 1) {
				process.stderr.write(
					"claude-relay register: name exactly one session ID, e.g. `claude-relay register CC-1`\n",
				);
				process.exitCode = 2;
				return;
			}
			process.exitCode = await runRegister({
				id: String(given[0]),
				pid,
				cwd: argv.cwd,
			});
		} catch (err) {
			reportFailure("register", err);
		}
	},
};
