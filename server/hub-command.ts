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
	const value = option.type === "number" ? Number(raw) : option.type === "boolean" ? /^(1|true|yes|on)$/i.test(raw) : raw;
	return { ...option, describe, default: value };
}

function envNumber(name: string, fallback: number): number {
	const raw = process.env[name];
	return raw !== undefined && raw !== "" && Number.isFinite(Number(raw)) ? Number(raw) : fallback;
}

/**
 * A repeatable flag whose values may also be comma-separated (`--allow-origin a,b --allow-origin c`), with
 * an environment twin holding the comma-separated list.
 */
function listOption(name: string, describe: string): Options {
	const raw = process.env[name];
	return {
		type: "string",
		array: true,
		describe: `${describe} [env ${name}, comma-separated]`,
		...(raw !== undefined && raw !== "" ? { default: [raw] } : {}),
	};
}

/** Flattens a list flag's values: repeated, comma-separated, or both. */
export function splitList(values: string | readonly string[] | undefined): string[] {
	if (values === undefined) return [];
	const all = typeof values === "string" ? [values] : values;
	return all
		.flatMap((v) => String(v).split(","))
		.map((v) => v.trim())
		.filter(Boolean);
}

export interface HubArgs {
	port: number;
	host: string;
	db?: string;
	tokenFile?: string;
	allowOrigin?: string[];
	allowHost?: string[];
	maxBody: number;
	maxFrame: number;
	maxConnections: number;
	maxPreHello: number;
	maxPreHelloPerAddress: number;
	preHelloTimeout: number;
	rateLimit: number;
	rateBurst: number;
	heartbeat: number;
	turnBudget: number;
	acceptWindow: number;
	retentionDays: number;
	retentionMaxMessages: number;
	maxSessionsPerRoom: number;
	newSessionsPerMinute: number;
	broadcastDeliveriesPerSecond: number;
	forgetAfterDays: number;
	sync: "normal" | "full";
	walMaxBytes: number;
	maxSubscriptions: number;
	logLevel: string;
	stateMaxKeys: number;
	stateMaxRoomBytes: number;
	maxWatches: number;
	claimTtl: number;
	claimMaxTtl: number;
	claimMaxPerSession: number;
	claimMaxPerRepo: number;
	operatorName: string;
	metricsPublic: boolean;
	maxViewers: number;
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
				"allow-origin": listOption("RELAY_ALLOW_ORIGIN", "A web page origin allowed to connect besides the hub's own (exact scheme://host[:port]); repeatable"),
				"allow-host": listOption("RELAY_ALLOW_HOST", "A Host name accepted besides the addresses the hub listens on (names behind DNS or a load balancer); repeatable"),
				"max-body": withEnv("RELAY_MAX_BODY", { type: "number", default: DEFAULTS.maxBodyBytes, describe: "Largest message body, bytes" }),
				"max-frame": withEnv("RELAY_MAX_FRAME", { type: "number", default: DEFAULTS.maxFrameBytes, describe: "Largest frame, bytes" }),
				"max-connections": withEnv("RELAY_MAX_CONNECTIONS", { type: "number", default: DEFAULTS.maxConnections, describe: "Most open connections" }),
				"max-pre-hello": withEnv("RELAY_MAX_PRE_HELLO", {
					type: "number",
					default: DEFAULTS.maxPreHello,
					describe: "Most connections that neither brought the token at the upgrade nor said hello yet (the oldest is evicted past it)",
				}),
				"max-pre-hello-per-address": withEnv("RELAY_MAX_PRE_HELLO_PER_ADDRESS", {
					type: "number",
					default: DEFAULTS.maxPreHelloPerAddress,
					describe: "The same, per peer address (IPv6: per /64)",
				}),
				"pre-hello-timeout": withEnv("RELAY_PRE_HELLO_TIMEOUT", {
					type: "number",
					default: DEFAULTS.preHelloTimeoutMs,
					describe: "Ms such a connection has to complete hello (and any peer to send its HTTP request)",
				}),
				"rate-limit": withEnv("RELAY_RATE_LIMIT", { type: "number", default: DEFAULTS.rateLimitPerSecond, describe: "Frames per second per connection (sustained); past it the connection is slowed down, never refused" }),
				"rate-burst": withEnv("RELAY_RATE_BURST", { type: "number", default: DEFAULTS.rateLimitBurst, describe: "Frames per connection allowed in a burst" }),
				"turn-budget": withEnv("RELAY_TURN_BUDGET", { type: "number", default: DEFAULTS.turnBudgetMs, describe: "Ms of inbound work per event-loop turn before later frames wait for the next turn, in order (bounds how long a reconnect storm blocks timers; 0: no budget)" }),
				"accept-window": withEnv("RELAY_ACCEPT_WINDOW", { type: "number", default: DEFAULTS.acceptWindow, describe: "Accepted sockets read at once before their HTTP request arrives; the rest wait in order (bounds what one poll parses in a reconnect storm; 0: no window)" }),
				heartbeat: withEnv("RELAY_HEARTBEAT", { type: "number", default: DEFAULTS.heartbeatMs, describe: "Heartbeat interval, ms (dead sockets are cut after one missed pong; on Redis, a dead hub's sessions go offline on the others within one)" }),
				"retention-days": withEnv("RELAY_RETENTION_DAYS", { type: "number", default: DEFAULTS.retentionDays, describe: "Delete messages older than this (0: never)" }),
				"retention-max-messages": withEnv("RELAY_RETENTION_MAX_MESSAGES", { type: "number", default: DEFAULTS.retentionMaxMessages, describe: "Keep at most this many messages per room (0: no limit)" }),
				"max-sessions-per-room": withEnv("RELAY_MAX_SESSIONS_PER_ROOM", { type: "number", default: DEFAULTS.maxSessionsPerRoom, describe: "Most sessions a room may have; a new ID past it gets E_ROOM_FULL (0: no limit)" }),
				"new-sessions-per-minute": withEnv("RELAY_NEW_SESSIONS_PER_MINUTE", { type: "number", default: DEFAULTS.newSessionsPerMinute, describe: "New session IDs per minute per peer address (loopback: per hub); past it E_CLAIM_RATE (0: no limit)" }),
				"broadcast-deliveries-per-second": withEnv("RELAY_BROADCAST_DELIVERIES_PER_SECOND", { type: "number", default: DEFAULTS.broadcastDeliveriesPerSecond, describe: "Broadcast deliveries (one per recipient) per second per peer address; past it the connection's broadcasts wait (0: no limit)" }),
				"forget-after-days": withEnv("RELAY_FORGET_AFTER_DAYS", { type: "number", default: DEFAULTS.forgetAfterDays, describe: "Forget named sessions not seen for this long, unread mail and all (0: never)" }),
				sync: withEnv("RELAY_SYNC", { choices: ["normal", "full"] as const, default: "normal" as const, describe: "SQLite durability: normal survives a crash of the hub, full also a power loss" }),
				"wal-max-bytes": withEnv("RELAY_WAL_MAX_BYTES", { type: "number", default: DEFAULTS.walMaxBytes, describe: "SQLite: rewind the WAL file past this size; writes wait at twice it" }),
				"max-subscriptions": withEnv("RELAY_MAX_SUBSCRIPTIONS", { type: "number", default: DEFAULTS.maxSubscriptionsPerSession, describe: "Most topics one session may subscribe to" }),
				"log-level": withEnv("RELAY_LOG_LEVEL", { type: "string", default: "info", describe: "trace|debug|info|warn|error|silent" }),
				"state-max-keys": withEnv("RELAY_STATE_MAX_KEYS", { type: "number", default: DEFAULTS.stateMaxKeys, describe: "Shared state: most keys per room (values: at most --max-body each)" }),
				"state-max-room-bytes": withEnv("RELAY_STATE_MAX_ROOM_BYTES", { type: "number", default: DEFAULTS.stateMaxRoomBytes, describe: "Shared state: most bytes of values per room" }),
				"max-watches": withEnv("RELAY_MAX_WATCHES", { type: "number", default: DEFAULTS.maxWatches, describe: "Most state prefixes one connection may watch" }),
				"claim-ttl": withEnv("RELAY_CLAIM_TTL", { type: "number", default: DEFAULTS.claimDefaultTtlSeconds, describe: "File claims: TTL of a claim that names none, seconds" }),
				"claim-max-ttl": withEnv("RELAY_CLAIM_MAX_TTL", { type: "number", default: DEFAULTS.claimMaxTtlSeconds, describe: "File claims: longest TTL a claim may ask for, seconds" }),
				"claim-max-per-session": withEnv("RELAY_CLAIM_MAX_PER_SESSION", { type: "number", default: DEFAULTS.claimMaxPerSession, describe: "File claims: most live claimed patterns per session" }),
				"claim-max-per-repo": withEnv("RELAY_CLAIM_MAX_PER_REPO", { type: "number", default: DEFAULTS.claimMaxPerRepo, describe: "File claims: most live claimed patterns per repository" }),
				"operator-name": withEnv("RELAY_OPERATOR_NAME", { type: "string", default: DEFAULTS.operatorName, describe: "The name a person writes as in the dashboard (its messages are marked human); reserved: no session may claim it" }),
				"metrics-public": withEnv("RELAY_METRICS_PUBLIC", { type: "boolean", default: DEFAULTS.metricsPublic, describe: "Serve GET /metrics without the hub token (the dashboard and /api still need it)" }),
				"max-viewers": withEnv("RELAY_MAX_VIEWERS", { type: "number", default: DEFAULTS.maxViewers, describe: "Most dashboard live streams open at once" }),
			})
			.example("$0 hub", "Loopback, port 9999, database in ~/.claude-relay/relay.db")
			.example("$0 hub 8888", "Another port (like `node server.js 8888` of the original)")
			.example("RELAY_TOKEN=$(cat ~/.relay-token) $0 hub --host 0.0.0.0", "Reachable from the LAN: a token is then required")
			.example("$0 hub --allow-origin http://localhost:5173", "Also accept a web page served from that origin (a dev server)")
			.example("$0 hub --db :memory:", "Nothing kept on disk (demos, tests)")
			.example("$0 hub --operator-name Dana", "Messages from the dashboard come from Dana (marked as a person's)")
			.example("$0 hub --db redis://127.0.0.1:6379/1", "Store in Redis; several hubs can share it") as unknown as Argv<HubArgs>,
	handler: async (argv: ArgumentsCamelCase<HubArgs>) => {
		const { runHub } = await import("./hub-main.js");
		await runHub(argv);
	},
};
