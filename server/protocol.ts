/**
 * The wire protocol between the hub and its clients (the bridge, the test client, hooks, the bench).
 *
 * This module is the single source of truth: docs/PROTOCOL.md describes these schemas, the hub validates
 * every inbound frame with `ClientFrame`, and every client imports its types and helpers from here.
 * It must stay cheap to import (the bridge pays for it at every cold start): zod and nothing else.
 *
 * Frames are JSON text, one per WebSocket message. Requests carry an `id` that the hub echoes on its
 * `result` or `error` reply; pushes (`message`, `receipt`, `peer_joined`, `peer_left`, `shutdown`,
 * `state_changed`) carry none.
 */
import { v7 as uuidv7 } from "uuid";
import { z } from "zod";

export const PROTOCOL_VERSION = 1;

/** Session IDs and room names: a letter, then letters, digits, `_` or `-`; 64 characters at most. */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * Message ids, as the hub mints them (server/store/ids.ts): `m-<seq>-<6 of [a-z0-9]>`. Every id a client
 * sends (`send.replyTo`, `ack.ids`, `get.message`) must have this shape, so that an id can never carry
 * text (a tag, a newline, a fake header) into what a model or a terminal is shown.
 */
export const MESSAGE_ID_PATTERN = /^m-\d{1,15}-[a-z0-9]{6}$/;
export const MESSAGE_ID_HINT = "must be a message id like m-18-a8k2p0 (m-<seq>-<6 lowercase letters or digits>)";
export const MessageId = z.string().regex(MESSAGE_ID_PATTERN, MESSAGE_ID_HINT);

/** Broadcast target: every other session in the sender's room. */
export const BROADCAST = "*";

/** Prefix of a topic in `send.to` (`#shop:api`): every subscriber of that topic in the sender's room. */
export const TOPIC_PREFIX = "#";
/** @deprecated The prefix was reserved as "channels" before topics existed; it is TOPIC_PREFIX. */
export const CHANNEL_PREFIX = TOPIC_PREFIX;

/**
 * Topic names: letters, digits, `_`, `-`, `.` and `:` (so `shop:backend` and `build.ci` work), 1-64
 * characters, never `..`. A topic is never used as a file path; the pattern keeps it safe in a model's
 * framing header and a terminal line.
 */
export const TOPIC_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Most sessions one `send.to` list may name (`"CC-1,CC-2"` or an array): one message, a delivery each. */
export const MAX_RECIPIENTS = 32;

/**
 * Names no session may claim, compared case-insensitively. Some are addressing words (`all`, `everyone`),
 * some are words a later feature or the tools need (`hub`, `system`, `me`), so that a message that says
 * "from: system" can never come from a session.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
	"all",
	"everyone",
	"here",
	"broadcast",
	"channel",
	"channels",
	"room",
	"hub",
	"relay",
	"server",
	"system",
	"admin",
	"root",
	"me",
	"self",
	"you",
	"nobody",
	"anonymous",
	"unknown",
	"null",
	"undefined",
]);

export type NameCheck = { ok: true } | { ok: false; reason: string };

/** Why a session ID or room name is refused, in words a person can act on; `{ok: true}` when it is fine. */
export function checkName(name: string, what = "session ID"): NameCheck {
	if (typeof name !== "string" || name.length === 0) return { ok: false, reason: `${what} is empty` };
	if (name.length > 64) return { ok: false, reason: `${what} is longer than 64 characters` };
	// biome-ignore lint/suspicious/noControlCharactersInRegex: we are looking for control characters on purpose
	if (/[\u0000-\u001f\u007f]/.test(name)) return { ok: false, reason: `${what} contains control characters` };
	if (name.includes("/") || name.includes("\\") || name.includes(".."))
		return { ok: false, reason: `${what} contains a path separator or '..'` };
	if (!NAME_PATTERN.test(name))
		return {
			ok: false,
			reason: `${what} must start with a letter and contain only letters, digits, '_' or '-' (got ${JSON.stringify(name)})`,
		};
	if (RESERVED_NAMES.has(name.toLowerCase())) return { ok: false, reason: `${what} '${name}' is a reserved word` };
	return { ok: true };
}

/** Why a topic name is refused, in words a person can act on; `{ok: true}` when it is fine. */
export function checkTopic(name: string): NameCheck {
	if (typeof name !== "string" || name.length === 0) return { ok: false, reason: "topic name is empty" };
	if (name.length > 64) return { ok: false, reason: "topic name is longer than 64 characters" };
	// biome-ignore lint/suspicious/noControlCharactersInRegex: we are looking for control characters on purpose
	if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return { ok: false, reason: "topic name contains control characters" };
	if (name.includes("/") || name.includes("\\") || name.includes(".."))
		return { ok: false, reason: "topic name contains a path separator or '..'" };
	if (!TOPIC_PATTERN.test(name))
		return {
			ok: false,
			reason: `topic name must contain only letters, digits, '_', '-', '.' or ':' (got ${JSON.stringify(name)})`,
		};
	return { ok: true };
}

export type Target =
	| { kind: "session"; session: string }
	| { kind: "broadcast" }
	| { kind: "topic"; topic: string }
	/** Several sessions (two or more after dedupe): one message, a delivery each. */
	| { kind: "list"; sessions: string[] };

