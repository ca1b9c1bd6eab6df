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

interface ForgetArgs {
	id: string;
	url: string;
	room: string;
	force: boolean;
	json: boolean;
	tokenFile: string | undefined;
}

const forgetCommand: CommandModule<object, ForgetArgs> = {
	command: "forget <id>",
	describe: "Forget a session ID at the hub now: its record, unread mail and lost count; it leaves every broadcast",
	builder: (y) =>
		y
			.positional("id", { type: "string", demandOption: true, describe: "The session ID to forget" })
			.option("url", {
				type: "string",
				default: process.env.RELAY_URL || DEFAULT_URL,
				defaultDescription: `$RELAY_URL or ${DEFAULT_URL}`,
				describe: "The hub (several sharing one Redis: comma-separated; the first that answers)",
			})
			.option("room", {
				type: "string",
				default: process.env.RELAY_ROOM || "default",
				defaultDescription: "$RELAY_ROOM or default",
				describe: "The room the ID is in",
			})
			.option("token-file", {
				type: "string",
				describe: "File holding the hub token, which forgets any ID (RELAY_TOKEN may hold the token itself) [env RELAY_TOKEN_FILE]",
			})
			.option("force", {
				type: "boolean",
				default: false,
				describe: "Forget it even while a live session holds it (that session is closed and stops)",
			})
			.option("json", { type: "boolean", default: false, describe: "Print the hub's answer as JSON" })
			.example("$0 sessions forget CC-9", "With CC-9's secret from $RELAY_HOME/secrets")
			.example("RELAY_TOKEN=$(cat token) $0 sessions forget old-laptop-4242", "Any ID, with the hub token")
			.epilogue("Exit codes: 0 forgotten, 1 refused or failed (the reason is printed), 2 invalid arguments.") as never,
	handler: async (argv) => {
		try {
			const { runForget } = await import("./forget.js");
			process.exitCode = await runForget({
				id: argv.id,
				url: argv.url,
				room: argv.room,
				force: argv.force,
				json: argv.json,
				tokenFile: argv.tokenFile,
			});
		} catch (err) {
			reportFailure("sessions forget", err);
		}
	},
};

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
				describe: "Hub to ask who is online (GET /sessions; several: comma-separated, the first that answers); the registry alone if unreachable",
			})
			.option("room", {
				type: "string",
				default: process.env.RELAY_ROOM || "default",
				defaultDescription: "$RELAY_ROOM or default",
				describe: "Room whose sessions the hub lists",
			})
			.command(forgetCommand)
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
	harness: string | undefined;
}

/** The harnesses `claude-session --harness` knows (mcp-client/claude/install-command.ts HARNESS_NAMES). */
const HARNESSES = ["claude", "codex", "gemini"];

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
			.option("harness", {
				type: "string",
				describe: "The agent CLI this terminal will run: claude (default), codex or gemini; a note says when its config has no relay server yet",
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
			if (argv.harness !== undefined && !HARNESSES.includes(argv.harness)) {
				process.stderr.write(`claude-relay register: --harness must be one of ${HARNESSES.join(", ")} (got ${JSON.stringify(argv.harness)})\n`);
				process.exitCode = 2;
				return;
			}
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
				harness: argv.harness as "claude" | "codex" | "gemini" | undefined,
			});
		} catch (err) {
			reportFailure("register", err);
		}
	},
};
