/**
 * `claude-relay autowake [run|on|off|pause|resume|status] [ID]`: the autowake daemon (foreground; as a
 * service: `claude-relay launchd install --autowake`) and its switches. Implementation: daemon.ts and the
 * modules beside it; this file only declares the command and loads them in the handler.
 */
import type { CommandModule } from "yargs";
import { reportFailure } from "../../sessions/cli-errors.js";

const ACTIONS = ["run", "on", "off", "pause", "resume", "status"] as const;

interface AutowakeArgs {
	action: (typeof ACTIONS)[number];
	id?: string;
	url?: string;
	room?: string;
	"token-file"?: string;
	config?: string;
}

export const autowakeCommand: CommandModule<object, AutowakeArgs> = {
	command: "autowake [action] [id]",
	describe: "Wake idle opted-in sessions that have unread mail (tmux nudge or a headless run), with safety rails",
	builder: (y) =>
		y
			.positional("action", {
				choices: ACTIONS,
				default: "run" as const,
				describe: "run: the daemon (foreground); on/off ID: opt a session in or out; pause/resume: the global off switch; status",
			})
			.positional("id", { type: "string", describe: "The session ID (on, off)" })
			.option("url", { type: "string", describe: "Hub URL (default: $RELAY_URL or ws://localhost:9999)" })
			.option("room", { type: "string", describe: "Room (default: $RELAY_ROOM or default)" })
			.option("token-file", { type: "string", describe: "Hub token file (RELAY_TOKEN_FILE; RELAY_TOKEN: the token; default $RELAY_HOME/token)" })
			.option("config", { type: "string", describe: "TOML settings (default: $RELAY_HOME/autowake.toml when it exists)" })
			.example("$0 autowake on CC-2", "Let the daemon wake CC-2 (a sensitive ID such as prod-api must be named so)")
			.example("$0 autowake", "Run the daemon in the foreground; Ctrl-C stops it")
			.example("$0 autowake pause", "Stop every wake now, without restarting the daemon")
			.epilogue("Audit log: $RELAY_HOME/logs/autowake.jsonl (every wake and refusal, with why). See README: Auto-wake.") as never,
	handler: async (argv) => {
		try {
			const { runAutowake } = await import("./main.js");
			process.exitCode = await runAutowake(argv);
		} catch (err) {
			reportFailure("autowake", err);
		}
	},
};
