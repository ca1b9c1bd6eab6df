/**
 * The hub's durable state behind one async interface (the aedes way), so the hub can run on SQLite (the
 * default), in memory (tests, `--db :memory:`), or on a distributed engine later (Redis, Postgres) without
 * touching routing. Every backend must pass the one shared suite in test/store.suite.ts.
 *
 * Model: a message is stored once; a *delivery* row per recipient records whether that recipient has acked
 * it. The inbox of a session is its unacked deliveries in `seq` order. Broadcasts get a delivery for every
 * session known in the room at send time (online or not), so a session away for days still gets them.
 */
import type { Message, SessionMeta } from "../protocol.js";

export interface SessionRecord {
	room: string;
	session: string;
	/** sha256 (hex) of the per-ID secret minted at the first claim. */
	secretHash: string;
	meta: SessionMeta;
	firstSeen: number;
	lastSeen: number;
	/**
	 * Forgotten when its connection ends: an ID nothing will ever claim again (a bridge's own `<host>-<pid>`).
	 * Decided at the first claim; broadcasts reach it only while it exists, i.e. while it is online.
	 */
	ephemeral: boolean;
}

/** A page of a room's sessions, in ID order (the bytes of the UTF-8 form, as SQLite and Redis compare). */
export interface SessionPageQuery {
	/** Only IDs after this one: the last ID of the previous page. */
	after?: string;
	limit: number;
}

export interface ForgetOptions {
	/**
	 * Forget only a session whose record exists and was last seen before this time (epoch ms): one seen since
	 * (it came back, here or on another hub) is kept. Retention and the end of an ephemeral session use it.
	 */
	seenBefore?: number;
}

export interface ForgetResult {
	/** A session record existed and was deleted. */
	session: boolean;
	/** Unacked deliveries for it that were dropped (its unread mail). */
	pending: number;
}

export interface StaleQuery {
	/** Named sessions last seen before this time (epoch ms); undefined: none. */
	namedBefore?: number;
	/** Ephemeral sessions last seen before this time; undefined: none. */
	ephemeralBefore?: number;
	limit: number;
}

export interface StaleSession {
	room: string;
	session: string;
	ephemeral: boolean;
	lastSeen: number;
}

export interface AppendInput {
	room: string;
	from: string;
	/** A session ID or `*`. */
	to: string;
	body: string;
	replyTo: string | null;
	/** Idempotency key; with the same (room, from, key) an earlier message is returned, nothing stored. */
	key: string | null;
	/** Who gets a delivery row. Decided by the hub (for `*`: every known session in the room but the sender). */
	recipients: string[];
	sentAt: number;
}

export interface AppendResult {
	message: Message;
	/** True when the idempotency key matched: `message` is the earlier one and nothing was written. */
	duplicate: boolean;
	/** The recipients of the stored message (for a duplicate, those of the original). */
	recipients: string[];
}

export interface PendingQuery {
	/** Only deliveries with seq above this (a connection's push cursor). */
	afterSeq?: number;
	limit: number;
	/** Only messages from this sender. */
	from?: string;
}

export interface PendingPage {
	messages: Message[];
	/** Unacked deliveries matching the query that come after this page. */
	remaining: number;
}

export interface HistoryQuery {
	/** The session asking: it sees broadcasts in its room and direct messages from or to itself. */
	viewer: string;
	/** Only the direct conversation between viewer and this peer. */
	with?: string;
	before?: number;
	after?: number;
	limit: number;
}

export interface HistoryPage {
	/** Oldest first. */
	messages: Message[];
	hasMore: boolean;
}

export interface RetentionPolicy {
	/** Delete messages sent before this time (epoch ms); undefined: no age limit. */
	olderThan?: number;
	/** Keep at most this many messages per room (newest); undefined: no count limit. */
	maxPerRoom?: number;
}

export interface RetentionResult {
	deletedMessages: number;
	/** Unacked deliveries that were deleted with their messages; each recipient's `lost` counter grew. */
	lostDeliveries: number;
}

