/**
 * The flags every person-facing client command uses to reach the hub (`client`, `send`), declared once so
 * their names, environment twins and help stay the same everywhere. Light on purpose: command modules
 * import it while building `--help`, before any implementation is loaded.
 */
import { withEnv } from "../server/hub-command.js";

export const hubConnectionOptions = {
	url: withEnv("RELAY_URL", { type: "string", describe: "WebSocket URL of the hub; several hubs sharing one Redis: comma-separated, tried in turn [default: ws://localhost:9999]" }),
	room: withEnv("RELAY_ROOM", { type: "string", describe: "Room to join [default: default]" }),
	"token-file": withEnv("RELAY_TOKEN_FILE", { type: "string", describe: "File holding the hub token (RELAY_TOKEN may hold the token itself)" }),
} as const;
