/**
 * `claude-relay send <to> <message...>`: one message from a script or a shell, then exit.
 * Implementation: scripts/send.ts.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { failWithUsage, reportFailure } from "../sessions/cli-errors.js";
import { hubConnectionOptions } from "./hub-options.js";

export interface SendCommandArgs {
	to: string;
	message: string[];
	from?: string;
	url?: string;
	room?: string;
	tokenFile?: string;
	replyTo?: string;
	json: boolean;
	timeout: number;
}

export const sendCommand: CommandModule<object, SendCommandArgs> = {
	command: "send <to> [message..]",
	describe: "Send one message and exit: prints whether it was delivered live or queued",
	builder: (y: Argv) =>
		y
			.positional("to", { type: "string", demandOption: true, describe: "A session ID, '*' for every other session in the room, '#topic' for its subscribers, or several IDs: 'CC-1,CC-2'" })
			.positional("message", { type: "string", array: true, default: [], describe: "The message (words are joined by spaces); - reads it from stdin" })
			.options({
				from: { type: "string", describe: "Session ID to send as [default: CLAUDE_RELAY_SESSION_ID, else RELAY_CLIENT_ID, else <host>-cli]" },
				...hubConnectionOptions,
				"reply-to": { type: "string", describe: "Id of the message this one answers (m-…)" },
				json: { type: "boolean", default: false, describe: "Print the hub's result (or the error) as JSON" },
				timeout: { type: "number", default: 10, describe: "Seconds to wait for the hub" },
			})
			.example('RELAY_CLIENT_ID=ci $0 send CC-1 "build done"', "Tell CC-1, as 'ci'")
			.example("git log -1 | $0 send CC-2 -", "The message from stdin")
			.example("$0 send '*' deploying now --from OPS", "Everyone in the room")
			.example("$0 send '#shop:api' 'the /users response has a cursor now'", "Every subscriber of the topic shop:api")
			.example("$0 send CC-1,CC-2 'standup in 5'", "Two sessions: one message, a delivery each")
			.epilogue(
				"Exit codes: 0 sent (delivered live or queued), 1 failed (hub unreachable, ID taken, too large, ...), 2 invalid arguments. A message starting with '-' goes after --: send CC-1 -- -x is set.",
			)
			.fail(failWithUsage) as unknown as Argv<SendCommandArgs>,
	handler: async (argv: ArgumentsCamelCase<SendCommandArgs>) => {
		try {
			const { runSend } = await import("./send.js");
			// Words after `--` land in argv._ (after "send"); yargs drops a lone "-" altogether, so look for it
			// on the raw command line.
			let message = [...(argv.message ?? []), ...argv._.slice(1)].map(String);
			if (message.length === 0 && process.argv.slice(2).includes("-")) message = ["-"];
			await runSend({
				to: String(argv.to),
				message,
				from: argv.from,
				url: argv.url,
				room: argv.room,
				tokenFile: argv.tokenFile,
				replyTo: argv.replyTo,
				json: argv.json,
				timeout: argv.timeout,
			});
		} catch (err) {
			reportFailure("send", err);
		}
	},
};
