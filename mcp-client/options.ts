/**
 * The flags of `claude-relay mcp`, defined once: the bridge parses them with node:util `parseArgs` (no yargs
 * on the cold-start path), and mcp-command.ts turns the same definitions into yargs options for `--help`.
 *
 * Every setting also has an environment variable, because `claude mcp add -e KEY=VAL` and the terminal's
 * environment are how a Claude session passes settings to the server it spawns. A flag beats its variable,
 * except for the session ID (see identity.ts for that order and why).
 */
import { readFileSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { ErrorCode, RelayError } from "../server/errors.js";
import { paths, relayHome } from "../server/paths.js";
import { checkName, checkTopic, TOPIC_PREFIX } from "../server/protocol.js";
import { parseHubUrls } from "./hub-urls.js";
import { type Identity, resolveIdentity } from "./identity.js";
import type { LogLevel } from "./log.js";

export const DEFAULT_RELAY_URL = "ws://localhost:9999";
export const DEFAULT_ROOM = "default";

export interface BridgeOption {
	describe: string;
	/** Environment variable that sets the same thing when the flag is absent. */
	env?: string;
	default?: string;
}

export const BRIDGE_OPTIONS = {
	"relay-url": {
		describe:
			"WebSocket URL of the hub (through an SSH tunnel: the local end, e.g. ws://localhost:9999); several hubs sharing one Redis: comma-separated, tried in turn",
		env: "RELAY_URL",
		default: DEFAULT_RELAY_URL,
	},
	"client-id": {
		describe:
			"Session ID to claim when CLAUDE_RELAY_SESSION_ID is not set. Order: CLAUDE_RELAY_SESSION_ID, --client-id, RELAY_CLIENT_ID, <hostname>-<pid>",
	},
	room: {
		describe: "Room to join: sessions only see others in the same room",
		env: "RELAY_ROOM",
		default: DEFAULT_ROOM,
	},
	"token-file": {
		describe:
			"File holding the hub token (RELAY_TOKEN may hold the token itself; default file: $RELAY_HOME/token if it exists)",
		env: "RELAY_TOKEN_FILE",
	},
	"log-level": {
		describe:
			"trace|debug|info|warn|error|silent (logs go to stderr and $RELAY_HOME/logs/bridge-<ID>.log, never stdout)",
		env: "RELAY_LOG_LEVEL",
		default: "info",
	},
	channels: {
		describe:
			"on|off|auto: push each message into the running session as a <channel> notification (Claude Code channels). auto: only with evidence the session listens (its claude was started with --dangerously-load-development-channels server:<server name>, or the client declares claude/channel). on: always (a session that does not listen drops them silently: messages lost). off: never (relay_receive and the hooks only)",
		env: "RELAY_CHANNELS",
		default: "auto",
	},
	owns: {
		describe:
			"Comma-separated repo-relative globs this session owns (e.g. src/auth/**,docs/auth.md); peers whose claims or owns overlap them are marked in relay_peers",
		env: "RELAY_OWNS",
	},
	autowake: {
		describe:
			"on|off: on opts this session in to the autowake daemon (`claude-relay autowake`), as `claude-relay autowake on <ID>` does, unless `autowake off <ID>` was said; sensitive IDs (infra*, prod*, deploy*, qa*) still need the command",
		env: "RELAY_AUTOWAKE",
		default: "off",
	},
	topics: {
		describe:
			"Topics to subscribe to at start, comma-separated (e.g. shop:api,build.ci); the hub keeps subscriptions, so this adds, never removes",
		env: "RELAY_TOPICS",
	},
	"server-name": {
		describe:
			"The name this server is registered under in Claude Code (`claude mcp add <name>`), as in server:<name>",
		env: "RELAY_SERVER_NAME",
		default: "relay",
	},
} as const satisfies Record<string, BridgeOption>;

export type BridgeFlag = keyof typeof BRIDGE_OPTIONS;

/**
 * Every environment variable the bridge reads: its options' twins, the session ID's sources, RELAY_HOME,
 * RELAY_TOKEN, and tmux's (the pane the autowake daemon types into). A harness that passes its MCP servers
 * only the variables it is told to (Codex: `env_vars`) gets this list.
 */
export function bridgeEnvNames(): string[] {
	const twins = Object.values(BRIDGE_OPTIONS as Record<string, BridgeOption>).flatMap((o) => (o.env ? [o.env] : []));
	return [...new Set(["CLAUDE_RELAY_SESSION_ID", "RELAY_CLIENT_ID", ...twins, "RELAY_HOME", "RELAY_TOKEN", "TMUX", "TMUX_PANE"])];
}

export type ChannelsMode = "on" | "off" | "auto";
const CHANNELS_MODES: readonly ChannelsMode[] = ["on", "off", "auto"];

const LOG_LEVELS: readonly LogLevel[] = [
	"trace",
	"debug",
	"info",
	"warn",
	"error",
	"fatal",
	"silent",
];

/** Everything the bridge needs to know before it starts; `problem` is set when it cannot work as configured. */
export interface BridgeConfig {
	/** The hub, or several (comma-separated): what the bridge was given, normalised. */
	url: string;
	/** The same as a list (one URL unless several hubs were given). */
	urls: string[];
	room: string;
	token: string | undefined;
	home: string;
	identity: Identity;
	logLevel: LogLevel;
	/** Whether to push messages into the session as channel notifications (see channel.ts). */
	channels: ChannelsMode;
	/** Set when --channels / RELAY_CHANNELS held something else than on|off|auto (auto is used). */
	channelsInvalid: string | undefined;
	/** The name Claude Code knows this server by (`claude mcp add <name>`): `server:<name>` in its channel list. */
	serverName: string;
	/** Claude Code's own session id, when Claude Code passed it (CLAUDE_CODE_SESSION_ID). */
	claudeSessionId: string | undefined;
	/** --owns / RELAY_OWNS as given (normalized, and bad ones dropped, when the hub link is made). */
	owns: string[];
	/** --client-id as given (a nested run claims it instead of `<ID>-bg<n>`; see nested.ts). */
	clientIdFlag: string | undefined;
	/** --autowake: opt this session in to the autowake daemon at start (unless `autowake off` said otherwise). */
	autowake: boolean;
	/** Topics to subscribe to once connected (--topics / RELAY_TOPICS), valid names only. */
	topics: string[];
	/** Names in --topics / RELAY_TOPICS that are not topic names: ignored (logged, and shown by relay_status). */
	topicsInvalid: string[];
	/**
	 * A configuration the bridge cannot connect with (invalid ID, unreadable token file, bad URL). The bridge
	 * still starts and answers MCP, so that every tool can tell the model (and the user) what to fix.
	 */
	problem: RelayError | undefined;
}

/** A command line the bridge cannot run with (unknown flag, missing value): print it and exit 2. */
export class UsageError extends Error {
	override name = "UsageError";
}

function nonEmpty(value: string | undefined): string | undefined {
	const v = value?.trim();
	return v ? v : undefined;
}

function autowakeFlag(flag: string | undefined, env: string | undefined): boolean {
	const v = (nonEmpty(flag) ?? nonEmpty(env) ?? "off").toLowerCase();
	return v === "on" || v === "1" || v === "true" || v === "yes";
}

/** Parses `claude-relay mcp` arguments and the environment into a config. Throws UsageError for a bad command line. */
export function resolveConfig(
	argv: string[],
	env: NodeJS.ProcessEnv = process.env,
): BridgeConfig {
	let values: Partial<Record<BridgeFlag, string>>;
	try {
		const parsed = parseArgs({
			args: argv,
			options: Object.fromEntries(
				Object.keys(BRIDGE_OPTIONS).map((k) => [
					k,
					{ type: "string" as const },
				]),
			),
			strict: true,
			allowPositionals: false,
		});
		values = parsed.values as Partial<Record<BridgeFlag, string>>;
	} catch (err) {
		throw new UsageError(
			`${(err as Error).message}. See \`claude-relay mcp --help\`.`,
		);
	}
	const pick = (flag: BridgeFlag): string | undefined => {
		const spec: BridgeOption = BRIDGE_OPTIONS[flag];
		return (
			nonEmpty(values[flag]) ??
			(spec.env ? nonEmpty(env[spec.env]) : undefined) ??
			spec.default
		);
	};

	const home = relayHome(env);
	const url = pick("relay-url") ?? DEFAULT_RELAY_URL;
	const room = pick("room") ?? DEFAULT_ROOM;
	const levelText = (pick("log-level") ?? "info").toLowerCase();
	const logLevel = (LOG_LEVELS as readonly string[]).includes(levelText)
		? (levelText as LogLevel)
		: "info";
	const identity = resolveIdentity({ clientIdFlag: values["client-id"], env });
	const channelsText = (pick("channels") ?? "auto").toLowerCase();
	const channelsValid = (CHANNELS_MODES as readonly string[]).includes(
		channelsText,
	);
	const channels = channelsValid ? (channelsText as ChannelsMode) : "auto";
	const serverName = pick("server-name") ?? "relay";
	const { topics, invalid: topicsInvalid } = parseTopicList(pick("topics"));

	let problem = identity.problem;
	const parsed = parseHubUrls(url, "--relay-url or RELAY_URL");
	const urls = parsed.ok ? parsed.urls : [url];
	if (!problem && !parsed.ok) problem = new RelayError(ErrorCode.UNREACHABLE, parsed.problem);
	if (!problem) {
		const roomCheck = checkName(room, "room name");
		if (!roomCheck.ok)
			problem = new RelayError(
				ErrorCode.BAD_ID,
				`${roomCheck.reason}; fix --room or RELAY_ROOM.`,
			);
	}
	let token: string | undefined;
	try {
		token = loadToken(pick("token-file"), env, home);
	} catch (err) {
		problem ??= new RelayError(ErrorCode.AUTH, (err as Error).message);
	}

	return {
		url: urls.join(","),
		urls,
		room,
		token,
		home,
		identity,
		logLevel,
		channels,
		channelsInvalid: channelsValid ? undefined : channelsText,
		serverName,
		claudeSessionId: nonEmpty(env.CLAUDE_CODE_SESSION_ID),
		owns: (pick("owns") ?? "")
			.split(",")
			.map((g) => g.trim())
			.filter(Boolean),
		clientIdFlag: nonEmpty(values["client-id"]),
		autowake: autowakeFlag(values.autowake, env.RELAY_AUTOWAKE),
		topics,
		topicsInvalid,
		problem,
	};
}

/** `a,b` (or `#a, #b`) as topic names: the valid ones, deduplicated, and the rest. */
export function parseTopicList(list: string | undefined): { topics: string[]; invalid: string[] } {
	const topics: string[] = [];
	const invalid: string[] = [];
	for (const raw of (list ?? "").split(",")) {
		const part = raw.trim();
		if (!part) continue;
		const name = part.startsWith(TOPIC_PREFIX) ? part.slice(TOPIC_PREFIX.length) : part;
		if (!checkTopic(name).ok) invalid.push(part);
		else if (!topics.includes(name)) topics.push(name);
	}
	return { topics, invalid };
}

/**
 * The hub token, in the hub's own order (server/hub-main.ts): a token file named by --token-file or
 * RELAY_TOKEN_FILE, else RELAY_TOKEN; then, for the bridge only, $RELAY_HOME/token when it exists.
 * Throws (with the fix) when a named file cannot be read or is empty.
 */
export function loadToken(
	tokenFile: string | undefined,
	env: NodeJS.ProcessEnv,
	home: string,
): string | undefined {
	if (tokenFile) return readTokenFile(tokenFile);
	const fromEnv = nonEmpty(env.RELAY_TOKEN);
	if (fromEnv) return fromEnv;
	const fallback = paths.tokenFile(home);
	try {
		statSync(fallback);
	} catch {
		return undefined;
	}
	return readTokenFile(fallback);
}

function readTokenFile(file: string): string {
	let text: string;
	try {
		text = readFileSync(file, "utf8");
	} catch (err) {
		throw new Error(
			`Cannot read the hub token file ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); fix --token-file or RELAY_TOKEN_FILE.`,
		);
	}
	const token = text.trim();
	if (!token) throw new Error(`The hub token file ${file} is empty.`);
	return token;
}