export type ParsedTarget = {
	ok: true;
	target: Target;
	/** `to` as the hub stores it: the ID, `*`, `#topic`, or the list joined by commas without repeats. */
	normalized: string;
};

/**
 * Parses a `send.to` value: a session ID, `*`, `#topic`, or several session IDs (an array, or one string
 * joined by commas: `"CC-1,CC-2"`, spaces around the commas allowed). A list is deduplicated in order; a
 * list of one is that session. Throws nothing; returns the reason instead.
 */
export function parseTarget(to: string | readonly string[]): ParsedTarget | { ok: false; reason: string } {
	if (typeof to === "string") {
		if (to === BROADCAST) return { ok: true, target: { kind: "broadcast" }, normalized: BROADCAST };
		if (to.startsWith(TOPIC_PREFIX)) {
			const topic = to.slice(TOPIC_PREFIX.length);
			const check = checkTopic(topic);
			if (!check.ok) return { ok: false, reason: check.reason };
			return { ok: true, target: { kind: "topic", topic }, normalized: to };
		}
		if (!to.includes(",")) {
			const check = checkName(to, "recipient");
			if (!check.ok) return { ok: false, reason: check.reason };
			return { ok: true, target: { kind: "session", session: to }, normalized: to };
		}
		return parseList(to.split(",").map((p) => p.trim()));
	}
	if (!Array.isArray(to)) return { ok: false, reason: "recipient must be a string or an array of session IDs" };
	return parseList(to);
}

function parseList(parts: readonly string[]): ParsedTarget | { ok: false; reason: string } {
	if (parts.length === 0) return { ok: false, reason: "the recipient list is empty" };
	const sessions: string[] = [];
	for (const part of parts) {
		if (typeof part !== "string") return { ok: false, reason: "a recipient list holds session IDs only" };
		if (part === BROADCAST || part.startsWith(TOPIC_PREFIX))
			return { ok: false, reason: `a recipient list holds session IDs only (got ${JSON.stringify(part.slice(0, 70))}); send to * or a #topic on its own` };
		const check = checkName(part, "recipient");
		if (!check.ok) return { ok: false, reason: check.reason };
		if (!sessions.includes(part)) sessions.push(part);
	}
	if (sessions.length > MAX_RECIPIENTS) return { ok: false, reason: `a recipient list names at most ${MAX_RECIPIENTS} sessions (got ${sessions.length})` };
	if (sessions.length === 1) return { ok: true, target: { kind: "session", session: sessions[0] as string }, normalized: sessions[0] as string };
	return { ok: true, target: { kind: "list", sessions }, normalized: sessions.join(",") };
}

/** The thread a message belongs to: its `thread`, or (from a hub that predates threads) its own id. */
export function threadOf(m: { id: string; thread?: string | undefined }): string {
	return m.thread ?? m.id;
}

// ---------------------------------------------------------------------------------------------------------
// Shared shapes
// ---------------------------------------------------------------------------------------------------------

export const RequestId = z.union([z.string().min(1).max(64), z.number().int().safe()]);
export type RequestId = z.infer<typeof RequestId>;

const shortText = z.string().max(256);

// ----- shared state and file claims (limits that are part of the protocol) --------------------------------

/** State keys: 1-256 letters, digits and `_ - . : /`, per room. A key is a name, never a file path. */
export const STATE_KEY_PATTERN = /^[A-Za-z0-9_.:/-]{1,256}$/;
/** Most items `state_append.maxItems` may keep. */
export const STATE_APPEND_MAX_ITEMS = 10_000;
/** Deepest nesting of arrays and objects in a state value (a deeper one is E_BAD_FRAME). */
export const STATE_MAX_DEPTH = 64;
/** Most entries one state_list page may return. */
export const STATE_LIST_MAX = 1000;
/** Most paths in one claim or release. */
export const CLAIM_MAX_PATHS = 64;
/** Longest repository identity (a normalized remote URL, or a directory name). */
export const REPO_MAX_CHARS = 512;
/** Most `owns` globs in hello meta. */
export const OWNS_MAX = 32;

/** Why a state key (or, with `prefix`, a key prefix, which may be empty) is refused; `{ok: true}` if fine. */
export function checkStateKey(key: string, prefix = false): NameCheck {
	const what = prefix ? "state key prefix" : "state key";
	if (typeof key !== "string") return { ok: false, reason: `${what} must be a string` };
	if (prefix && key === "") return { ok: true };
	if (key.length === 0) return { ok: false, reason: `${what} is empty` };
	if (key.length > 256) return { ok: false, reason: `${what} is longer than 256 characters` };
	if (!STATE_KEY_PATTERN.test(key))
		return {
			ok: false,
			reason: `${what} may contain only letters, digits and _ - . : / (got ${JSON.stringify(key.slice(0, 80))})`,
		};
	return { ok: true };
}

/** Why a repository identity is refused: 1-512 printable characters, no control characters. */
export function checkRepo(repo: string): NameCheck {
	if (typeof repo !== "string" || repo.trim() === "") return { ok: false, reason: "repository identity is empty" };
	if (repo.length > REPO_MAX_CHARS) return { ok: false, reason: `repository identity is longer than ${REPO_MAX_CHARS} characters` };
	// biome-ignore lint/suspicious/noControlCharactersInRegex: we are looking for control characters on purpose
	if (/[\u0000-\u001f\u007f-\u009f]/.test(repo)) return { ok: false, reason: "repository identity contains control characters" };
	if (repo !== repo.trim()) return { ok: false, reason: "repository identity has leading or trailing spaces" };
	return { ok: true };
}

