/**
 * `claude-relay client [ID]`: an interactive session for a person (the original's `node test-client.js
 * MACHINE_A`, with more commands). Implementation: scripts/client.ts.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { withEnv } from "../server/hub-command.js";
import { failWithUsage, reportFailure, UserError } from "../sessions/cli-errors.js";
import { hubConnectionOptions } from "./hub-options.js";

export interface ClientCommandArgs {
	id?: string;
	url?: string;
	room?: string;
	tokenFile?: string;
	ack: boolean;
	timeout: number;
	topics?: string;
}

export const clientCommand: CommandModule<object, ClientCommandArgs> = {
	command: "client [id]",
	describe: "Interactive session for a person: send, send:<ID>, peers, history, ... (messages print as they arrive)",
	builder: (y: Argv) =>
		y
			.positional("id", {
				type: "string",
				describe: "Session ID to claim [default: CLAUDE_RELAY_SESSION_ID, else RELAY_CLIENT_ID, else <host>-<pid>]",
			})
			.options({
				...hubConnectionOptions,
				ack: { type: "boolean", default: true, describe: "Ack messages as they are printed (--no-ack: leave them for inbox/peek, ack with `ack`)" },
				timeout: { type: "number", default: 10, describe: "Seconds to wait for the hub (connecting, and each answer)" },
				topics: withEnv("RELAY_TOPICS", { type: "string", describe: "Topics to subscribe to once connected, comma-separated (e.g. shop:api,build.ci)" }),
			})
			.example("$0 client Dana --topics shop:api", "Join and subscribe to #shop:api (the hub keeps the subscription)")
			.example("$0 client Dana", "Join as Dana; type `help` at the prompt")
			.example("printf 'peers\\nsend:CC-1 hi\\nhistory 5\\n' | $0 client Dana", "Scripted: one line per command, exits at the end of input")
			.epilogue(
				"Commands at the prompt: send <msg> (everyone), send:<ID> <msg>, send:#topic <msg>, send:A,B <msg>, reply <msg>, reply-all <msg>, subscribe <topic>, unsubscribe <topic>, topics, thread <id>, receipts <id>, peers, sessions [more], history [n], history:<ID|#topic> [n], inbox [n], peek [n], ack, wait [s], status, help, quit.\nExit codes: 0 on quit or end of input, 1 when the hub cannot be reached or refuses the ID, 2 for an invalid ID, room or URL.",
			)
			.fail(failWithUsage) as unknown as Argv<ClientCommandArgs>,
	handler: async (argv: ArgumentsCamelCase<ClientCommandArgs>) => {
		try {
			const { runClient } = await import("./client.js");
			const { parseTopicList } = await import("../mcp-client/options.js");
			const { topics, invalid } = parseTopicList(argv.topics);
			if (invalid.length > 0) throw new UserError(`--topics: not topic names (letters, digits, _ - . :, 1-64): ${invalid.map((t) => JSON.stringify(t)).join(", ")}`, 2);
			await runClient({ id: argv.id, url: argv.url, room: argv.room, tokenFile: argv.tokenFile, ack: argv.ack, timeout: argv.timeout, topics });
		} catch (err) {
			reportFailure("client", err);
		}
	},
};
