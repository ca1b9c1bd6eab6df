/**
 * `claude-relay hub [port]`: the hub in the foreground (what `npm start` runs). Every flag has an
 * environment twin named in its help (e.g. --port/RELAY_PORT, --retention-days/RELAY_RETENTION_DAYS);
 * the token itself is read from RELAY_TOKEN or --token-file, never from a flag (flags show up in `ps`).
 */
import type { ArgumentsCamelCase, Argv, CommandModule, Options } from "yargs";
import { DEFAULTS } from "./defaults.js";

/**
 * Gives an option its environment twin: the variable, when set, becomes the default (a flag still wins),
 * and the help text names it. Done per option rather than with yargs' `.env(prefix)`, which would also
 * swallow unrelated RELAY_* variables (RELAY_HOME, RELAY_URL) as unknown arguments.
 */
export function withEnv<T extends Options>(name: string, option: T): T {
	const raw = process.env[name];
	const describe = `${option.describe ?? ""} [env ${name}]`;
	if (raw === undefined || raw === "") return { ...option, describe };
	const value = option.type === "number" ? Number(raw) : raw;
	return { ...option, describe, default: value };
}

function envNumber(name: string, fallback: number): number {
	const raw = process.env[name];
	return raw !== undefined && raw !== "" && Number.isFinite(Number(raw)) ? Number(raw) : fallback;
}

export interface HubArgs {
	port: number;
	host: string;
	db?: string;
	tokenFile?: string;
	maxBody: number;
	maxFrame: number;
	maxConnections: number;
	rateLimit: number;
	rateBurst: number;
	heartbeat: number;
	retentionDays: number;
	retentionMaxMessages: number;
	sync: "normal" | "full";
	walMaxBytes: number;
	maxSubscriptions: number;
	logLevel: string;
}

export const hubCommand: CommandModule<object, HubArgs> = {
	command: "hub [port]",
	describe: "Run the hub in the foreground (default 127.0.0.1:9999, SQLite under RELAY_HOME)",
	builder: (y: Argv) =>
		y
			.positional("port", { type: "number", describe: "Port to listen on (same as --port)", default: envNumber("RELAY_PORT", DEFAULTS.port) })
			.options({
				host: withEnv("RELAY_HOST", { type: "string", default: DEFAULTS.host, describe: "Interface to bind; anything but loopback requires a token" }),
				db: withEnv("RELAY_DB", { type: "string", describe: "SQLite file, :memory:, or redis://[user:pass@]host:6379[/db] (default: $RELAY_HOME/relay.db)" }),
				"token-file": withEnv("RELAY_TOKEN_FILE", { type: "string", describe: "File holding the hub token (RELAY_TOKEN may hold the token itself)" }),
				"max-body": withEnv("RELAY_MAX_BODY", { type: "number", default: DEFAULTS.maxBodyBytes, describe: "Largest message body, bytes" }),
				"max-frame": withEnv("RELAY_MAX_FRAME", { type: "number", default: DEFAULTS.maxFrameBytes, describe: "Largest frame, bytes" }),
				"max-connections": withEnv("RELAY_MAX_CONNECTIONS", { type: "number", default: DEFAULTS.maxConnections, describe: "Most open connections" }),
				"rate-limit": withEnv("RELAY_RATE_LIMIT", { type: "number", default: DEFAULTS.rateLimitPerSecond, describe: "Frames per second per connection (sustained)" }),
				"rate-burst": withEnv("RELAY_RATE_BURST", { type: "number", default: DEFAULTS.rateLimitBurst, describe: "Frames per connection allowed in a burst" }),
				heartbeat: withEnv("RELAY_HEARTBEAT", { type: "number", default: DEFAULTS.heartbeatMs, describe: "Heartbeat interval, ms (dead sockets are cut after one missed pong)" }),
				"retention-days": withEnv("RELAY_RETENTION_DAYS", { type: "number", default: DEFAULTS.retentionDays, describe: "Delete messages older than this (0: never)" }),
				"retention-max-messages": withEnv("RELAY_RETENTION_MAX_MESSAGES", { type: "number", default: DEFAULTS.retentionMaxMessages, describe: "Keep at most this many messages per room (0: no limit)" }),
				sync: withEnv("RELAY_SYNC", { choices: ["normal", "full"] as const, default: "normal" as const, describe: "SQLite durability: normal survives a crash of the hub, full also a power loss" }),
				"wal-max-bytes": withEnv("RELAY_WAL_MAX_BYTES", { type: "number", default: DEFAULTS.walMaxBytes, describe: "SQLite: rewind the WAL file past this size; writes wait at twice it" }),
				"max-subscriptions": withEnv("RELAY_MAX_SUBSCRIPTIONS", { type: "number", default: DEFAULTS.maxSubscriptionsPerSession, describe: "Most topics one session may subscribe to" }),
				"log-level": withEnv("RELAY_LOG_LEVEL", { type: "string", default: "info", describe: "trace|debug|info|warn|error|silent" }),
			})
			.example("$0 hub", "Loopback, port 9999, database in ~/.claude-relay/relay.db")
			.example("$0 hub 8888", "Another port (like `node server.js 8888` of the original)")
			.example("RELAY_TOKEN=$(cat ~/.relay-token) $0 hub --host 0.0.0.0", "Reachable from the LAN: a token is then required")
			.example("$0 hub --db :memory:", "Nothing kept on disk (demos, tests)")
			.example("$0 hub --db redis://127.0.0.1:6379/1", "Store in Redis; several hubs can share it") as unknown as Argv<HubArgs>,
	handler: async (argv: ArgumentsCamelCase<HubArgs>) => {
		const { runHub } = await import("./hub-main.js");
		await runHub(argv);
	},
};