export interface StoreStats {
	messages: number;
	sessions: number;
	pendingDeliveries: number;
}

/** Session records: who has claimed which ID in which room (secrets as hashes), and when they were seen. */
export interface SessionStore {
	getSession(room: string, session: string): Promise<SessionRecord | null>;
	/**
	 * Creates the record for a first claim. Returns false (and changes nothing) if the ID already exists,
	 * so that two hubs or two racing hellos cannot both mint a secret.
	 */
	createSession(record: SessionRecord): Promise<boolean>;
	/** Updates meta and lastSeen of an existing session. */
	touchSession(room: string, session: string, meta: SessionMeta, lastSeen: number): Promise<void>;
	/** A room's sessions in ID order: every one, or one page of them. */
	listSessions(room: string, page?: SessionPageQuery): Promise<SessionRecord[]>;
	/** How many sessions the room has. */
	countSessions(room: string): Promise<number>;
	/**
	 * Forgets an ID atomically: its record, its unacked deliveries (counted in the result) and its `lost`
	 * counter. Messages it sent or received stay in history. Without `seenBefore` the deliveries and counter
	 * of an ID that has no record (mail queued for a name nobody claimed) are dropped too.
	 */
	forgetSession(room: string, session: string, options?: ForgetOptions): Promise<ForgetResult>;
}

/** Messages and their per-recipient delivery state. */
export interface MessageStore {
	/** Commits the message and its deliveries atomically; resolves only once durable. */
	append(input: AppendInput): Promise<AppendResult>;
	/** Unacked messages for a recipient, oldest first. */
	pending(room: string, recipient: string, query: PendingQuery): Promise<PendingPage>;
	/** How many unacked messages wait for a recipient. */
	countPending(room: string, recipient: string): Promise<number>;
	/** Like `pending` then `ack` of exactly the returned messages, atomically. */
	takePending(room: string, recipient: string, query: PendingQuery): Promise<PendingPage>;
	/** Marks deliveries acked; unknown or already-acked ids are ignored. Returns how many changed. */
	ack(room: string, recipient: string, messageIds: string[]): Promise<number>;
	/** One message by id, if `viewer` may see it (sender, recipient, or a broadcast in its room). */
	getMessage(room: string, messageId: string, viewer: string): Promise<Message | null>;
	history(room: string, query: HistoryQuery): Promise<HistoryPage>;
	/** Oldest retained seq in the room, or null. */
	oldestSeq(room: string): Promise<number | null>;
	/**
	 * The highest seq retention has deleted in this room (0: it never deleted anything there). A history
	 * page or cursor at or below it reached into deleted history, which the hub reports as `truncated`.
	 */
	prunedThrough(room: string): Promise<number>;
}

/** What retention deletes, and the `lost` counters it leaves for the sessions whose unread mail it took. */
export interface RetentionStore {
	/** Reads and resets how many of this session's unacked messages retention has deleted. */
	takeLost(room: string, session: string): Promise<number>;
	applyRetention(policy: RetentionPolicy): Promise<RetentionResult>;
	/**
	 * Sessions not seen for a while, for retention to forget (with forgetSession and `seenBefore`, so that
	 * one seen meanwhile is kept), at most `limit`, oldest first within each kind.
	 */
	staleSessions(query: StaleQuery): Promise<StaleSession[]>;
}

/**
 * The whole durable state of a hub. The core (sessions, messages, retention) is flat on the Store; each
 * further kind of state is a sub-store property of its own (e.g. `store.state`), with its own interface,
 * its own file per backend, and its own cases in the shared suite.
 */
export interface Store extends SessionStore, MessageStore, RetentionStore {
	/** Short name for logs and /healthz: "sqlite", "memory", ... */
	readonly kind: string;
	/** Opens files, runs migrations. Called once before anything else. */
	open(): Promise<void>;
	/** Flushes and closes. Safe to call twice. */
	close(): Promise<void>;
	stats(): Promise<StoreStats>;
}
