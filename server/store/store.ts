/**
 * The hub's durable state behind one async interface (the aedes way), so the hub can run on SQLite (the
 * default), in memory (tests, `--db :memory:`), or on a distributed engine later (Redis, Postgres) without
 * touching routing. Every backend must pass the one shared suite in test/store.suite.ts.
 *
 * Model: a message is stored once; a *delivery* row per recipient records whether that recipient has acked
 * it. The inbox of a session is its unacked deliveries in `seq` order. Broadcasts get a delivery for every
 * session known in the room at send time (online or not), so a session away for days still gets them; a
 * topic send, one for every subscriber at commit time.
 *
 * Threads and receipts are delivery state, so they extend the message core: a reply's thread is found
 * from its replyTo at append (one primary-key read), and a recipient's receipt is `queued` until a row says
 * it was pushed (recorded in memory and written later, never before a push) or seen (written with the ack).
 */
import type { Message, Receipt, SessionMeta } from "../protocol.js";

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

/** A live session taking another ID (the `rename` request); see SessionStore.renameSession. */
export interface RenameInput {
	room: string;
	from: string;
	to: string;
	/** The new record's secret hash, when `to` has no record (one that exists keeps its own). */
	secretHash: string;
	meta: SessionMeta;
	now: number;
}

export interface RenameOutcome {
	/** False when `from` has no record: nothing was changed. */
	renamed: boolean;
	/** `to` had a record already: its secret hash and firstSeen stand. */
	existed: boolean;
	/** Unacked deliveries that moved from `from` to `to` (one both had, from a broadcast, counts once). */
	moved: number;
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
	/** What was addressed, normalized (protocol.ts parseTarget): a session ID, `*`, `#topic`, or `A,B`. */
	to: string;
	body: string;
	replyTo: string | null;
	/** Idempotency key; with the same (room, from, key) an earlier message is returned, nothing stored. */
	key: string | null;
	/** Who gets a delivery row. Decided by the hub (for `*`: every known session in the room but the sender). */
	recipients: string[];
	/**
	 * A topic (without `#`): the store adds every subscriber of it at commit time, except the sender, to
	 * `recipients`, in the same atomic step (so the audience is exactly who subscribed when it was stored).
	 */
	topic?: string | null;
	sentAt: number;
	/** Written by a person in the dashboard (POST /api/send); only the hub's HTTP API sets it. */
	human?: boolean;
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
	/** Only replies to this message id. */
	replyTo?: string;
	/** takePending: when the taken messages were seen (their receipts); default now. */
	seenAt?: number;
}

export interface PendingPage {
	messages: Message[];
	/** Unacked deliveries matching the query that come after this page. */
	remaining: number;
}

export interface HistoryQuery {
	/**
	 * The session asking: it sees broadcasts in its room, what it sent, and what was addressed to it (alone or
	 * in a list); topic messages of others only through `topic`.
	 */
	viewer: string;
	/** Only the direct conversation between viewer and this peer. */
	with?: string;
	/** Only this topic's log (without `#`): every message sent to it (topics are public in their room). */
	topic?: string;
	before?: number;
	after?: number;
	limit: number;
}

export interface HistoryPage {
	/** Oldest first. */
	messages: Message[];
	hasMore: boolean;
}

/** A delivery that an ack turned from unacked to seen: what the sender's receipt push needs. */
export interface SeenDelivery {
	id: string;
	seq: number;
	/** The message's sender: who gets the receipt. */
	from: string;
	seenAt: number;
}

/** One message written to these recipients' connections (one push: a live fan-out, or one of a backlog page). */
export interface PushedDelivery {
	seq: number;
	recipients: readonly string[];
	/** These are all of the message's recipients (a live fan-out that reached everyone): stored as such. */
	all?: boolean;
}

/** Where a message is for each of its recipients (sorted by recipient). */
export interface MessageReceipts {
	message: Message;
	receipts: Receipt[];
}

export interface ThreadQuery {
	/** The session asking: the page holds only what it may see (as getMessage decides). */
	viewer: string;
	/** Only messages with seq above this. */
	after?: number;
	limit: number;
}