/** What a session tells the hub about itself at hello; shown to peers by `peers` and `sessions`. */
export const SessionMeta = z.object({
	host: shortText.optional(),
	cwd: z.string().max(4096).optional(),
	pid: z.number().int().nonnegative().optional(),
	branch: shortText.optional(),
	/**
	 * Who is talking. A bridge: the agent harness that runs it, `claude-code`, `codex`, `gemini` or `other`
	 * (any other MCP client), from the MCP client's name and the bridge's parent process
	 * (mcp-client/harness/clients.ts, which everything that reads it imports; the autowake daemon keys its
	 * prompt patterns and spawn commands by it). claude-relay's own programs: `claude-relay-send`,
	 * `claude-relay-client`, `claude-relay-hook`, `claude-relay-autowake`. Bridges before harness detection
	 * sent `claude-relay-bridge` (read as a bridge of an unknown harness). Free text up to 64 characters: the
	 * hub stores and shows it, never acts on it.
	 */
	client: z.string().max(64).optional(),
	version: z.string().max(64).optional(),
	claudeSessionId: z.string().max(128).optional(),
	/** The repository identity of cwd (see File claims in docs/PROTOCOL.md): what `owns` is relative to. */
	repo: z.string().max(REPO_MAX_CHARS).optional(),
	/** Repo-relative globs this session says it owns; relay_peers marks peers whose owns or claims overlap. */
	owns: z.array(z.string().max(1024)).max(OWNS_MAX).optional(),
	/**
	 * The bridge's parent process (the harness that runs it): lets a nested run recognise the session that
	 * started it (E_ID_TAKEN's `holder`), and the autowake daemon find the harness in a tmux pane.
	 */
	ppid: z.number().int().nonnegative().optional(),
	/** `$TMUX_PANE` (`%<n>`) when the bridge runs inside tmux: the pane the autowake daemon may type into. */
	tmuxPane: z.string().max(32).optional(),
	/** The tmux server's socket (the first field of `$TMUX`) for that pane. */
	tmuxSocket: z.string().max(1024).optional(),
});
export type SessionMeta = z.infer<typeof SessionMeta>;

/** A stored message, as pushed and as returned by inbox/history/get. */
export const Message = z.object({
	/** Hub-assigned, unique, opaque. Clients dedupe by it. */
	id: z.string(),
	/** Hub-assigned, strictly increasing across the hub: the order of commit. */
	seq: z.number().int(),
	room: z.string(),
	from: z.string(),
	/** What the sender addressed: a session ID, `*`, `#topic`, or several IDs joined by commas (`CC-1,CC-2`). */
	to: z.string(),
	body: z.string(),
	replyTo: z.string().nullable(),
	/**
	 * The id of the thread's root: the message's own id for a new message, the root of its `replyTo` chain
	 * for a reply. Absent from hubs that predate threads (read it with `threadOf`).
	 */
	thread: z.string().optional(),
	/** Epoch milliseconds when the hub committed it. */
	sentAt: z.number(),
	/**
	 * Present (and true) only on a message a person wrote in the hub's dashboard (`POST /api/send`). Set by
	 * the hub alone: no client frame can set it (SendRequest has no such field, and unknown fields are
	 * dropped), so a model or a person can trust it to tell a person's message from an agent's.
	 */
	human: z.literal(true).optional(),
});
export type Message = z.infer<typeof Message>;

export const PeerInfo = z.object({
	session: z.string(),
	room: z.string(),
	meta: SessionMeta,
	connectedAt: z.number(),
	/** Milliseconds since this peer last sent a frame. */
	idleMs: z.number(),
});
export type PeerInfo = z.infer<typeof PeerInfo>;

