/** What `claude-relay autowake …` does for each action (autowake-command.ts declares the command). */
import { relayHome } from "../../server/paths.js";
import { checkName } from "../../server/protocol.js";
import { sanitizeLine } from "../../server/sanitize.js";
import { UserError } from "../../sessions/cli-errors.js";
import { DEFAULT_RELAY_URL, DEFAULT_ROOM, loadToken } from "../options.js";
import { auditFile } from "./audit.js";
import { ConfigError, loadConfig } from "./config.js";
import { AutowakeDaemon } from "./daemon.js";
import { Rails } from "./policy.js";
import { isPaused, optedIn, pausedFile, readOptIns, setOptIn, setPaused } from "./state.js";

export interface AutowakeCli {
	action: "run" | "on" | "off" | "pause" | "resume" | "status";
	id?: string | undefined;
	url?: string | undefined;
	room?: string | undefined;
	"token-file"?: string | undefined;
	config?: string | undefined;
}

const out = (line: string) => process.stdout.write(`${sanitizeLine(line)}\n`);

export async function runAutowake(args: AutowakeCli, env: NodeJS.ProcessEnv = process.env): Promise<number> {
	const home = relayHome(env);
	const room = args.room ?? env.RELAY_ROOM?.trim() ?? DEFAULT_ROOM;
	const roomCheck = checkName(room || DEFAULT_ROOM, "room name");
	if (!roomCheck.ok) throw new UserError(`--room: ${roomCheck.reason}`, 2);
	let config: ReturnType<typeof loadConfig>;
	try {
		config = loadConfig(home, args.config);
	} catch (err) {
		if (err instanceof ConfigError) throw new UserError(err.message, 2);
		throw err;
	}
	const rails = new Rails(config.config);
	switch (args.action) {
		case "on":
		case "off": {
			const id = args.id?.trim() ?? "";
			const check = checkName(id);
			if (!check.ok) throw new UserError(`autowake ${args.action}: ${check.reason}`, 2);
			await setOptIn(home, room || DEFAULT_ROOM, id, args.action === "on", "command");
			const sensitive = rails.isSensitive(id);
			out(
				args.action === "on"
					? `${id} is opted in to autowake (room ${room || DEFAULT_ROOM})${sensitive ? "; it matches a sensitive pattern, and is woken because you named it here" : ""}.`
					: `${id} is opted out of autowake (room ${room || DEFAULT_ROOM}); its bridge's --autowake flag no longer opts it in.`,
			);
			return 0;
		}
		case "pause":
			setPaused(home, true);
			out(`Autowake paused (${pausedFile(home)}): no session is woken until \`claude-relay autowake resume\`.`);
			return 0;
		case "resume":
			setPaused(home, false);
			out("Autowake resumed.");
			return 0;
		case "status": {
			out(`paused: ${isPaused(home) ? "yes" : "no"}`);
			out(`config: ${config.file ?? "(defaults)"}`);
			const rooms = readOptIns(home).rooms;
			for (const [r, sessions] of Object.entries(rooms))
				for (const [id, e] of Object.entries(sessions))
					out(`${r}/${id}: ${e.on ? "on" : "off"} (by ${e.by}, ${e.at})${rails.isSensitive(id) ? " sensitive" : ""}`);
			out(`audit log: ${auditFile(home)}`);
			return 0;
		}
		case "run": {
			const url = args.url ?? (env.RELAY_URL?.trim() || DEFAULT_RELAY_URL);
			if (!/^wss?:\/\/[^/\s]+/i.test(url)) throw new UserError(`--url: ${JSON.stringify(url)} is not a ws:// or wss:// URL`, 2);
			let token: string | undefined;
			try {
				token = loadToken(args["token-file"]?.trim() || env.RELAY_TOKEN_FILE?.trim() || undefined, env, home);
			} catch (err) {
				throw new UserError((err as Error).message);
			}
			const daemon = new AutowakeDaemon({ url, room: room || DEFAULT_ROOM, token, home, config: config.config });
			process.stderr.write(
				`claude-relay autowake: watching room ${room || DEFAULT_ROOM} on ${url} for ${optedIn(home, room || DEFAULT_ROOM).size} opted-in session(s); audit log ${auditFile(home)}\n`,
			);
			daemon.start();
			await new Promise<void>((resolve) => {
				const stop = () => void daemon.stop().then(resolve, resolve);
				process.once("SIGINT", stop);
				process.once("SIGTERM", stop);
			});
			return 0;
		}
	}
}