export interface ThreadPage {
	/** The root's id. */
	thread: string;
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

/**
 * The storage itself failed: the disk is full, an I/O error, a damaged file, a read-only file, Redis
 * unreachable or out of memory. Every backend rejects with this (and not with its driver's own error) for
 * such failures; the operation was not applied, unless `maybeApplied`. `code` is the backend's own
 * (SQLITE_FULL, SQLITE_IOERR_WRITE, REDIS_UNREACHABLE, ...); the hub answers E_STORAGE and reports it in
 * /healthz.
 */
export class StorageError extends Error {
	override name = "StorageError";
	/**
	 * The operation may have been carried out although it failed: it was in flight when the connection to
	 * a storage server dropped (Redis ran it, its answer was lost). Retrying it must be safe (a send's
	 * idempotency key). SQLite's failures are never this: a transaction that fails is rolled back.
	 */
	readonly maybeApplied: boolean;
	constructor(
		readonly code: string,
		message: string,
		options?: { cause?: unknown; maybeApplied?: boolean },
	) {
		super(message, options);
		this.maybeApplied = options?.maybeApplied === true;
	}
}

export interface StorageFailure {
	/** The backend's code (StorageError.code). */
	code: string;
	message: string;
	/** Epoch ms. */
	at: number;
}

/**
 * What a store has seen of its storage: the last failure, and whether it works again since. It counts as
 * working again once a write that adds data (a message, a session) succeeds, or the operation that failed
 * does: a full disk still answers reads, and still lets an ack delete a row.
 */
export class StorageHealth {
	ok = true;
	lastError: StorageFailure | null = null;
	#failedOp: string | null = null;

	failed(op: string, err: StorageError, at = Date.now()): void {
		this.ok = false;
		this.#failedOp = op;
		this.lastError = { code: err.code, message: err.message, at };
	}

