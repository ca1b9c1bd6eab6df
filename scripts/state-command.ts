/**
 * `claude-relay state get|set|append|list|delete` and `claude-relay claims`, for scripts.
 * Implementation: scripts/state.ts and scripts/claims.ts.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { reportFailure } from "../sessions/cli-errors.js";
import { hubConnectionOptions } from "./hub-options.js";

interface StateCommandArgs {
	action: "get" | "set" | "append" | "list" | "delete";
	key?: string;
	value?: string;
	from?: string;
	url?: string;
	room?: string;
	tokenFile?: string;
	string: boolean;
	expect?: number;
	maxItems?: number;
	limit?: number;
	after?: string;
	timeout: number;
}

export const stateCommand: CommandModule<object, StateCommandArgs> = {
	command: "state <action> [key] [value]",
	describe: "Read and write the room's shared state (JSON out; compare-and-set with --expect)",
	builder: (y: Argv) =>
		y
			.positional("action", { choices: ["get", "set", "append", "list", "delete"] as const, demandOption: true })
			.positional("key", { type: "string", describe: "The key (list: a prefix)" })
			.positional("value", { type: "string", describe: "set/append: the value as JSON, or - to read it from stdin" })
			.options({
				from: { type: "string", describe: "Session ID to write as [default: CLAUDE_RELAY_SESSION_ID, else RELAY_CLIENT_ID, else <host>-cli]" },
				...hubConnectionOptions,
				string: { type: "boolean", default: false, describe: "set/append: the value is a plain string, not JSON" },
				expect: { type: "number", describe: "set/delete: compare-and-set, only if the key is at this version (set: 0 = must not exist)" },
				"max-items": { type: "number", describe: "append: keep only the newest N items" },
				limit: { type: "number", describe: "list: most keys (default 100)" },
				after: { type: "string", describe: "list: continue after this key" },
				timeout: { type: "number", default: 10, describe: "Seconds to wait for the hub" },
			})
			.example(`$0 state set build/status '{"ok":true}'`, "Write a key")
			.example("$0 state get build/status | jq .entry.value", "Read it")
			.example(`$0 state set counter 5 --expect 4`, "Only if it is still at version 4 (else exit 1, E_CONFLICT with the current value)")
			.example(`git log -1 --format=%s | $0 state append deploys - --string --max-items 50`, "Append a line to a list")
			.example("$0 state list tasks/", "Keys under tasks/, no values")
			.epilogue(
				"Prints the hub's result as one JSON line, or {\"error\":{code,message,details}} on failure. Exit codes: 0 done, 1 failed (hub unreachable, E_CONFLICT, a bound), 2 invalid arguments (value not JSON, malformed key).",
			) as unknown as Argv<StateCommandArgs>,
	handler: async (argv: ArgumentsCamelCase<StateCommandArgs>) => {
		try {
			const { runState } = await import("./state.js");
			await runState({
				action: argv.action,
				key: argv.key,
				value: argv.value,
				id: argv.from,
				url: argv.url,
				room: argv.room,
				tokenFile: argv.tokenFile,
				string: argv.string,
				expect: argv.expect,
				maxItems: argv.maxItems,
				limit: argv.limit,
				after: argv.after,
				timeout: argv.timeout,
			});
		} catch (err) {
			reportFailure("state", err);
		}
	},
};

interface ClaimsCommandArgs {
	repo?: string;
	all: boolean;
	session?: string;
	url?: string;
	room?: string;
	tokenFile?: string;
	json: boolean;
	timeout: number;
}

export const claimsCommand: CommandModule<object, ClaimsCommandArgs> = {
	command: "claims",
	describe: "List the live file claims (of this repository, --repo, or --all)",
	builder: (y: Argv) =>
		y
			.options({
				repo: { type: "string", describe: "Repository identity (default: this directory's, from its origin URL)" },
				all: { type: "boolean", default: false, describe: "Every repository in the room" },
				session: { type: "string", describe: "Only this session's claims" },
				...hubConnectionOptions,
				json: { type: "boolean", default: false, describe: "Print the hub's answer as JSON" },
				timeout: { type: "number", default: 10, describe: "Seconds to wait for the hub" },
			})
			.example("$0 claims", "Who holds what in this repository")
			.example("$0 claims --all --json", "Every claim in the room, as JSON")
			.epilogue("Exit codes: 0 listed, 1 hub unreachable, 2 invalid arguments.") as unknown as Argv<ClaimsCommandArgs>,
	handler: async (argv: ArgumentsCamelCase<ClaimsCommandArgs>) => {
		try {
			const { runClaims } = await import("./claims.js");
			await runClaims({ repo: argv.repo, all: argv.all, session: argv.session, url: argv.url, room: argv.room, tokenFile: argv.tokenFile, json: argv.json, timeout: argv.timeout });
		} catch (err) {
			reportFailure("claims", err);
		}
	},
};