export const SessionInfo = z.object({
	session: z.string(),
	room: z.string(),
	online: z.boolean(),
	meta: SessionMeta,
	firstSeen: z.number(),
	lastSeen: z.number(),
	/** Messages waiting (unacked) for this session. */
	pending: z.number(),
	/** Forgotten when its connection ends (see HelloRequest.ephemeral); absent from hubs before the lifecycle. */
	ephemeral: z.boolean().optional(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;

export const Warning = z.object({ code: z.string(), message: z.string() });
export type Warning = z.infer<typeof Warning>;

/** A state key without its value (state_list, and the answer to writes). */
export const StateInfo = z.object({
	key: z.string(),
	/** 1 when created, +1 per change. A deleted key that is created again starts at 1. */
	version: z.number().int(),
	/** Session ID of the last writer. */
	updatedBy: z.string(),
	/** Epoch ms of the last change (the hub's clock). */
	updatedAt: z.number(),
	/** Bytes of the value as JSON (UTF-8). */
	size: z.number().int(),
});
export type StateInfo = z.infer<typeof StateInfo>;

export const StateEntry = StateInfo.extend({ value: z.unknown() });
export type StateEntry = z.infer<typeof StateEntry>;

/** One live file claim: a session holds `path` (a repo-relative pattern) in `repo` until `expiresAt`. */
export const ClaimInfo = z.object({
	repo: z.string(),
	session: z.string(),
	/** Canonical pattern (see server/globs.ts): `src/auth/**`, `src/x.ts`, ... */
	path: z.string(),
	reason: z.string().nullable(),
	/** Epoch ms of the first claim of this path by this session (renewals keep it). */
	claimedAt: z.number(),
	expiresAt: z.number(),
});
export type ClaimInfo = z.infer<typeof ClaimInfo>;
/**
 * Where a message is for one recipient: `queued` (stored; not written to the recipient's connection yet),
 * `pushed` (written to its connection), `seen` (acked by the recipient: for the bridge, handed to its model).
 */
export const ReceiptState = z.enum(["queued", "pushed", "seen"]);
export type ReceiptState = z.infer<typeof ReceiptState>;

export const Receipt = z.object({
	recipient: z.string(),
	state: ReceiptState,
	/** When it reached `state` (epoch ms; for `queued`, when the message was stored). */
	at: z.number(),
	pushedAt: z.number().nullable(),
	seenAt: z.number().nullable(),
});
export type Receipt = z.infer<typeof Receipt>;

export const TopicSubscriber = z.object({ session: z.string(), online: z.boolean() });

export const TopicInfo = z.object({
	topic: z.string(),
	/** Every subscriber, online or not, by ID. */
	subscribers: z.array(TopicSubscriber),
	/** Whether the asking session is one of them. */
	subscribed: z.boolean(),
	/** Messages the topic's log holds (retention applies). */
	messages: z.number(),
	/** Epoch ms of the newest message or subscription; null for neither. */
	lastActivity: z.number().nullable(),
});
export type TopicInfo = z.infer<typeof TopicInfo>;

// ---------------------------------------------------------------------------------------------------------
// Client → hub requests
// ---------------------------------------------------------------------------------------------------------

const req = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
	z.object({ type: z.literal(type), id: RequestId, ...shape });

export const HelloRequest = req("hello", {
	session: z.string().max(256),
	room: z.string().max(256).optional(),
	/** The hub token, when the hub requires one and it was not given at the HTTP upgrade. */
	token: z.string().max(1024).optional(),
	/** The per-ID secret minted at the first claim of this ID. */
	secret: z.string().max(256).optional(),
	meta: SessionMeta.optional(),
	protocol: z.number().int().optional(),
	/**
	 * Attach to a session that another connection holds (a hook beside the bridge): requires the ID's secret,
	 * never contests the holder, is not shown in presence, and gets live pushes but no replay of the backlog.
	 * It shares the session's inbox: what it acks is acked for the session.
	 */
	observer: z.boolean().optional(),
	/**
	 * This ID will never be claimed again (the bridge's own `<host>-<pid>`): the hub forgets it, with its
	 * inbox, when its connection ends, so it is a broadcast recipient only while online. Read at the first
	 * claim of the ID only; absent or false: a named session, kept until `forget` or `--forget-after-days`.
	 */
	ephemeral: z.boolean().optional(),
	/**
	 * Whether this connection wants `peer_joined` / `peer_left` frames for its room (default true, as before).
	 * The bridge says false: it asks `peers` when its model wants to know, and in a room of N sessions every
	 * listener costs the hub a frame per join and per leave.
	 */
	presence: z.boolean().optional(),
	/**
	 * How many online peers the answer lists (0 to MAX_PEERS_PAGE; default the hub's --hello-peers, 100).
	 * `peersTotal` says how many there are; `peers` pages through them all.
	 */
	peers: z.number().int().min(0).max(500).optional(),
});
export const SendRequest = req("send", {
	/**
	 * A session ID, `*` for every other session in the room, `#topic` for its subscribers, or several session
	 * IDs: an array, or one string joined by commas (`"CC-1,CC-2"`), at most MAX_RECIPIENTS.
	 */
	to: z.union([z.string().max(2400), z.array(z.string().max(256)).min(1).max(256)]),
	body: z.string(),
	/** The id of the message this answers; refused (E_BAD_FRAME) unless shaped like one. */
	replyTo: MessageId.optional(),
	/**
	 * Idempotency key: a retried send with the same key (same sender, same room) is stored once. Any string;
	 * time-ordered ones (newIdempotencyKey) are cheaper for the hub to index than random ones.
	 */
	key: z.string().min(1).max(128).optional(),
});
export const InboxRequest = req("inbox", {
	limit: z.number().int().min(1).max(1000).optional(),
	/** Read without acking. */
	peek: z.boolean().optional(),
	/** Only messages from this session. */
	from: z.string().max(256).optional(),
	/** Only replies to this message (what `relay_ask` waits for). */
	replyTo: MessageId.optional(),
});
export const AckRequest = req("ack", { ids: z.array(MessageId).max(1000) });
export const GetRequest = req("get", { message: MessageId });
export const HistoryRequest = req("history", {
	/** A peer's session ID: the direct conversation with it. Absent: everything this session can see in the room. */
	with: z.string().max(256).optional(),
	/** A topic's log (without the `#`): every message sent to it, whoever subscribed. Not with `with`. */
	topic: z.string().max(256).optional(),
	limit: z.number().int().min(1).max(500).optional(),
	/** Page backwards: only messages with seq below this. */
	before: z.number().int().optional(),
	/** Page forwards: only messages with seq above this. */
	after: z.number().int().optional(),
});
export const PeersRequest = req("peers", {
	/** Peers per page, in session ID order (default and maximum 500). */
	limit: z.number().int().min(1).max(500).optional(),
	/** The last session ID of the previous page (its `nextCursor`). */
	cursor: z.string().max(256).optional(),
});
export const SessionsRequest = req("sessions", {
	/** Sessions per page (default 100). */
	limit: z.number().int().min(1).max(500).optional(),
	/** `nextCursor` of the previous page: the page after it. */
	cursor: z.string().max(256).optional(),
});
/**
 * Forget a session ID now: its record, its unread mail and its lost counter go, and it leaves the room's
 * broadcast audience (on every hub). Allowed before hello. Authorized by the ID's secret, or by the hub token
 * presented in this frame; refused while a live connection holds the ID, unless `force`, which closes it.
 */
export const ForgetRequest = req("forget", {
	session: z.string().max(256),
	room: z.string().max(256).optional(),
	secret: z.string().max(256).optional(),
	token: z.string().max(1024).optional(),
	force: z.boolean().optional(),
});
export const PingRequest = req("ping", {});
/** Subscribe this session to a topic (stored by the hub: it survives reconnects and restarts). */
export const SubscribeRequest = req("subscribe", { topic: z.string().max(256) });
export const UnsubscribeRequest = req("unsubscribe", { topic: z.string().max(256) });
/** Every topic in the room: subscribers, message count, last activity. */
export const TopicsRequest = req("topics", {});
/** The whole thread of a message (any of its messages), oldest first, paged forwards. */
export const ThreadRequest = req("thread", {
	message: MessageId,
	limit: z.number().int().min(1).max(500).optional(),
	/** Only messages with seq above this (the last seq of the previous page). */
	after: z.number().int().optional(),
});
/** Per recipient, where a message is: queued, pushed or seen. For its sender (all rows) or a recipient (its own). */
export const ReceiptsRequest = req("receipts", { message: MessageId });
export const ByeRequest = req("bye", { reason: z.string().max(256).optional() });
/**
 * The live session takes another ID: claimed with a new secret (returned once, like a first claim's), the
 * old ID is released (forgotten), and the unread mail moves with the session. Refused for an ID a live
 * session holds, or that exists without `secret` being its secret (taking over an ID this client owned).
 */
export const RenameRequest = req("rename", {
	to: z.string().max(256),
	/** The secret of `to`, when that ID already exists and is this client's (stored from an earlier claim). */
	secret: z.string().max(256).optional(),
});
/** The most sessions one `unread` request may ask about, and the most message headers per session. */
export const UNREAD_MAX_SESSIONS = 50;
export const UNREAD_MAX_HEADERS = 50;
/**
 * What waits for some sessions, without bodies and without acking anything: for the autowake daemon, which
 * must not claim an ID, read mail or mark it read. Allowed before hello. Each session is authorized by its
 * own secret, or all of them by the hub token presented in this frame.
 */
export const UnreadRequest = req("unread", {
	room: z.string().max(256).optional(),
	sessions: z
		.array(z.object({ session: z.string().max(256), secret: z.string().max(256).optional() }))
		.min(1)
		.max(UNREAD_MAX_SESSIONS),
	/** Message headers per session, oldest first (default 20). */
	limit: z.number().int().min(1).max(UNREAD_MAX_HEADERS).optional(),
	token: z.string().max(1024).optional(),
});

// Key and path fields are given generous zod bounds: the handlers check them and answer E_BAD_KEY or
// E_BAD_PATH with a reason, which says more than a schema error.
const stateKey = z.string().max(1024);
export const StateGetRequest = req("state_get", { key: stateKey });
export const StateSetRequest = req("state_set", {
	key: stateKey,
	/** Any JSON (null included); at most the hub's body limit once serialized. */
	value: z.unknown(),
	/** Compare-and-set: the version the key must have now; 0 means it must not exist. Absent: set anyway. */
	expectedVersion: z.number().int().min(0).optional(),
});
export const StateAppendRequest = req("state_append", {
	key: stateKey,
	/** Appended to the JSON array at `key` (created as [item] when missing). */
	item: z.unknown(),
	/** Keep only the newest maxItems items (oldest dropped). */
	maxItems: z.number().int().min(1).max(STATE_APPEND_MAX_ITEMS).optional(),
});
export const StateDeleteRequest = req("state_delete", {
	key: stateKey,
	expectedVersion: z.number().int().min(1).optional(),
});
export const StateListRequest = req("state_list", {
	prefix: stateKey.optional(),
	/** Page on: only keys after this one (the last key of the previous page). */
	after: stateKey.optional(),
	limit: z.number().int().min(1).max(STATE_LIST_MAX).optional(),
});
export const WatchRequest = req("watch", { prefix: stateKey });
export const UnwatchRequest = req("unwatch", { prefix: stateKey.optional() });
export const ClaimRequest = req("claim", {
	repo: z.string().max(REPO_MAX_CHARS * 2),
	paths: z.array(z.string().max(2048)).min(1).max(CLAIM_MAX_PATHS),
	ttlSeconds: z.number().int().min(1).optional(),
	reason: z.string().max(512).optional(),
});
export const ReleaseRequest = req("release", {
	repo: z.string().max(REPO_MAX_CHARS * 2).optional(),
	/** Patterns as claimed (canonical form compared); absent: every claim of this session (in repo, if given). */
	paths: z.array(z.string().max(2048)).max(CLAIM_MAX_PATHS).optional(),
});
export const ClaimsRequest = req("claims", {
	repo: z.string().max(REPO_MAX_CHARS * 2).optional(),
	session: z.string().max(256).optional(),
});

export const ClientFrame = z.discriminatedUnion("type", [
	HelloRequest,
	SendRequest,
	InboxRequest,
	AckRequest,
	GetRequest,
	HistoryRequest,
	PeersRequest,
	SessionsRequest,
	ForgetRequest,
	PingRequest,
	ByeRequest,
	StateGetRequest,
	StateSetRequest,
	StateAppendRequest,
	StateDeleteRequest,
	StateListRequest,
	WatchRequest,
	UnwatchRequest,
	ClaimRequest,
	ReleaseRequest,
	ClaimsRequest,
	RenameRequest,
	UnreadRequest,
	SubscribeRequest,
	UnsubscribeRequest,
	TopicsRequest,
	ThreadRequest,
	ReceiptsRequest,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type RequestType = ClientFrame["type"];
export const REQUEST_TYPES: readonly RequestType[] = ClientFrame.options.map((o) => o.shape.type.value);
export type RequestOf<T extends RequestType> = Extract<ClientFrame, { type: T }>;
/** A request as a client writes it: without `type` and `id`, which the client library fills in. */
export type ParamsOf<T extends RequestType> = Omit<RequestOf<T>, "type" | "id">;

// ---------------------------------------------------------------------------------------------------------
// Hub → client results (the `result` field of a `result` frame, by request type)
// ---------------------------------------------------------------------------------------------------------

export const HelloResult = z.object({
	session: z.string(),
	room: z.string(),
	/** Present only on the first claim of this ID: store it (mode 0600) and present it on every later hello. */
	secret: z.string().optional(),
	/** Online peers, at most HelloRequest.peers of them (in the order they connected, this hub's first). */
	peers: z.array(PeerInfo),
	/** How many peers are online in the room in all (absent from hubs before paged hellos: then `peers` is all). */
	peersTotal: z.number().optional(),
	/** Messages waiting for this session; the hub pushes them right after this reply, oldest first. */
	pending: z.number(),
	/** Messages that retention deleted before this session read them, since it last said hello. */
	lost: z.number(),
	/** Whether the hub forgets this session when its connection ends (decided at its first claim). */
	ephemeral: z.boolean().optional(),
	/** The topics this session is subscribed to (absent from hubs that predate topics). */
	topics: z.array(z.string()).optional(),
	hub: z.object({
		version: z.string(),
		protocol: z.number(),
		maxBodyBytes: z.number(),
		maxFrameBytes: z.number(),
		heartbeatMs: z.number(),
	}),
});
export const SendResult = z.object({
	message: Message,
	/** True when the idempotency key matched an earlier send: nothing new was stored or pushed. */
	duplicate: z.boolean(),
	/** Recipients that were online: the message went to their open connection. */
	live: z.array(z.string()),
	/** Recipients that were offline: they get it when they next connect. */
	queued: z.array(z.string()),
	warnings: z.array(Warning),
});
export const InboxResult = z.object({
	messages: z.array(Message),
	/** Unacked messages still waiting after these. */
	remaining: z.number(),
	acked: z.boolean(),
});
export const AckResult = z.object({ acked: z.number() });
export const GetResult = z.object({ message: Message });
export const HistoryResult = z.object({
	messages: z.array(Message),
	hasMore: z.boolean(),
	/** Oldest seq still retained in this room (null: none); a page that reaches below it was cut by retention. */
	oldestSeq: z.number().nullable(),
	truncated: z.boolean(),
});
export const PeersResult = z.object({
	/** One page, in session ID order. */
	peers: z.array(PeerInfo),
	/** Online peers in the room in all (absent from hubs before paging: then `peers` is all of them). */
	total: z.number().optional(),
	/** More peers come after this page: ask again with `cursor: nextCursor`. */
	hasMore: z.boolean().optional(),
	nextCursor: z.string().nullable().optional(),
});
export const SessionsResult = z.object({
	/** One page, in ID order. */
	sessions: z.array(SessionInfo),
	/** More sessions come after this page: ask again with `cursor: nextCursor`. */
	hasMore: z.boolean(),
	nextCursor: z.string().nullable(),
	/** Sessions in the room, on every page. */
	total: z.number(),
});
export const ForgetResult = z.object({
	session: z.string(),
	room: z.string(),
	/** A session record existed (false: only mail queued for a name nobody claimed was dropped). */
	existed: z.boolean(),
	/** Unread messages dropped with it. */
	pending: z.number(),
	/** Connections that held or observed it and were closed (4009). */
	closed: z.number(),
});
export const PingResult = z.object({ time: z.number() });
export const ByeResult = z.object({});
export const StateGetResult = z.object({ entry: StateEntry.nullable() });
export const StateSetResult = z.object({ entry: StateInfo, created: z.boolean() });
export const StateAppendResult = z.object({
	entry: StateInfo,
	/** Items in the array now. */
	length: z.number().int(),
	/** Oldest items dropped by maxItems. */
	dropped: z.number().int(),
});
export const StateDeleteResult = z.object({
	deleted: z.boolean(),
	/** The version that was deleted (null: there was no such key). */
	version: z.number().int().nullable(),
});
export const StateListResult = z.object({ entries: z.array(StateInfo), hasMore: z.boolean() });
/** The prefixes this connection watches now. */
export const WatchResult = z.object({ watching: z.array(z.string()) });
export const ClaimResult = z.object({
	/** All or nothing: true when every path was granted (or renewed), false when any conflicted. */
	granted: z.boolean(),
	/** Granted: this session's claims on these paths, with their new expiry. Refused: empty. */
	claims: z.array(ClaimInfo),
	/** Refused: the other sessions' live claims that overlap a requested path. */
	conflicts: z.array(ClaimInfo),
	/** The hub's clock, epoch ms (expiresAt is on it). */
	now: z.number(),
});
export const ReleaseResult = z.object({ released: z.array(ClaimInfo) });
export const ClaimsResult = z.object({ claims: z.array(ClaimInfo), now: z.number() });
export const RenameResult = z.object({
	/** The new ID. */
	session: z.string(),
	/** The ID it had. */
	from: z.string(),
	room: z.string(),
	/** The new ID's secret: store it (mode 0600) as at a first claim. Absent when `to` existed (its secret stands). */
	secret: z.string().optional(),
	/** Unread messages that moved from the old ID to the new one. */
	moved: z.number(),
});
/** A message as `unread` shows it: everything but the body. */
export const MessageHeader = z.object({
	id: z.string(),
	seq: z.number(),
	from: z.string(),
	/** The sender's `client` meta (what program sent it: a bridge, `claude-relay send`, ...), when known. */
	fromClient: z.string().optional(),
	to: z.string(),
	replyTo: z.string().nullable(),
	/** The message's thread, on hubs that have threads. */
	thread: z.string().optional(),
	sentAt: z.number(),
});
export type MessageHeader = z.infer<typeof MessageHeader>;
export const UnreadEntry = z.object({
	session: z.string(),
	/** Set instead of the rest when this session could not be read (E_BAD_ID, E_FORBIDDEN, E_NOT_FOUND). */
	error: z.object({ code: z.string(), message: z.string() }).optional(),
	online: z.boolean().optional(),
	meta: SessionMeta.optional(),
	/** Unacked messages waiting. */
	pending: z.number().optional(),
	/** The oldest `limit` of them, without bodies. */
	messages: z.array(MessageHeader).optional(),
});
export const UnreadResult = z.object({ room: z.string(), sessions: z.array(UnreadEntry) });
export const SubscribeResult = z.object({
	topic: z.string(),
	subscribed: z.boolean(),
	/** False when the session already was (subscribe) or was not (unsubscribe) subscribed. */
	changed: z.boolean(),
	/** This session's topics now. */
	topics: z.array(z.string()),
});
export const TopicsResult = z.object({ topics: z.array(TopicInfo) });
export const ThreadResult = z.object({
	/** The root's id. */
	thread: z.string(),
	/** Oldest first; only those this session may see. */
	messages: z.array(Message),
	hasMore: z.boolean(),
});
export const ReceiptsResult = z.object({ message: Message, receipts: z.array(Receipt) });

export interface ResultMap {
	hello: z.infer<typeof HelloResult>;
	send: z.infer<typeof SendResult>;
	inbox: z.infer<typeof InboxResult>;
	ack: z.infer<typeof AckResult>;
	get: z.infer<typeof GetResult>;
	history: z.infer<typeof HistoryResult>;
	peers: z.infer<typeof PeersResult>;
	sessions: z.infer<typeof SessionsResult>;
	forget: z.infer<typeof ForgetResult>;
	ping: z.infer<typeof PingResult>;
	bye: z.infer<typeof ByeResult>;
	state_get: z.infer<typeof StateGetResult>;
	state_set: z.infer<typeof StateSetResult>;
	state_append: z.infer<typeof StateAppendResult>;
	state_delete: z.infer<typeof StateDeleteResult>;
	state_list: z.infer<typeof StateListResult>;
	watch: z.infer<typeof WatchResult>;
	unwatch: z.infer<typeof WatchResult>;
	claim: z.infer<typeof ClaimResult>;
	release: z.infer<typeof ReleaseResult>;
	claims: z.infer<typeof ClaimsResult>;
	rename: z.infer<typeof RenameResult>;
	unread: z.infer<typeof UnreadResult>;
	subscribe: z.infer<typeof SubscribeResult>;
	unsubscribe: z.infer<typeof SubscribeResult>;
	topics: z.infer<typeof TopicsResult>;
	thread: z.infer<typeof ThreadResult>;
	receipts: z.infer<typeof ReceiptsResult>;
}
export type ResultOf<T extends RequestType> = ResultMap[T];

export const RESULT_SCHEMAS = {
	hello: HelloResult,
	send: SendResult,
	inbox: InboxResult,
	ack: AckResult,
	get: GetResult,
	history: HistoryResult,
	peers: PeersResult,
	sessions: SessionsResult,
	forget: ForgetResult,
	ping: PingResult,
	bye: ByeResult,
	state_get: StateGetResult,
	state_set: StateSetResult,
	state_append: StateAppendResult,
	state_delete: StateDeleteResult,
	state_list: StateListResult,
	watch: WatchResult,
	unwatch: WatchResult,
	claim: ClaimResult,
	release: ReleaseResult,
	claims: ClaimsResult,
	rename: RenameResult,
	unread: UnreadResult,
	subscribe: SubscribeResult,
	unsubscribe: SubscribeResult,
	topics: TopicsResult,
	thread: ThreadResult,
	receipts: ReceiptsResult,
} as const satisfies { [K in RequestType]: z.ZodType<ResultMap[K]> };

// ---------------------------------------------------------------------------------------------------------
// Hub → client frames
// ---------------------------------------------------------------------------------------------------------

export const ResultFrame = z.object({ type: z.literal("result"), id: RequestId, result: z.unknown() });
export const ErrorFrame = z.object({
	type: z.literal("error"),
	/** The request's id; null when the frame could not be read far enough to find one. */
	id: RequestId.nullable(),
	code: z.string(),
	message: z.string(),
	/**
	 * Structured facts for some codes: E_CONFLICT carries `{current: StateEntry | null}`; E_ID_TAKEN for an ID
	 * held by a live connection carries `{holder: {host?, pid?, ppid?}}` (from its hello meta), so that a
	 * nested run can tell that the holder is the session that started it (the bridge's `-bg<n>` IDs).
	 */
	details: z.unknown().optional(),
});
export const MessagePush = z.object({ type: z.literal("message"), message: Message });
/** To a message's sender, when a recipient saw it (acked it). Clients that do not know it ignore it. */
export const ReceiptPush = z.object({
	type: z.literal("receipt"),
	/** The message's id. */
	message: z.string(),
	recipient: z.string(),
	state: ReceiptState,
	at: z.number(),
});
/** Why a session left: `renamed` comes with `to` (and its peer_joined with `from`). */
export const LEAVE_REASONS = ["bye", "closed", "timeout", "replaced", "slow", "shutdown", "renamed"] as const;
export const PeerJoinedPush = z.object({
	type: z.literal("peer_joined"),
	peer: PeerInfo,
	/** Absent for a plain join; "renamed" when a live session took this ID (`from` is its old one). */
	reason: z.string().optional(),
	from: z.string().optional(),
});
export const PeerLeftPush = z.object({
	type: z.literal("peer_left"),
	session: z.string(),
	room: z.string(),
	/**
	 * One of LEAVE_REASONS. A string rather than an enum so that a reason a later hub adds does not make this
	 * client drop the frame (clients of the hub before `renamed` do drop a peer_left that carries it).
	 */
	reason: z.string(),
	/** With reason "renamed": the session's new ID. */
	to: z.string().optional(),
});
export const ShutdownPush = z.object({ type: z.literal("shutdown"), reason: z.string(), retryAfterMs: z.number() });
/**
 * The hub's fan-out from other hubs (Redis) was away and is back: pushes from `since` (the hub's clock, epoch
 * ms) until now may be missing. Messages are not: the hub pushes what waits from the store itself, and it
 * hints again the state keys changed meanwhile; a `receipt` or a delete's `state_changed` may be gone, so a
 * client waiting for one asks again (`receipts`, `state_get`).
 */
export const ResyncPush = z.object({ type: z.literal("resync"), since: z.number() });
/** A state key under a watched prefix changed (set, append or delete), by any session on any hub. */
export const StateChangedPush = z.object({
	type: z.literal("state_changed"),
	room: z.string(),
	key: z.string(),
	/** The version after the change; for a delete, the version that was deleted. */
	version: z.number().int(),
	updatedBy: z.string(),
	updatedAt: z.number(),
	deleted: z.boolean(),
});

export const HubFrame = z.discriminatedUnion("type", [
	ResultFrame,
	ErrorFrame,
	MessagePush,
	ReceiptPush,
	PeerJoinedPush,
	PeerLeftPush,
	ShutdownPush,
	StateChangedPush,
	ResyncPush,
]);
export type HubFrame = z.infer<typeof HubFrame>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;
export type MessagePush = z.infer<typeof MessagePush>;
export type ReceiptPush = z.infer<typeof ReceiptPush>;
export type PeerJoinedPush = z.infer<typeof PeerJoinedPush>;
export type PeerLeftPush = z.infer<typeof PeerLeftPush>;
export type ShutdownPush = z.infer<typeof ShutdownPush>;
export type ResyncPush = z.infer<typeof ResyncPush>;
export type StateChangedPush = z.infer<typeof StateChangedPush>;

// ---------------------------------------------------------------------------------------------------------
// HTTP API bodies (docs/API.md): the dashboard's composer
// ---------------------------------------------------------------------------------------------------------

/**
 * POST /api/send: a person's message, sent as the hub's operator (`--operator-name`) and marked `human`.
 * The same fields as SendRequest, plus the room (the API has no hello to name one).
 */
export const ApiSendBody = z.object({
	room: z.string().max(256).optional(),
	to: z.string().max(256),
	body: z.string(),
	replyTo: MessageId.optional(),
	key: z.string().min(1).max(128).optional(),
});
export type ApiSendBody = z.infer<typeof ApiSendBody>;

/**
 * A fresh idempotency key for one logical send: a UUIDv7, which starts with the time. The hub indexes keys
 * per sender, and time-ordered keys land at the end of that index, where the pages of the last commit
 * still are; random UUIDs land anywhere, and in a database of a few hundred thousand messages they made
 * every append write one more page (about 25% less throughput, measured with the hub's own client).
 */
export function newIdempotencyKey(): string {
	return uuidv7();
}