	succeeded(op: string, kind: "read" | "write" | "add"): void {
		if (this.ok || !(kind === "add" || op === this.#failedOp)) return;
		this.ok = true;
		this.#failedOp = null;
	}
}

/**
 * Which Store methods read, write, or add data (a write a full disk refuses), for guardStorage.
 * `satisfies` makes a method added to Store a compile error here until it is listed.
 */
type StorageKind = "read" | "write" | "add";

const STORAGE_METHODS = {
	getSession: "read",
	createSession: "add",
	touchSession: "write",
	listSessions: "read",
	countSessions: "read",
	forgetSession: "write",
	renameSession: "add",
	staleSessions: "read",
	append: "add",
	pending: "read",
	countPending: "read",
	takePending: "write",
	ack: "write",
	ackSeen: "write",
	markPushed: "write",
	getMessage: "read",
	receipts: "read",
	thread: "read",
	history: "read",
	oldestSeq: "read",
	prunedThrough: "read",
	takeLost: "write",
	applyRetention: "write",
	stats: "read",
} as const satisfies Record<Exclude<keyof Store, "kind" | "health" | "open" | "close" | "state" | "claims" | "topics" | "operator">, "read" | "write" | "add">;

/** STORAGE_METHODS for the sub-stores (see guardSubStore). */
export const STATE_METHODS = { get: "read", set: "add", append: "add", delete: "write", list: "read" } as const satisfies {
	readonly [K in keyof StateStore]: "read" | "write" | "add";
};
export const CLAIM_METHODS = { claim: "add", release: "write", list: "read", sweep: "write" } as const satisfies {
	readonly [K in keyof ClaimStore]: "read" | "write" | "add";
};
export const OPERATOR_METHODS = { rooms: "read", messages: "read", deliveries: "read", thread: "read", sizeBytes: "read" } as const satisfies {
	readonly [K in keyof OperatorStore]: "read" | "write" | "add";
};

/** The storage methods of the topic sub-store (store.topics), for guardSubStorePrototype. */
export const TOPIC_METHODS = {
	subscribe: "add",
	unsubscribe: "write",
	subscriptions: "read",
	subscribers: "read",
	list: "read",
	forgetSession: "write",
} as const satisfies { readonly [K in keyof TopicStore]: "read" | "write" | "add" };

/**
 * Wraps every storage method of a backend's prototype, once: a rejection that `translate` recognises as a
 * failure of the storage becomes that StorageError and is recorded in the store's `health`, and successes
 * tell `health` when the storage works again. One place per backend instead of a try/catch in each method. The call
 * itself is made synchronously, so the order of calls (which append relies on) is kept.
 */
export function guardStorage<S extends Store>(proto: S, translate: (err: unknown, store: S) => StorageError | null): void {
	for (const [name, kind] of Object.entries(STORAGE_METHODS)) {
		guardMethod(proto as unknown as Record<string, unknown>, name, kind, (self) => (self as S).health, (err, self) => translate(err, self as S));
	}
}


/**
 * The same for a sub-store (`store.state`, `store.claims`): its methods, wrapped on the instance, report to
 * the parent store's `health` and translate with the parent's function. Each sub-store's method table is
 * checked against its interface like STORAGE_METHODS, so a method added there must be listed.
 */
export function guardSubStore<T extends object>(
	sub: T,
	table: { readonly [K in keyof T]: StorageKind },
	health: StorageHealth,
	translate: (err: unknown) => StorageError | null,
): T {
	for (const [name, kind] of Object.entries(table) as [string, StorageKind][]) {
		guardMethod(sub as unknown as Record<string, unknown>, name, kind, () => health, (err) => translate(err));
	}
	return sub;
}

/**
 * guardStorage for a sub-store class whose instances carry their Store's `health` (a backend's TopicStore):
 * wraps its prototype once, like guardStorage.
 */
export function guardSubStorePrototype<S extends { readonly health: StorageHealth }>(
	proto: S,
	table: Readonly<Record<string, StorageKind>>,
	translate: (err: unknown, store: S) => StorageError | null,
): void {
	for (const [name, kind] of Object.entries(table)) {
		guardMethod(proto as unknown as Record<string, unknown>, name, kind, (self) => (self as S).health, (err, self) => translate(err, self as S));
	}
}

function guardMethod(
	target: Record<string, unknown>,
	name: string,
	kind: StorageKind,
	health: (self: unknown) => StorageHealth,
	translate: (err: unknown, self: unknown) => StorageError | null,
): void {
	const method = target[name] as ((...args: unknown[]) => Promise<unknown>) | undefined;
	if (typeof method !== "function") throw new Error(`guardStorage: the store has no ${name}`);
	target[name] = function (this: unknown, ...args: unknown[]): Promise<unknown> {
		let result: Promise<unknown>;
		try {
			result = method.apply(this, args);
		} catch (err) {
			result = Promise.reject(err);
		}
		return result.then(
			(value) => {
				health(this).succeeded(name, kind);
				return value;
			},
			(err: unknown) => {
				const storage = err instanceof StorageError ? err : translate(err, this);
				if (!storage) throw err;
				health(this).failed(name, storage);
				throw storage;
			},
		);
	};
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
	/**
	 * A session takes another ID, atomically: `from`'s record goes and `to`'s is created (named, with
	 * `from`'s firstSeen) unless it exists; `from`'s unacked deliveries and its `lost` counter become `to`'s,
	 * and `to` may read the messages those deliveries are for (getMessage). Messages keep their `from` and
	 * `to` (the log is not rewritten): history of the old ID's conversations stays under the old ID.
	 * The one place per backend where a rename touches state: whatever else is per session (subscriptions,
	 * claims) moves here too.
	 */
	renameSession(input: RenameInput): Promise<RenameOutcome>;
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
	/** Marks deliveries acked (and seen); unknown or already-acked ids are ignored. Returns how many changed. */
	ack(room: string, recipient: string, messageIds: string[]): Promise<number>;
	/**
	 * `ack`, returning the deliveries it changed, each recorded as seen at `seenAt` in the same atomic step
	 * (so a `seen` receipt is as durable as the ack).
	 */
	ackSeen(room: string, recipient: string, messageIds: string[], seenAt: number): Promise<SeenDelivery[]>;
	/**
	 * These deliveries were written to their recipients' connections at `at`: their receipts become `pushed`
	 * (never back from `seen`). Backends may keep this in memory and write it shortly after (it must never
	 * delay a push); a hub that crashes before it is written reads those receipts as `queued`.
	 */
	markPushed(room: string, pushes: readonly PushedDelivery[], at: number): Promise<void>;
	/**
	 * One message by id, if `viewer` may see it: its sender, a recipient (alone or in a list), or anyone in the
	 * room for a broadcast or a topic message.
	 */
	getMessage(room: string, messageId: string, viewer: string): Promise<Message | null>;
	/** The message and each recipient's receipt, or null if there is no such message in the room. */
	receipts(room: string, messageId: string): Promise<MessageReceipts | null>;
	/**
	 * The thread that `messageId` belongs to (root first, then replies by seq), only what `viewer` may see;
	 * null when the message is not there or not the viewer's to see. A message that is gone (retention) still
	 * names its thread when replies to it remain.
	 */
	thread(room: string, messageId: string, query: ThreadQuery): Promise<ThreadPage | null>;
	history(room: string, query: HistoryQuery): Promise<HistoryPage>;
	/** Oldest retained seq in the room, or null. */
	oldestSeq(room: string): Promise<number | null>;
	/**
	 * The highest seq retention has deleted in this room (0: it never deleted anything there). A history
	 * page or cursor at or below it reached into deleted history, which the hub reports as `truncated`.
	 */
	prunedThrough(room: string): Promise<number>;
}

/** A topic of a room: who subscribes to it, and what its log holds. */
export interface TopicRecord {
	topic: string;
	/** By session ID. */
	subscribers: { session: string; since: number }[];
	/** Messages sent to it that the log still holds. */
	messages: number;
	/** sentAt of the newest of them; null when there is none. */
	lastMessageAt: number | null;
}

export type SubscribeOutcome =
	| { status: "ok"; changed: boolean }
	/** The session already has `limit` subscriptions: nothing changed. */
	| { status: "limit"; limit: number };

/**
 * Topic subscriptions (store.topics), per room and session, durable like sessions. The audience of a topic
 * send is read by `append` itself (AppendInput.topic); this interface is the rest.
 */
export interface TopicStore {
	/** Subscribes, unless the session already holds `maxPerSession` subscriptions (checked atomically). */
	subscribe(room: string, topic: string, session: string, since: number, maxPerSession: number): Promise<SubscribeOutcome>;
	/** True if a subscription was removed. */
	unsubscribe(room: string, topic: string, session: string): Promise<boolean>;
	/** This session's topics, sorted. */
	subscriptions(room: string, session: string): Promise<string[]>;
	/** This topic's subscribers, sorted. */
	subscribers(room: string, topic: string): Promise<string[]>;
	/** Every topic of the room that has a subscriber or a message, sorted by name. */
	list(room: string): Promise<TopicRecord[]>;
	/** Drops all of a session's subscriptions (when the session is forgotten); returns how many. */
	forgetSession(room: string, session: string): Promise<number>;
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

// ----- shared state (store.state) ---------------------------------------------------------------------------

/** One key of a room's shared state, as stored: the value is JSON text (canonical: JSON.stringify's output). */
export interface StateRecord {
	room: string;
	key: string;
	valueJson: string;
	/** 1 at creation, +1 per change. */
	version: number;
	updatedBy: string;
	updatedAt: number;
	/** UTF-8 bytes of valueJson. */
	size: number;
}

export type StateInfoRecord = Omit<StateRecord, "valueJson">;

/** The hub's bounds on state, checked by the store inside the same atomic step as the write. */
export interface StateLimits {
	/** Largest value, UTF-8 bytes of its JSON (the hub's body limit). */
	maxValueBytes: number;
	/** Most keys per room. */
	maxKeys: number;
	/** Most bytes of values per room. */
	maxRoomBytes: number;
}

export interface StateSetInput {
	room: string;
	key: string;
	valueJson: string;
	/** The value's length if it is a JSON array, else -1 (Redis keeps it for appends). */
	items: number;
	/** Compare-and-set: the version the key must have (0: it must not exist). Undefined: set unconditionally. */
	expectedVersion?: number;
	updatedBy: string;
	updatedAt: number;
	limits: StateLimits;
}

export type StateSetOutcome =
	| { status: "ok"; record: StateRecord; created: boolean }
	/** Nothing changed; `current` is the key as it is (null: absent). */
	| { status: "conflict"; current: StateRecord | null }
	| { status: "limit"; reason: string }
	| { status: "too_large"; bytes: number };

export interface StateAppendInput {
	room: string;
	key: string;
	itemJson: string;
	/** Keep only the newest maxItems items after appending. */
	maxItems?: number;
	updatedBy: string;
	updatedAt: number;
	limits: StateLimits;
}

export type StateAppendOutcome =
	/** The value is not sent back (it may be large): `record` is its info. */
	| { status: "ok"; record: StateInfoRecord; created: boolean; length: number; dropped: number }
	| { status: "not_array" }
	| { status: "limit"; reason: string }
	| { status: "too_large"; bytes: number };

export interface StateDeleteInput {
	room: string;
	key: string;
	expectedVersion?: number;
	/** Who deletes, and when: for the change event. */
	updatedBy: string;
	updatedAt: number;
}

export type StateDeleteOutcome =
	| { status: "ok"; deleted: StateRecord | null }
	| { status: "conflict"; current: StateRecord | null };

export interface StateListQuery {
	/** Only keys starting with this ("" or absent: all). */
	prefix?: string;
	/** Only keys after this one (byte order), for paging. */
	after?: string;
	limit: number;
}

/**
 * A small per-room blackboard with compare-and-set. Every write is atomic and committed before it resolves;
 * bounds (value size, keys and bytes per room) are checked inside the same atomic step, so concurrent writers
 * (on several hubs, for Redis) cannot overshoot them. Keys list in byte order.
 */
export interface StateStore {
	get(room: string, key: string): Promise<StateRecord | null>;
	set(input: StateSetInput): Promise<StateSetOutcome>;
	/** Appends to the JSON array at key (missing: created as [item]). */
	append(input: StateAppendInput): Promise<StateAppendOutcome>;
	delete(input: StateDeleteInput): Promise<StateDeleteOutcome>;
	list(room: string, query: StateListQuery): Promise<{ records: StateInfoRecord[]; hasMore: boolean }>;
}

// ----- file claims (store.claims) ----------------------------------------------------------------------------

/** One claimed pattern: `session` holds `path` in `repo` (in `room`) until `expiresAt`. */
export interface ClaimRecord {
	room: string;
	repo: string;
	session: string;
	/** Canonical pattern (server/globs.ts normalizeClaimPath). */
	path: string;
	reason: string | null;
	claimedAt: number;
	expiresAt: number;
}

export interface ClaimLimits {
	/** Most live claimed patterns per session, across repositories. */
	maxPerSession: number;
	/** Most live claimed patterns per repository (all sessions). */
	maxPerRepo: number;
}

export interface ClaimInput {
	room: string;
	repo: string;
	session: string;
	/** Canonical, distinct patterns. */
	paths: string[];
	reason: string | null;
	now: number;
	expiresAt: number;
	limits: ClaimLimits;
}

export type ClaimOutcome =
	/** Every path granted (new) or renewed (already this session's): the records as they are now. */
	| { status: "granted"; claims: ClaimRecord[] }
	/** Nothing granted: the other sessions' live claims that overlap a requested path. */
	| { status: "conflict"; conflicts: ClaimRecord[] }
	| { status: "limit"; reason: string };

export interface ReleaseInput {
	room: string;
	session: string;
	/** Only in this repository; undefined: every repository. */
	repo?: string;
	/** Only these canonical patterns (as claimed); undefined: all of this session's. */
	paths?: string[];
	now: number;
}

/**
 * File claims with all-or-nothing grants: a claim is granted only if no requested pattern overlaps another
 * session's live claim in the same room and repository (server/globs.ts decides overlap), checked and written
 * in one atomic step (Redis: optimistic, on a per-repository version). A claim is live while
 * `expiresAt > now`; expired ones are ignored everywhere and removed by `sweep` (and lazily).
 */
export interface ClaimStore {
	claim(input: ClaimInput): Promise<ClaimOutcome>;
	/** Removes this session's claims (the live ones removed are returned). */
	release(input: ReleaseInput): Promise<ClaimRecord[]>;
	/** Live claims in the room, by repository, then session, then path. */
	list(room: string, query: { repo?: string; session?: string; now: number }): Promise<ClaimRecord[]>;
	/** Deletes expired claims; returns how many. */
	sweep(now: number): Promise<number>;
}

// ----- the operator's view (store.operator) ---------------------------------------------------------------

export interface RoomsQuery {
	/** Only rooms after this one (byte order): the last room of the previous page. */
	after?: string;
	limit: number;
}

export interface RoomMessagesQuery {
	/** Only messages this session sent, or that were addressed to it directly. */
	session?: string;
	/** Page backwards: only seqs below this. */
	before?: number;
	/** Page forwards: only seqs above this. */
	after?: number;
	limit: number;
}

/** One recipient of a message and whether it still owes an ack. */
export interface DeliveryState {
	session: string;
	/**
	 * False while the recipient has not acked it; true once it has (or once its session was forgotten, which
	 * drops what it owed: the store keeps what is owed, not how it ended).
	 */
	acked: boolean;
}

export interface MessageDeliveries {
	message: Message;
	/**
	 * Every recipient the message was stored for (a direct message's addressee, a list's, a broadcast's or a
	 * topic's audience at commit), in ID order (byte order of the UTF-8 form).
	 */
	recipients: DeliveryState[];
}

/** A page of a thread as the operator reads it: every message, whoever it was between. */
export interface OperatorThreadQuery {
	/** Only messages with seq above this. */
	after?: number;
	limit: number;
}

/**
 * What the hub's dashboard and JSON API read, for a person who runs the hub: every room, every message of a
 * room (direct messages between two other sessions too: the operator sees everything), and who still owes an
 * ack for a message. Read-only; each call is bounded by its `limit`.
 */
export interface OperatorStore {
	/** Rooms that have a session or a message, in byte order, after `after`, at most `limit`. */
	rooms(query: RoomsQuery): Promise<string[]>;
	/**
	 * A room's messages by seq, oldest first: `after` pages forwards, otherwise the newest `limit` below
	 * `before` (or of all). `hasMore`: more match beyond the page in the direction of paging.
	 */
	messages(room: string, query: RoomMessagesQuery): Promise<HistoryPage>;
	/** A message, whatever its room, with its recipients' delivery state; null if there is none (or it was deleted). */
	deliveries(messageId: string): Promise<MessageDeliveries | null>;
	/**
	 * MessageStore.thread without a viewer: the whole thread `messageId` belongs to (root first, then replies
	 * by seq), direct messages between others too. Null when the room has no such message and no replies name
	 * it as their thread.
	 */
	thread(room: string, messageId: string, query: OperatorThreadQuery): Promise<ThreadPage | null>;
	/**
	 * How big the storage is, in bytes: SQLite, its files (database, WAL, shared memory); Redis, the server's
	 * `used_memory` (every database and prefix on it); null where it cannot be told (memory).
	 */
	sizeBytes(): Promise<number | null>;
}

/**
 * The whole durable state of a hub. The core (sessions, messages, retention) is flat on the Store; each
 * further kind of state is a sub-store property of its own (e.g. `store.state`), with its own interface,
 * its own file per backend, and its own cases in the shared suite.
 */
export interface Store extends SessionStore, MessageStore, RetentionStore {
	/** Short name for logs and /healthz: "sqlite", "memory", ... */
	readonly kind: string;
	/** The last storage failure and whether writes work again since (see guardStorage). */
	readonly health: StorageHealth;
	/** Shared state with compare-and-set (state_* requests). */
	readonly state: StateStore;
	/** File claims (claim, release, claims requests). */
	readonly claims: ClaimStore;
	/** Topic subscriptions (subscribe, unsubscribe, topics requests). */
	readonly topics: TopicStore;
	/** The operator's read-only view: rooms, every message of a room, delivery state (the dashboard, /api). */
	readonly operator: OperatorStore;
	/** Opens files, runs migrations. Called once before anything else. */
	open(): Promise<void>;
	/** Flushes and closes. Safe to call twice. */
	close(): Promise<void>;
	stats(): Promise<StoreStats>;
}
