/**
 * The default Store: one SQLite file through better-sqlite3 (synchronous calls, microseconds each).
 *
 * Durability: WAL with synchronous=NORMAL. A commit is in the WAL before `append` resolves, so it survives
 * the hub process crashing or being SIGKILLed, which is what the hub promises. It may not survive a power
 * loss or OS crash (the last transactions can roll back); `synchronous: "full"` fsyncs the WAL on every
 * commit and survives that too, at a large cost in throughput.
 *
 * Latency and throughput: `append` uses group commit behind a write-ahead journal (sqlite-journal.ts).
 * Appends issued together (the frames of one socket read) are queued and, in a microtask, handled in ONE
 * batch inside an open write transaction: seqs assigned, idempotency keys looked up, and the batch's records
 * appended to the journal with one write(2). Each promise settles after that write, which makes the messages
 * as durable as a WAL commit at synchronous=NORMAL (they survive the process, not a power loss). Their rows
 * are inserted into the open transaction on the next turn, after the pushes and answers have been written
 * (the inserts, two B-trees or more per message, were a third of a send's time on the hub's VM); the transaction is
 * committed COMMIT_DELAY_MS later, with every batch since, so a SQLite commit (80-150 us) is not between a
 * send and its push either, and one commit covers many turns. Recovery at open inserts again what the
 * journal holds past the database's last seq. Every other operation first flushes the queue, inserts what
 * waits and commits, synchronously, so it sees every append made before it and writes in its own
 * transaction (except while the WAL is over its ceiling, below: then appends wait, and are not yet visible).
 *
 * The WAL file: a worker thread checkpoints it off the event loop, rewinds it once it is past
 * `walMaxBytes`, and truncates it to zero when the hub is idle (see startCheckpointer). If the writer
 * still outruns the checkpointer (a slow disk), appends wait once the file reaches twice `walMaxBytes`
 * until the worker has truncated it: they are delayed, never refused, and the event loop never blocks.
 * (Unless another process's open read transaction keeps the worker from truncating: then they go on.)
 */
import { closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { DEFAULTS } from "../defaults.js";
import { type Message, type SessionMeta, TOPIC_PREFIX } from "../protocol.js";
import { newMessageId, seqOfMessageId, uniqueRecipients } from "./ids.js";
import { DamagedDatabaseError, integrityProblems, isCorruption } from "./integrity.js";
import { migrate } from "./migrations.js";
import { SqliteClaimStore } from "./sqlite-claims.js";
import { AppendJournal, type JournalRecord } from "./sqlite-journal.js";
import { SqliteOperatorStore } from "./sqlite-operator.js";
import { MESSAGE, type MessageRow, toMessage } from "./sqlite-rows.js";
import { SqliteStateStore } from "./sqlite-state.js";
import { PushedBuffer, type PushedMark, receiptOf } from "./receipts.js";
import { SqliteTopicStore } from "./sqlite-topics.js";
import {
	type AppendInput,
	type AppendResult,
	type ForgetOptions,
	type ForgetResult,
	CLAIM_METHODS,
	guardStorage,
	OPERATOR_METHODS,
	guardSubStore,
	STATE_METHODS,
	type HistoryPage,
	type HistoryQuery,
	type MessageReceipts,
	type PendingPage,
	type PendingQuery,
	type PushedDelivery,
	type RenameInput,
	type RenameOutcome,
	type RetentionPolicy,
	type RetentionResult,
	type SeenDelivery,
	type SessionPageQuery,
	type SessionRecord,
	type StaleQuery,
	type StaleSession,
	StorageError,
	StorageHealth,
	type Store,
	type StoreStats,
	type ThreadPage,
	type ThreadQuery,
} from "./store.js";

export interface SqliteStoreOptions {
	file: string;
	/** "normal" (default): survives a process crash. "full": also survives power loss; much slower. */
	synchronous?: "normal" | "full";
	/** The WAL is rewound once past this many bytes, and appends wait at twice it (DEFAULTS.walMaxBytes). */
	walMaxBytes?: number;
}

/** How long a statement waits for another process's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/** The smallest WAL bound accepted: below it the hub would spend its time checkpointing. */
export const MIN_WAL_MAX_BYTES = 1024 * 1024;

/** How often the checkpointer looks at the WAL. */
const CHECKPOINT_EVERY_MS = 100;

/**
 * Appends and bodies written in one group-commit transaction, at most; the rest of the queue goes in the
 * next. Bounds what one batch adds to the WAL, so that the ceiling checked before each batch holds: 1,000
 * appends dirty at most ~1,000 pages of the (random) idempotency-key index plus their rows, ~6 MiB; 4 MiB
 * of bodies is ~4.5 MiB of pages. One event-loop turn at full speed brings a few hundred appends, so
 * throughput does not change.
 */
const MAX_BATCH_APPENDS = 1000;
const MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024;

/**
 * How long appends stay in the open transaction (durable in the journal) before it is committed. Longer
 * makes commits rarer (each costs about as much as a single-message commit) and holds SQLite's write lock
 * longer; another process's writer waits for it (busy timeout).
 */
const COMMIT_DELAY_MS = 5;

/** The journal is emptied after a commit once it holds this much (what recovery reads is at most about this). */
const JOURNAL_RESET_BYTES = 1024 * 1024;

/** While appends wait for the checkpointer to truncate the WAL, how often they look again. */
const WAL_WAIT_MS = 5;

/** Whether `@viewer` is the addressee of m, alone or in a list (`a,b`: names hold no commas). */
const ADDRESSED = "instr(',' || m.recipient || ',', ',' || @viewer || ',') > 0";
/** A topic message (recipient '#name'): the term of the partial index messages_topic, repeated so it is used. */
const IS_TOPIC = "m.recipient GLOB '#*'";
/** Who may read m (getMessage, thread): broadcasts and topic messages are public in the room. */
const VISIBLE = `(m.recipient = '*' OR ${IS_TOPIC} OR m.sender = @viewer OR ${ADDRESSED})`;

interface SessionRow {
	room: string;
	session: string;
	secretHash: string;
	meta: string;
	firstSeen: number;
	lastSeen: number;
	ephemeral: number;
}

const SESSION = `room, session, secret_hash AS secretHash, meta, first_seen AS firstSeen, last_seen AS lastSeen, ephemeral`;

interface PendingParams {
	room: string;
	recipient: string;
	afterSeq: number;
	from: string | null;
	replyTo: string | null;
	limit: number;
}

interface HistoryParams {
	room: string;
	viewer: string;
	with: string | null;
	/** `#name`, for a topic's log. */
	topic: string | null;
	after: number;
	before: number;
	limit: number;
}

interface StaleRow {
	room: string;
	session: string;
	ephemeral: number;
	lastSeen: number;
}

interface ThreadParams {
	room: string;
	viewer: string;
	root: string;
	rootSeq: number;
	after: number;
	limit: number;
}

interface LostRow {
	room: string;
	session: string;
	n: number;
}

/** Push rows written per statement by a flush of the pushed marks. */
const PUSH_ROWS = 32;

/**
 * Message rows (and pending rows) written per statement when a batch of appends goes in: SQLite's cost per
 * statement (binding, stepping, resetting) is paid once for 16 rows. Measured by `npm run bench --
 * instructions` (so not moved by the VM's noise): SQLite's part of an append 42k → 24k instructions, the
 * whole append 124-129k → 99-103k.
 */
const INSERT_ROWS = 16;

/** Every statement, prepared once per connection. */
function prepareStatements(db: Database.Database) {
	// Later rows of one statement see earlier ones, so two pushes of one message at one time merge here too.
	const pushRows = (n: number) =>
		db.prepare<unknown[]>(
			`INSERT INTO receipt_pushes (seq, at, recipients) VALUES ${Array.from({ length: n }, () => "(?, ?, ?)").join(", ")}
			 ON CONFLICT (seq, at) DO UPDATE SET recipients = recipients || ',' || excluded.recipients`,
		);
	const values = (n: number, row: string) => Array.from({ length: n }, () => row).join(", ");
	const insertMessages = (n: number) =>
		db.prepare<unknown[]>(
			`INSERT INTO messages (seq, id, room, sender, recipient, body, reply_to, idem_key, sent_at, recipients, thread, human)
			 VALUES ${values(n, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")}`,
		);
	const insertPending = (n: number) => db.prepare<unknown[]>(`INSERT INTO pending (room, recipient, seq) VALUES ${values(n, "(?, ?, ?)")}`);
	const pendingWhere = `p.room = @room AND p.recipient = @recipient AND p.seq > @afterSeq
		AND (@from IS NULL OR m.sender = @from) AND (@replyTo IS NULL OR m.reply_to = @replyTo)`;
	const inRange = "m.seq > @after AND m.seq < @before";
	// A room's history walks (room, seq) and filters: broadcasts are most of what a room holds.
	const roomHistory = (order: "ASC" | "DESC") =>
		db.prepare<HistoryParams, MessageRow>(
			`SELECT ${MESSAGE} FROM messages m
			 WHERE m.room = @room AND ${inRange}
			   AND (m.recipient = '*' OR m.sender = @viewer OR ${ADDRESSED})
			 ORDER BY m.seq ${order} LIMIT @limit`,
		);
	// A topic's log walks the partial index messages_topic.
	const topicHistory = (order: "ASC" | "DESC") =>
		db.prepare<HistoryParams, MessageRow>(
			`SELECT ${MESSAGE} FROM messages m
			 WHERE m.room = @room AND m.recipient = @topic AND ${IS_TOPIC} AND ${inRange}
			 ORDER BY m.seq ${order} LIMIT @limit`,
		);
	// A conversation is two (room, sender, recipient, seq) ranges, one per direction, each cut at `limit`
	// and merged; written out so SQLite cannot choose to scan the whole room instead.
	const pairHistory = (order: "ASC" | "DESC") => {
		const direction = (sender: string, recipient: string) =>
			`SELECT * FROM (SELECT ${MESSAGE} FROM messages m
			 WHERE m.room = @room AND m.sender = ${sender} AND m.recipient = ${recipient} AND ${inRange}
			 ORDER BY m.seq ${order} LIMIT @limit)`;
		return db.prepare<HistoryParams, MessageRow>(
			`${direction("@viewer", "@with")} UNION ALL ${direction("@with", "@viewer")} ORDER BY seq ${order} LIMIT @limit`,
		);
	};

	return {
		// The open write transaction of appends (see the header).
		begin: db.prepare("BEGIN IMMEDIATE"),
		commit: db.prepare("COMMIT"),
		rollback: db.prepare("ROLLBACK"),
		insertMessageExact: insertMessages(1),
		// The same, INSERT_ROWS rows per statement (a batch of appends; see INSERT_ROWS).
		insertMessagesMany: insertMessages(INSERT_ROWS),
		getSession: db.prepare<[string, string], SessionRow>(`SELECT ${SESSION} FROM sessions WHERE room = ? AND session = ?`),
		insertSession: db.prepare<[string, string, string, string, number, number, number]>(
			`INSERT INTO sessions (room, session, secret_hash, meta, first_seen, last_seen, ephemeral) VALUES (?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT DO NOTHING`,
		),
		touchSession: db.prepare<[string, number, string, string]>(
			"UPDATE sessions SET meta = ?, last_seen = ? WHERE room = ? AND session = ?",
		),
		// A page walks the primary key (room, session) from the cursor; a negative limit is no limit.
		listSessions: db.prepare<{ room: string; after: string | null; limit: number }, SessionRow>(
			`SELECT ${SESSION} FROM sessions WHERE room = @room AND (@after IS NULL OR session > @after)
			 ORDER BY session LIMIT @limit`,
		),
		countSessions: db.prepare<[string], number>("SELECT count(*) FROM sessions WHERE room = ?").pluck(),
		lastSeenOf: db.prepare<[string, string], number>("SELECT last_seen FROM sessions WHERE room = ? AND session = ?").pluck(),
		deleteSession: db.prepare<[string, string]>("DELETE FROM sessions WHERE room = ? AND session = ?"),
		deletePendingOf: db.prepare<[string, string]>("DELETE FROM pending WHERE room = ? AND recipient = ?"),
		deleteLost: db.prepare<[string, string]>("DELETE FROM lost WHERE room = ? AND session = ?"),
		// rename: the messages of the moving deliveries list the new ID among their readers (getMessage); for a
		// direct message `recipients` is otherwise NULL (its reader is `recipient`).
		addReader: db.prepare<{ room: string; from: string; to: string }>(
			`UPDATE messages SET recipients = json_insert(coalesce(recipients, '[]'), '$[#]', @to)
			 WHERE seq IN (SELECT seq FROM pending WHERE room = @room AND recipient = @from)`,
		),
		movePending: db.prepare<{ room: string; from: string; to: string }>(
			"INSERT OR IGNORE INTO pending (room, recipient, seq) SELECT room, @to, seq FROM pending WHERE room = @room AND recipient = @from",
		),
		moveLost: db.prepare<{ room: string; from: string; to: string }>(
			`INSERT INTO lost (room, session, count) SELECT room, @to, count FROM lost WHERE room = @room AND session = @from AND true
			 ON CONFLICT (room, session) DO UPDATE SET count = count + excluded.count`,
		),
		renamedRecord: db.prepare<{ room: string; to: string; meta: string; now: number }>(
			"UPDATE sessions SET meta = @meta, last_seen = @now, ephemeral = 0 WHERE room = @room AND session = @to",
		),
		// Each kind is one range of the sessions_stale index.
		staleSessions: db.prepare<{ named: number | null; ephemeral: number | null; limit: number }, StaleRow>(
			`SELECT * FROM (SELECT room, session, ephemeral, last_seen AS lastSeen FROM sessions
			                WHERE ephemeral = 0 AND @named IS NOT NULL AND last_seen < @named ORDER BY last_seen LIMIT @limit)
			 UNION ALL
			 SELECT * FROM (SELECT room, session, ephemeral, last_seen AS lastSeen FROM sessions
			                WHERE ephemeral = 1 AND @ephemeral IS NOT NULL AND last_seen < @ephemeral ORDER BY last_seen LIMIT @limit)
			 LIMIT @limit`,
		),

		// The highest seq ever used, even a deleted one: the newest row, or retention's floor past it.
		lastSeq: db
			.prepare<[], number>("SELECT max(coalesce((SELECT max(seq) FROM messages), 0), coalesce((SELECT seq FROM seq_floor), 0))")
			.pluck(),
		raiseSeqFloor: db.prepare<[number]>("UPDATE seq_floor SET seq = max(seq, ?)"),
		// A sender's greatest idempotency key (by bytes), from the end of the messages_idem index.
		maxKey: db
			.prepare<[string, string], string | null>("SELECT max(idem_key) FROM messages WHERE room = ? AND sender = ? AND idem_key IS NOT NULL")
			.pluck(),
		// Changes when another connection (another hub on this file) commits: see SqliteStore.maxKeys.
		dataVersion: db.prepare<[], number>("PRAGMA data_version").pluck(),
		byKey: db.prepare<[string, string, string], MessageRow>(
			`SELECT ${MESSAGE} FROM messages m WHERE m.room = ? AND m.sender = ? AND m.idem_key = ?`,
		),
		// The recipients stored with a broadcast, topic or list send (JSON); null for a direct message.
		recipientsOf: db.prepare<[number], string | null>("SELECT recipients FROM messages WHERE seq = ?").pluck(),
		// A reply's parent, by its primary key (ids are m-<seq>-<tail>): the parent's thread is the reply's.
		parentThread: db
			.prepare<[number, string, string], string>("SELECT coalesce(thread, id) FROM messages WHERE seq = ? AND id = ? AND room = ?")
			.pluck(),
		insertPending: insertPending(1),
		insertPendingMany: insertPending(INSERT_ROWS),

		pendingPage: db.prepare<PendingParams, MessageRow>(
			`SELECT ${MESSAGE} FROM pending p JOIN messages m ON m.seq = p.seq
			 WHERE ${pendingWhere} ORDER BY p.seq LIMIT @limit`,
		),
		pendingCount: db
			.prepare<Omit<PendingParams, "limit">, number>(
				`SELECT count(*) FROM pending p JOIN messages m ON m.seq = p.seq WHERE ${pendingWhere}`,
			)
			.pluck(),
		// Whether anything waits after a seq: a page query costs ~18 µs even when it finds nothing (better-sqlite3
		// builds its ten column names per call), and every hello's catch-up of an empty inbox paid it.
		anyPending: db
			.prepare<[string, string, number], number>("SELECT 1 FROM pending WHERE room = ? AND recipient = ? AND seq > ? LIMIT 1")
			.pluck(),
		countPending: db
			.prepare<[string, string], number>(
				"SELECT count(*) FROM pending WHERE room = ? AND recipient = ?",
			)
			.pluck(),
		// Acking deletes the pending row: delivery state is only what is still owed.
		ackSeq: db.prepare<[string, string, number]>("DELETE FROM pending WHERE room = ? AND recipient = ? AND seq = ?"),
		// By seq (the key, parsed from the id), then the id must match exactly: ids are not indexed.
		ackId: db.prepare<{ seq: number; id: string; room: string; recipient: string }>(
			`DELETE FROM pending WHERE room = @room AND recipient = @recipient AND seq = @seq
			   AND (SELECT id FROM messages WHERE seq = @seq) = @id`,
		),
		senderOf: db.prepare<[number], string>("SELECT sender FROM messages WHERE seq = ?").pluck(),
		// Seen is written with the ack that makes it so.
		markSeen: db.prepare<[number, string, number]>("INSERT OR IGNORE INTO receipt_seen (seq, recipient, at) VALUES (?, ?, ?)"),
		// A batch of pushes, one row per message and time. Every mark names a message that existed when it was
		// pushed, and retention writes the waiting marks before it deletes (applyRetention), so no row outlives
		// its message and none needs checking here.
		markPushed: pushRows(1),
		// The same, PUSH_ROWS rows per statement: one call into SQLite instead of PUSH_ROWS.
		markPushedMany: pushRows(PUSH_ROWS),
		pushesOf: db.prepare<[number], { at: number; recipients: string }>("SELECT at, recipients FROM receipt_pushes WHERE seq = ? ORDER BY at"),
		seenOf: db.prepare<[number], { recipient: string; at: number }>("SELECT recipient, at FROM receipt_seen WHERE seq = ?"),
		messageInRoom: db.prepare<{ seq: number; id: string; room: string }, MessageRow & { recipients: string | null }>(
			`SELECT ${MESSAGE}, m.recipients FROM messages m WHERE m.seq = @seq AND m.id = @id AND m.room = @room`,
		),
		// The root (by id) and its replies (messages_thread), each branch cut at the page, merged by seq.
		threadPage: db.prepare<ThreadParams, MessageRow>(
			`SELECT * FROM (SELECT ${MESSAGE} FROM messages m
			   WHERE m.seq = @rootSeq AND m.id = @root AND m.room = @room AND m.seq > @after AND ${VISIBLE})
			 UNION ALL
			 SELECT * FROM (SELECT ${MESSAGE} FROM messages m
			   WHERE m.room = @room AND m.thread = @root AND m.seq > @after AND ${VISIBLE}
			   ORDER BY m.seq LIMIT @limit)
			 ORDER BY seq LIMIT @limit`,
		),

		// A session sees broadcasts and the direct messages it sent or was sent: every message it was a
		// recipient of, and everything history shows it.
		getMessage: db.prepare<{ seq: number; id: string; room: string; viewer: string }, MessageRow>(
			`SELECT ${MESSAGE} FROM messages m WHERE m.seq = @seq AND m.id = @id AND m.room = @room
			 AND (${VISIBLE} OR (m.recipients IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(m.recipients) WHERE value = @viewer)))`,
		),
		historyRoomAsc: roomHistory("ASC"),
		historyRoomDesc: roomHistory("DESC"),
		historyTopicAsc: topicHistory("ASC"),
		historyTopicDesc: topicHistory("DESC"),
		historyPairAsc: pairHistory("ASC"),
		historyPairDesc: pairHistory("DESC"),
		oldestSeq: db.prepare<[string], number | null>("SELECT min(seq) FROM messages WHERE room = ?").pluck(),
		prunedThrough: db.prepare<[string], number>("SELECT through FROM pruned WHERE room = ?").pluck(),
		raisePruned: db.prepare<[string, number]>(
			`INSERT INTO pruned (room, through) VALUES (?, ?)
			 ON CONFLICT (room) DO UPDATE SET through = max(through, excluded.through)`,
		),
		prunedByAge: db.prepare<[number], { room: string; through: number }>(
			"SELECT room, max(seq) AS through FROM messages WHERE sent_at < ? GROUP BY room",
		),

		peekLost: db.prepare<[string, string], number>("SELECT count FROM lost WHERE room = ? AND session = ?").pluck(),
		takeLost: db.prepare<[string, string], number>(
			"DELETE FROM lost WHERE room = ? AND session = ? RETURNING count",
		).pluck(),
		addLost: db.prepare<[string, string, number]>(
			`INSERT INTO lost (room, session, count) VALUES (?, ?, ?)
			 ON CONFLICT (room, session) DO UPDATE SET count = count + excluded.count`,
		),
		// Pending rows are only the unacked deliveries, few next to messages: retention scans them rather than
		// give every append one more index (on seq) to write.
		lostByAge: db.prepare<[number], LostRow>(
			`SELECT p.room, p.recipient AS session, count(*) AS n FROM pending p JOIN messages m ON m.seq = p.seq
			 WHERE m.sent_at < ? GROUP BY p.room, p.recipient`,
		),
		deletePendingByAge: db.prepare<[number]>(
			"DELETE FROM pending WHERE seq IN (SELECT seq FROM messages WHERE sent_at < ?)",
		),
		deletePushesByAge: db.prepare<[number]>(
			"DELETE FROM receipt_pushes WHERE seq IN (SELECT seq FROM messages WHERE sent_at < ?)",
		),
		deleteSeenByAge: db.prepare<[number]>("DELETE FROM receipt_seen WHERE seq IN (SELECT seq FROM messages WHERE sent_at < ?)"),
		deleteByAge: db.prepare<[number]>("DELETE FROM messages WHERE sent_at < ?"),
		// Distinct rooms by skipping through the (room, seq) index instead of reading every row.
		rooms: db
			.prepare<[], string>(
				`WITH RECURSIVE r(room) AS (
				   SELECT min(room) FROM messages
				   UNION ALL SELECT (SELECT min(room) FROM messages WHERE room > r.room) FROM r WHERE r.room IS NOT NULL)
				 SELECT room FROM r WHERE room IS NOT NULL`,
			)
			.pluck(),
		// The newest seq past the first `offset` newest ones: everything at or below it goes.
		capSeq: db
			.prepare<[string, number], number>("SELECT seq FROM messages WHERE room = ? ORDER BY seq DESC LIMIT 1 OFFSET ?")
			.pluck(),
		lostBelow: db.prepare<[string, number], LostRow>(
			"SELECT room, recipient AS session, count(*) AS n FROM pending WHERE room = ? AND seq <= ? GROUP BY recipient",
		),
		deletePendingBelow: db.prepare<[string, number]>("DELETE FROM pending WHERE room = ? AND seq <= ?"),
		deletePushesBelow: db.prepare<[string, number]>(
			"DELETE FROM receipt_pushes WHERE seq IN (SELECT seq FROM messages WHERE room = ? AND seq <= ?)",
		),
		deleteSeenBelow: db.prepare<[string, number]>(
			"DELETE FROM receipt_seen WHERE seq IN (SELECT seq FROM messages WHERE room = ? AND seq <= ?)",
		),
		deleteBelow: db.prepare<[string, number]>("DELETE FROM messages WHERE room = ? AND seq <= ?"),

		stats: db.prepare<[], StoreStats>(
			`SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM sessions) AS sessions,
			        (SELECT count(*) FROM pending) AS pendingDeliveries`,
		),
	};
}

type Statements = ReturnType<typeof prepareStatements>;

interface Connection {
	db: Database.Database;
	st: Statements;
}

interface QueuedAppend {
	input: AppendInput;
	resolve: (result: AppendResult) => void;
	reject: (err: unknown) => void;
}

/** A batch's new record, with the message as it is answered and pushed. */
type Fresh = JournalRecord & { message: Message };

/** SqliteStore.maxKeys: senders remembered at most (a new transaction past it starts again from none). */
const MAX_KEY_SENDERS = 100_000;
/** Keys whose JS string order is SQLite's byte order (printable ASCII; any other key is always looked up). */
const ASCII = /^[ -~]*$/;

/** The map key of an idempotency key within a batch: names hold no NUL. */
const keyOf = (room: string, from: string, key: string) => `${room}\0${from}\0${key}`;

const toSession = (row: SessionRow): SessionRecord => ({ ...row, meta: JSON.parse(row.meta) as SessionMeta, ephemeral: row.ephemeral === 1 });

export class SqliteStore implements Store {
	readonly kind = "sqlite";
	readonly health = new StorageHealth();
	/** On this connection, after the queued appends (ready() flushes them): ordered with messages. */
	readonly state = guardSubStore(new SqliteStateStore(() => this.ready().db), STATE_METHODS, this.health, sqliteStorageError);
	readonly claims = guardSubStore(new SqliteClaimStore(() => this.ready().db), CLAIM_METHODS, this.health, sqliteStorageError);
	readonly operator = guardSubStore(
		new SqliteOperatorStore(() => this.ready().db, () => this.options.file),
		OPERATOR_METHODS,
		this.health,
		sqliteStorageError,
	);

	private conn: Connection | null = null;
	private checkpointer: Worker | null = null;
	private closed = false;
	private queue: QueuedAppend[] = [];
	/**
	 * A flush is queued as a microtask: it runs once the frames of the socket read being handled have all been
	 * appended (ws handles them in one go), not a turn of the event loop later (setImmediate: 15 µs of a
	 * send's way to its push on the hub's VM). Several connections' reads in one turn make several batches.
	 */
	private flushQueued = false;
	/** The write-ahead journal of appends (sqlite-journal.ts). */
	private journal: AppendJournal | null = null;
	/**
	 * The open write transaction of appends, while there is one: the records it holds (answered, in the
	 * journal, not yet committed: kept to insert them again should SQLite roll the transaction back), their
	 * body bytes, and the next seq to assign.
	 */
	private uncommitted: { records: JournalRecord[]; bytes: number; next: number } | null = null;
	/**
	 * The last batch's records, journaled and answered, whose rows are not inserted yet (they are also in
	 * `uncommitted.records`): inserted on the next turn, or first thing by the next batch or operation.
	 */
	private unapplied: JournalRecord[] = [];
	/**
	 * Per sender (room NUL sender), a key at least as great as every printable-ASCII idempotency key it has
	 * stored. Keys are UUIDv7s (newIdempotencyKey): a new one is greater than all before it, so it cannot be a
	 * retry, and its lookup in the index (10–20 µs on a cold path) is skipped; a retry, or a key out of order,
	 * is looked up as before. For printable ASCII, JS string order is SQLite's byte order, so the database's
	 * max() is a sound start. Emptied whenever another connection has committed (another hub on this file
	 * may have stored keys of the same sender) or another store's journal records were inserted, and past
	 * MAX_KEY_SENDERS entries.
	 */
	private readonly maxKeys = new Map<string, string>();
	private dataVersion = -1;
	private applyTimer: NodeJS.Immediate | null = null;
	/** Session touches waiting for this turn's write (touchSession), one per session. */
	private readonly touches = new Map<
		string,
		{
			room: string;
			session: string;
			meta: SessionMeta;
			lastSeen: number;
			waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
		}
	>();
	private touchTimer: NodeJS.Immediate | null = null;
	/**
	 * Sessions created this turn, in call order, waiting for one transaction (createSession): at most one per
	 * connection with a hello in flight. `firstCreates` is the first of each ID, which the insert will keep.
	 */
	private creates: Array<{ record: SessionRecord; resolve: (created: boolean) => void; reject: (err: unknown) => void }> = [];
	private readonly firstCreates = new Map<string, SessionRecord>();
	private createTimer: NodeJS.Immediate | null = null;
	private commitTimer: NodeJS.Timeout | null = null;
	/** Set while appends wait for the WAL to come back under its ceiling. */
	private walWait: NodeJS.Timeout | null = null;
	/**
	 * The checkpointer could not truncate the WAL: another process holds a read transaction on it, which
	 * SQLite cannot rewind past. Appends then go on over the ceiling rather than wait for that process.
	 */
	private walBlocked = false;
	private readonly walMaxBytes: number;
	/** `pushed` marks waiting to be written (receipts.ts): a push never waits for a commit of its own. */
	private readonly pushed = new PushedBuffer(
		(marks) => this.writePushed(marks),
		(err) => {
			const storage = err instanceof StorageError ? err : sqliteStorageError(err);
			if (storage) this.health.failed("markPushed", storage);
		},
	);
	readonly topics = new SqliteTopicStore(() => this.ready(), this.health);

	constructor(private readonly options: SqliteStoreOptions) {
		this.walMaxBytes = options.walMaxBytes ?? DEFAULTS.walMaxBytes;
		if (!Number.isSafeInteger(this.walMaxBytes) || this.walMaxBytes < MIN_WAL_MAX_BYTES) {
			throw new RangeError(`walMaxBytes must be an integer of at least ${MIN_WAL_MAX_BYTES}; got ${this.walMaxBytes}`);
		}
	}

	async open(): Promise<void> {
		if (this.closed) throw new Error("store is closed");
		if (this.conn) return;
		const { file } = this.options;
		mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
		// Messages are private: create the file 0600 ourselves (SQLite would use 0644); the -wal and -shm
		// files SQLite creates next to it copy its mode.
		if (!existsSync(file)) closeSync(openSync(file, "a", 0o600));
		const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
		try {
			// Before anything writes to it: a damaged file is refused with what to do (see integrity.ts).
			const problems = integrityProblems(db, false);
			if (problems.length > 0) throw new DamagedDatabaseError(file, problems);
			const mode = db.pragma("journal_mode = WAL", { simple: true });
			if (mode !== "wal") throw new Error(`cannot use WAL journal mode on ${file} (got ${String(mode)})`);
			db.pragma(`synchronous = ${this.options.synchronous === "full" ? "FULL" : "NORMAL"}`);
			db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
			// Checkpoints copy the WAL into the database and fsync both: milliseconds that would stall every
			// connection if the committing thread ran them (SQLite's default, every 1000 pages). A worker thread
			// with its own connection runs them instead, off the event loop.
			db.pragma("wal_autocheckpoint = 0");
			// When this connection restarts the WAL from its start (after the checkpointer rewound it), its next
			// commit also cuts the file back to the bound.
			db.pragma(`journal_size_limit = ${this.walMaxBytes}`);
			this.checkpointer = startCheckpointer(file, CHECKPOINT_EVERY_MS, this.walMaxBytes, (blocked) => {
				this.walBlocked = blocked;
			});
			// If the worker dies, nothing would checkpoint and the WAL would grow without bound: hand the
			// job back to SQLite's own autocheckpoint on the committing connection.
			this.checkpointer.once("error", () => {
				this.checkpointer = null;
				if (this.conn) this.conn.db.pragma("wal_autocheckpoint = 1000");
			});
			migrate(db);
			const st = prepareStatements(db);
			this.journal = new AppendJournal(`${file}-appends`, this.options.synchronous === "full");
			this.recover(db, st, this.journal);
			this.conn = { db, st };
			this.topics.attach(db);
		} catch (err) {
			this.journal?.close();
			this.journal = null;
			db.close();
			await this.checkpointer?.terminate();
			this.checkpointer = null;
			throw isCorruption(err) ? new DamagedDatabaseError(file, [(err as Error).message]) : err;
		}
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		const conn = this.conn;
		if (!conn) return;
		if (this.walWait) clearTimeout(this.walWait);
		this.flush(true);
		this.writeCreates();
		this.writeTouches();
		let committed = true;
		try {
			this.commitOpen();
			await this.pushed.close();
			this.commitOpen();
		} catch (err) {
			// The journal keeps what could not be committed: the next open inserts it. Closing goes on.
			committed = false;
			const storage = err instanceof StorageError ? err : sqliteStorageError(err);
			if (storage) this.health.failed("close", storage);
		}
		// Everything in the journal is committed now.
		if (committed) this.journal?.reset();
		this.journal?.close();
		this.journal = null;
		this.conn = null;
		await this.checkpointer?.terminate();
		// Cheap, and what SQLite recommends before closing a long-lived connection.
		conn.db.pragma("optimize");
		conn.db.close();
	}

	async getSession(room: string, session: string): Promise<SessionRecord | null> {
		// Does not write the turn's creates first (ready's default): reads through them instead, so that the
		// hellos of one turn share one commit. A stored row wins; else the first create of the ID, which will.
		const row = this.ready({ keepCreates: true }).st.getSession.get(room, session);
		if (row) return toSession(row);
		const queued = this.firstCreates.get(`${room}\0${session}`);
		return queued ? { ...queued, meta: { ...queued.meta } } : null;
	}

	/**
	 * Queued, and written with every create of the turn in one transaction (on setImmediate, or first thing
	 * when any operation but getSession comes); resolves once committed, with whether this call created the
	 * row (the first of an ID wins, as it would one by one). Why: each was a commit of its own, about 40 µs
	 * warm and 65 cold of a new session's hello here, and a restarted or new hub takes hundreds a second.
	 */
	createSession(record: SessionRecord): Promise<boolean> {
		if (!this.conn) return Promise.reject(new Error(this.closed ? "store is closed" : "store is not open"));
		return new Promise((resolve, reject) => {
			this.creates.push({ record, resolve, reject });
			const key = `${record.room}\0${record.session}`;
			if (!this.firstCreates.has(key)) this.firstCreates.set(key, record);
			this.createTimer ??= setImmediate(() => this.writeCreates());
		});
	}

	/** Inserts the queued creates in one transaction and settles their promises. */
	private writeCreates(): void {
		if (this.createTimer) clearImmediate(this.createTimer);
		this.createTimer = null;
		if (this.creates.length === 0 || !this.conn) return;
		const creates = this.creates;
		this.creates = [];
		this.firstCreates.clear();
		let created: boolean[];
		try {
			// Commits the appends' open transaction first (ready), so that a create is committed when it resolves.
			const { db, st } = this.ready();
			created = db
				.transaction(() =>
					creates.map(
						({ record: r }) =>
							st.insertSession.run(r.room, r.session, r.secretHash, JSON.stringify(r.meta), r.firstSeen, r.lastSeen, r.ephemeral ? 1 : 0)
								.changes === 1,
					),
				)
				.immediate();
		} catch (err) {
			for (const c of creates) c.reject(err);
			return;
		}
		for (const [i, c] of creates.entries()) c.resolve(created[i] === true);
	}

	/**
	 * Queued, and written with every other touch of the turn in one transaction (on setImmediate), or first
	 * thing when any other operation comes (ready): so reads always see it. Why: a touch is a write of its own
	 * otherwise, a WAL commit each, and 5,000 connections closing at once (a network blip) made 5,000 commits
	 * in one poll phase: 300 ms of blocked event loop, 81% of it these commits (profiled). Touches of one
	 * session in one turn are one row write (the last wins, as it would in order): the queue holds at most
	 * one entry per session.
	 */
	touchSession(
		room: string,
		session: string,
		meta: SessionMeta,
		lastSeen: number,
	): Promise<void> {
		if (!this.conn)
			return Promise.reject(
				new Error(this.closed ? "store is closed" : "store is not open"),
			);
		return new Promise((resolve, reject) => {
			const key = `${room}\0${session}`;
			const queued = this.touches.get(key);
			if (queued) {
				queued.meta = meta;
				queued.lastSeen = lastSeen;
				queued.waiters.push({ resolve, reject });
			} else
				this.touches.set(key, {
					room,
					session,
					meta,
					lastSeen,
					waiters: [{ resolve, reject }],
				});
			this.touchTimer ??= setImmediate(() => this.writeTouches());
		});
	}

	/** Writes the queued touches in one transaction and settles their promises. */
	private writeTouches(): void {
		if (this.touchTimer) clearImmediate(this.touchTimer);
		this.touchTimer = null;
		if (this.touches.size === 0 || !this.conn) return;
		const touches = [...this.touches.values()];
		this.touches.clear();
		try {
			// Commits the appends' open transaction first (ready), so that a touch is committed when it resolves.
			const { db, st } = this.ready();
			db.transaction(() => {
				for (const t of touches)
					st.touchSession.run(
						JSON.stringify(t.meta),
						t.lastSeen,
						t.room,
						t.session,
					);
			}).immediate();
		} catch (err) {
			for (const t of touches) for (const w of t.waiters) w.reject(err);
			return;
		}
		for (const t of touches) for (const w of t.waiters) w.resolve();
	}

	async listSessions(room: string, page?: SessionPageQuery): Promise<SessionRecord[]> {
		const limit = page ? Math.max(0, page.limit) : -1;
		return this.ready().st.listSessions.all({ room, after: page?.after ?? null, limit }).map(toSession);
	}

	async countSessions(room: string): Promise<number> {
		return this.ready().st.countSessions.get(room) ?? 0;
	}

	async forgetSession(room: string, session: string, options: ForgetOptions = {}): Promise<ForgetResult> {
		const { db, st } = this.ready();
		return db
			.transaction((): ForgetResult => {
				const lastSeen = st.lastSeenOf.get(room, session);
				if (options.seenBefore !== undefined && !(lastSeen !== undefined && lastSeen < options.seenBefore)) {
					return { session: false, pending: 0 };
				}
				const pending = st.deletePendingOf.run(room, session).changes;
				st.deleteLost.run(room, session);
				return { session: st.deleteSession.run(room, session).changes === 1, pending };
			})
			.immediate();
	}

	async renameSession(input: RenameInput): Promise<RenameOutcome> {
		const { db, st } = this.ready();
		const { room, from, to, now } = input;
		return db
			.transaction((): RenameOutcome => {
				const old = st.getSession.get(room, from);
				if (!old || from === to) return { renamed: false, existed: false, moved: 0 };
				const meta = JSON.stringify(input.meta);
				const existed = st.renamedRecord.run({ room, to, meta, now }).changes === 1;
				if (!existed) st.insertSession.run(room, to, input.secretHash, meta, old.firstSeen, now, 0);
				st.deleteSession.run(room, from);
				const ids = { room, from, to };
				st.addReader.run(ids);
				const moved = st.movePending.run(ids).changes;
				st.deletePendingOf.run(room, from);
				st.moveLost.run(ids);
				st.deleteLost.run(room, from);
				return { renamed: true, existed, moved };
			})
			.immediate();
	}

	append(input: AppendInput): Promise<AppendResult> {
		if (!this.conn) return Promise.reject(new Error(this.closed ? "store is closed" : "store is not open"));
		return new Promise((resolve, reject) => {
			this.queue.push({ input, resolve, reject });
			if (!this.flushQueued) {
				this.flushQueued = true;
				queueMicrotask(() => {
					this.flushQueued = false;
					this.flush();
				});
			}
		});
	}

	async pending(room: string, recipient: string, query: PendingQuery): Promise<PendingPage> {
		const { db, st } = this.ready();
		// One read transaction: page and count from the same snapshot.
		return db.transaction(() => this.pendingPage(st, room, recipient, query))();
	}

	async countPending(room: string, recipient: string): Promise<number> {
		return this.ready().st.countPending.get(room, recipient) ?? 0;
	}

	async takePending(room: string, recipient: string, query: PendingQuery): Promise<PendingPage> {
		const { db, st } = this.ready();
		const seenAt = query.seenAt ?? Date.now();
		return db
			.transaction(() => {
				const page = this.pendingPage(st, room, recipient, query);
				for (const m of page.messages) {
					st.ackSeq.run(room, recipient, m.seq);
					st.markSeen.run(m.seq, recipient, seenAt);
				}
				return page;
			})
			.immediate();
	}

	async ack(room: string, recipient: string, messageIds: string[]): Promise<number> {
		return (await this.ackSeen(room, recipient, messageIds, Date.now())).length;
	}

	async ackSeen(room: string, recipient: string, messageIds: string[], seenAt: number): Promise<SeenDelivery[]> {
		const { db, st } = this.ready();
		return db
			.transaction(() => {
				const seen: SeenDelivery[] = [];
				for (const id of messageIds) {
					const seq = seqOfMessageId(id);
					if (seq === null || st.ackId.run({ seq, id, room, recipient }).changes === 0) continue;
					st.markSeen.run(seq, recipient, seenAt);
					seen.push({ id, seq, from: st.senderOf.get(seq) ?? "", seenAt });
				}
				return seen;
			})
			.immediate();
	}

	async markPushed(_room: string, pushes: readonly PushedDelivery[], at: number): Promise<void> {
		if (!this.conn) throw new Error(this.closed ? "store is closed" : "store is not open");
		this.pushed.add(pushes, at);
	}

	async getMessage(room: string, messageId: string, viewer: string): Promise<Message | null> {
		const seq = seqOfMessageId(messageId);
		if (seq === null) return null;
		const row = this.ready().st.getMessage.get({ seq, id: messageId, room, viewer });
		return row ? toMessage(row) : null;
	}

	async receipts(room: string, messageId: string): Promise<MessageReceipts | null> {
		const seq = seqOfMessageId(messageId);
		if (seq === null) return null;
		const { db, st } = this.ready();
		return db.transaction(() => {
			const row = st.messageInRoom.get({ seq, id: messageId, room });
			if (!row) return null;
			const { recipients: stored, ...rest } = row;
			const message = toMessage(rest);
			// Each recipient's first push (rows come oldest first), then any still in memory; and its seen time.
			const recipients = stored ? (JSON.parse(stored) as string[]) : [message.to];
			const pushed = new Map<string, number>();
			for (const row of st.pushesOf.all(seq)) {
				for (const r of row.recipients.split(",")) {
					for (const one of r === "*" ? recipients : [r]) if (!pushed.has(one)) pushed.set(one, row.at);
				}
			}
			const seen = new Map(st.seenOf.all(seq).map((r) => [r.recipient, r.at]));
			const waiting = this.pushed.of(seq);
			const receipts = [...recipients].sort().map((r) => {
				const memory = waiting.get(r);
				const durable = pushed.get(r);
				const pushedAt = durable === undefined ? (memory ?? null) : memory === undefined ? durable : Math.min(durable, memory);
				return receiptOf(r, message.sentAt, pushedAt, seen.get(r) ?? null);
			});
			return { message, receipts };
		})();
	}

	async thread(room: string, messageId: string, query: ThreadQuery): Promise<ThreadPage | null> {
		const { db, st } = this.ready();
		return db.transaction(() => {
			const seq = seqOfMessageId(messageId);
			const named = seq === null ? undefined : st.messageInRoom.get({ seq, id: messageId, room });
			if (named && !st.getMessage.get({ seq: named.seq, id: named.id, room, viewer: query.viewer })) return null;
			const root = named?.thread ?? messageId;
			const limit = Math.max(0, query.limit);
			const rows = st.threadPage.all({
				room,
				viewer: query.viewer,
				root,
				rootSeq: seqOfMessageId(root) ?? -1,
				after: query.after ?? Number.MIN_SAFE_INTEGER,
				limit: limit + 1,
			});
			if (!named && rows.length === 0) return null;
			return { thread: root, messages: rows.slice(0, limit).map(toMessage), hasMore: rows.length > limit };
		})();
	}

	async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
		const { st } = this.ready();
		const limit = Math.max(0, query.limit);
		// `after` pages forwards (oldest first); otherwise we take the newest page below `before`.
		const forward = query.after !== undefined;
		const stmt =
			query.topic !== undefined
				? forward
					? st.historyTopicAsc
					: st.historyTopicDesc
				: query.with === undefined
					? forward
						? st.historyRoomAsc
						: st.historyRoomDesc
					: forward
						? st.historyPairAsc
						: st.historyPairDesc;
		const rows = stmt.all({
			room,
			viewer: query.viewer,
			with: query.with ?? null,
			topic: query.topic === undefined ? null : TOPIC_PREFIX + query.topic,
			after: query.after ?? Number.MIN_SAFE_INTEGER,
			before: query.before ?? Number.MAX_SAFE_INTEGER,
			limit: limit + 1, // one more than asked tells whether there are more
		});
		const hasMore = rows.length > limit;
		const page = rows.slice(0, limit).map(toMessage);
		return { messages: forward ? page : page.reverse(), hasMore };
	}

	async oldestSeq(room: string): Promise<number | null> {
		return this.ready().st.oldestSeq.get(room) ?? null;
	}

	async prunedThrough(room: string): Promise<number> {
		return this.ready().st.prunedThrough.get(room) ?? 0;
	}

	async takeLost(room: string, session: string): Promise<number> {
		const { st } = this.ready();
		// Read first: every hello asks, almost none has a count, and a DELETE is a write transaction of its own
		// (the write lock and a commit) even when it finds nothing. Both run in this turn, with nothing between.
		if (st.peekLost.get(room, session) === undefined) return 0;
		return st.takeLost.get(room, session) ?? 0;
	}

	async staleSessions(query: StaleQuery): Promise<StaleSession[]> {
		const rows = this.ready().st.staleSessions.all({
			named: query.namedBefore ?? null,
			ephemeral: query.ephemeralBefore ?? null,
			limit: Math.max(0, query.limit),
		});
		return rows.map((r) => ({ ...r, ephemeral: r.ephemeral === 1 }));
	}

	async applyRetention(policy: RetentionPolicy): Promise<RetentionResult> {
		const { db, st } = this.ready();
		// Marks waiting in memory are written first, so that the deletes below take their rows too.
		await this.pushed.flush();
		const result: RetentionResult = { deletedMessages: 0, lostDeliveries: 0 };
		// Counts unacked deliveries into `lost` before their rows are deleted.
		const countLost = (rows: LostRow[]) => {
			for (const { room, session, n } of rows) {
				st.addLost.run(room, session, n);
				result.lostDeliveries += n;
			}
		};
		db.transaction(() => {
			// Age first, then the count cap over what is left: a room ends with at most maxPerRoom messages.
			if (policy.olderThan !== undefined) {
				for (const { room, through } of st.prunedByAge.all(policy.olderThan)) {
					st.raisePruned.run(room, through);
					st.raiseSeqFloor.run(through);
				}
				countLost(st.lostByAge.all(policy.olderThan));
				st.deletePendingByAge.run(policy.olderThan);
				st.deletePushesByAge.run(policy.olderThan);
				st.deleteSeenByAge.run(policy.olderThan);
				result.deletedMessages += st.deleteByAge.run(policy.olderThan).changes;
			}
			if (policy.maxPerRoom !== undefined) {
				for (const room of st.rooms.all()) {
					const cap = st.capSeq.get(room, Math.max(0, policy.maxPerRoom));
					if (cap === undefined) continue;
					st.raisePruned.run(room, cap);
					st.raiseSeqFloor.run(cap);
					countLost(st.lostBelow.all(room, cap));
					st.deletePendingBelow.run(room, cap);
					st.deletePushesBelow.run(room, cap);
					st.deleteSeenBelow.run(room, cap);
					result.deletedMessages += st.deleteBelow.run(room, cap).changes;
				}
			}
		}).immediate();
		return result;
	}

	async stats(): Promise<StoreStats> {
		const stats = this.ready().st.stats.get();
		if (!stats) throw new Error("stats query returned no row");
		return stats;
	}

	/**
	 * Runs a PRAGMA on the store's own connection and returns its first value: for settings that are per
	 * connection, which no other process can change (e.g. `max_page_count`, how the tests fill the disk).
	 */
	pragma(source: string): unknown {
		return this.ready().db.pragma(source, { simple: true });
	}

	// -----------------------------------------------------------------------------------------------------

	/** The open connection, after writing and committing any queued appends so the caller sees them. */
	private ready(opts: { keepCreates?: boolean } = {}): Connection {
		if (!this.conn) throw new Error(this.closed ? "store is closed" : "store is not open");
		this.flush();
		try {
			this.commitOpen();
		} catch (err) {
			// The appends that wait could not be written (a full disk): they stay owed, in the journal and in
			// memory, and go in first thing once the storage works again (the next append is refused until
			// then). This operation goes on without them, so that reads and deletes still work meanwhile.
			if (!this.appendFailed(err)) throw err;
			if (this.conn.db.inTransaction) this.conn.st.rollback.run();
		}
		if (!opts.keepCreates) this.writeCreates();
		this.writeTouches();
		return this.conn;
	}

	/**
	 * At open: inserts again the journal's records that no commit holds (above the last seq: records are
	 * journaled and committed in seq order, so the committed ones are a prefix), in one transaction, then
	 * empties the journal. They were answered, so they must exist exactly as answered. Both steps hold the
	 * write lock, which a hub also holds whenever it journals: a second process opening the same file while a
	 * hub runs reads only what that hub committed (and skips it), and never truncates what it has not.
	 */
	private recover(db: Database.Database, st: Statements, journal: AppendJournal): void {
		db.transaction(() => this.insertUncommitted(st, journal.read())).immediate();
		db.transaction(() => {
			const last = st.lastSeq.get() ?? 0;
			if (journal.read().every((r) => r.seq <= last)) journal.reset();
		}).immediate();
	}

	/**
	 * Inserts, exactly, the journal records no commit holds: those above the last seq (records are journaled
	 * and committed in seq order, so the committed ones are a prefix). Inside a write transaction.
	 */
	private insertUncommitted(st: Statements, records: readonly JournalRecord[]): void {
		const last = st.lastSeq.get() ?? 0;
		insertRecords(st, records.filter((r) => r.seq > last));
	}

	/**
	 * Opens the write transaction of appends if none is open (and schedules its commit). If SQLite rolled an
	 * open one back by itself (it may, on SQLITE_FULL or an I/O error), its records are inserted again first:
	 * they were answered. Throws if that fails (the records stay in the journal and in memory).
	 */
	private openTransaction(conn: Connection): NonNullable<SqliteStore["uncommitted"]> {
		const { db, st } = conn;
		if (this.uncommitted && db.inTransaction) return this.uncommitted;
		const owed = this.uncommitted?.records ?? [];
		if (db.inTransaction) st.rollback.run();
		// What waited to be inserted is among the owed records, inserted below with the rest.
		this.unapplied = [];
		st.begin.run();
		try {
			// Another store on this file (a second hub) that died after answering left records here: they go
			// in before this one assigns a seq. Our own owed records are in the journal too, so then they are
			// inserted from there (another store may have inserted them already: they are at or below last).
			const journal = this.journal;
			if (journal?.changedElsewhere()) {
				// Its keys are the other store's senders': none of ours can be trusted to be the greatest now.
				this.maxKeys.clear();
				this.insertUncommitted(st, journal.read());
			} else this.insertUncommitted(st, owed);
		} catch (err) {
			// SQLite may have rolled back already (it does on SQLITE_FULL): the error to report is this one.
			if (db.inTransaction) st.rollback.run();
			throw err;
		}
		const next = Math.max((st.lastSeq.get() ?? 0) + 1, this.uncommitted?.next ?? 0);
		const version = st.dataVersion.get() ?? 0;
		if (version !== this.dataVersion || this.maxKeys.size > MAX_KEY_SENDERS) this.maxKeys.clear();
		this.dataVersion = version;
		this.uncommitted = { records: owed, bytes: this.uncommitted?.bytes ?? 0, next };
		this.commitTimer ??= setTimeout(() => {
			this.commitTimer = null;
			try {
				this.commitOpen();
			} catch (err) {
				// Reported by the next operation too; the records wait in memory and in the journal.
				this.appendFailed(err);
			}
		}, COMMIT_DELAY_MS);
		return this.uncommitted;
	}

	/** Commits the open transaction of appends, if any, and empties the journal once it is big enough. */
	private commitOpen(): void {
		if (this.commitTimer) clearTimeout(this.commitTimer);
		this.commitTimer = null;
		const conn = this.conn;
		if (!conn || !this.uncommitted) return;
		this.apply();
		if (!conn.db.inTransaction) this.openTransaction(conn);
		conn.st.commit.run();
		this.uncommitted = null;
		if (this.journal && this.journal.size >= JOURNAL_RESET_BYTES) this.journal.reset();
	}

	/**
	 * Writes the queued appends, in transactions of at most MAX_BATCH_APPENDS appends and about
	 * MAX_BATCH_BODY_BYTES of bodies, and settles their promises. Unless `force`, stops while the WAL is over
	 * its ceiling and looks again in WAL_WAIT_MS (a timer: the event loop goes on meanwhile).
	 */
	private flush(force = false): void {
		while (this.queue.length > 0) {
			// The WAL only grows at a commit: its size is looked at before each transaction, not each batch.
			if (!force && !this.uncommitted && this.walOverCeiling()) {
				this.walWait ??= setTimeout(() => {
					this.walWait = null;
					this.flush();
				}, WAL_WAIT_MS);
				return;
			}
			// One transaction holds at most MAX_BATCH_APPENDS appends and about MAX_BATCH_BODY_BYTES of bodies.
			const held = this.uncommitted;
			const room = held ? MAX_BATCH_APPENDS - held.records.length : MAX_BATCH_APPENDS;
			let n = 0;
			let bytes = held?.bytes ?? 0;
			for (; n < this.queue.length && n < room && (n === 0 || bytes < MAX_BATCH_BODY_BYTES); n++) {
				bytes += (this.queue[n] as QueuedAppend).input.body.length;
			}
			if (held && (n === 0 || held.bytes >= MAX_BATCH_BODY_BYTES)) {
				this.commitQueued();
				continue;
			}
			this.commit(this.queue.splice(0, n));
		}
	}

	/** commitOpen for flush: a failure fails the appends waiting in the queue, which cannot be written. */
	private commitQueued(): void {
		try {
			this.commitOpen();
		} catch (err) {
			for (const q of this.queue.splice(0)) q.reject(err);
		}
	}

	/**
	 * True when the WAL file has reached twice walMaxBytes, which only a writer faster than the checkpointer
	 * can cause: tell the checkpointer, which truncates it. A stat per batch (a few microseconds). Without a
	 * checkpointer (its worker died), this connection checkpoints on its own and nobody would truncate.
	 */
	private walOverCeiling(): boolean {
		if (!this.checkpointer || this.walBlocked) return false;
		let size: number;
		try {
			size = statSync(`${this.options.file}-wal`).size;
		} catch {
			return false;
		}
		if (size < 2 * this.walMaxBytes) return false;
		this.checkpointer.postMessage("truncate");
		return true;
	}

	/**
	 * Handles one batch of appends inside the open transaction: assigns their seqs, finds retries by their
	 * idempotency keys, appends the new records to the journal with one write, and settles the promises
	 * (durable once the write returned). Their rows are inserted on the next turn (apply).
	 */
	private commit(batch: QueuedAppend[]): void {
		let results: AppendResult[];
		try {
			if (!this.conn || !this.journal) throw new Error("store is closed");
			const { db, st } = this.conn;
			// At most one batch waits for its rows: an earlier one still waiting (appends that came in
			// microtasks, with no turn in between) goes in first, so a failing insert (a full disk) is seen by
			// the next batch, which is then refused, rather than 1,000 appends later.
			this.apply();
			const open = this.openTransaction(this.conn);
			// Seqs are taken inside the write transaction (so two processes on one file cannot collide),
			// read when it began and counted up here: no native call per message.
			const next = { seq: open.next };
			const fresh: Fresh[] = [];
			const batchKeys = new Map<string, Fresh>();
			if (batch.some((q) => q.input.topic)) this.topics.revalidate(db);
			results = batch.map((q) => this.prepare(st, q.input, next, fresh, batchKeys));
			if (fresh.length > 0) this.journal.append(fresh);
			open.next = next.seq;
			open.records.push(...fresh);
			this.unapplied.push(...fresh);
			for (const q of batch) open.bytes += q.input.body.length;
			if (fresh.length > 0) this.applyTimer ??= setImmediate(() => this.applySoon());
		} catch (err) {
			// Nothing of the batch is in the journal (a failed write is cut back) or in memory: all of it fails.
			for (const q of batch) q.reject(err);
			return;
		}
		for (const [i, q] of batch.entries()) q.resolve(results[i] as AppendResult);
	}

	/**
	 * One append of a batch, before its rows exist (earlier batches' are in: apply): its seq, id and thread,
	 * or the earlier message if its idempotency key was seen (in the database, or earlier in this batch). The
	 * common case (a sender's next key, or none) reads nothing and writes nothing.
	 */
	private prepare(st: Statements, input: AppendInput, next: { seq: number }, fresh: Fresh[], batchKeys: Map<string, Fresh>): AppendResult {
		const { room, from, to, body, replyTo, key, sentAt } = input;
		if (key !== null) {
			const waiting = batchKeys.get(keyOf(room, from, key));
			if (waiting) return { message: waiting.message, duplicate: true, recipients: [...waiting.recipients].sort() };
			const sender = `${room}\0${from}`;
			const max = this.maxKeys.get(sender) ?? st.maxKey.get(room, from) ?? "";
			if (!(ASCII.test(key) && key > max)) {
				const row = st.byKey.get(room, from, key);
				if (row) {
					const earlier = toMessage(row);
					return { message: earlier, duplicate: true, recipients: this.recipientsOf(st, earlier) };
				}
			}
			this.maxKeys.set(sender, key > max ? key : max);
		}
		const seq = next.seq++;
		const id = newMessageId(seq);
		// A reply: its parent's thread (a parent not in the room is the root itself), from earlier in this batch
		// or by one primary-key read.
		let thread: string | null = null;
		if (replyTo !== null) {
			const parent = fresh.find((r) => r.id === replyTo);
			if (parent) thread = parent.room === room ? (parent.thread ?? parent.id) : replyTo;
			else {
				const parentSeq = seqOfMessageId(replyTo);
				thread = (parentSeq === null ? undefined : st.parentThread.get(parentSeq, replyTo, room)) ?? replyTo;
			}
		}
		const message: Message = { id, seq, room, from, to, body, replyTo, thread: thread ?? id, sentAt };
		if (input.human) message.human = true;
		const recipients = input.topic
			? uniqueRecipients([...input.recipients, ...this.topics.audience(room, input.topic).filter((s) => s !== from)])
			: uniqueRecipients(input.recipients);
		// A direct message's recipient is its `to`; every other audience is stored with the message.
		const stored = recipients.length === 1 && recipients[0] === to ? null : JSON.stringify(recipients);
		const record: Fresh = { seq, id, room, from, to, body, replyTo, key, sentAt, stored, thread, human: input.human ? 1 : null, recipients, message };
		fresh.push(record);
		if (key !== null) batchKeys.set(keyOf(room, from, key), record);
		return { message, duplicate: false, recipients };
	}

	/** The turn after a batch: its rows go into the open transaction (a failure is reported, the rows stay owed). */
	private applySoon(): void {
		this.applyTimer = null;
		try {
			this.apply();
		} catch (err) {
			this.appendFailed(err);
		}
	}

	/**
	 * A write of appends that no caller waits for failed (a timer's commit, the rows after the answer): a
	 * storage failure goes into health; false for anything else.
	 */
	private appendFailed(err: unknown): boolean {
		const storage = err instanceof StorageError ? err : sqliteStorageError(err);
		if (storage) this.health.failed("append", storage);
		return storage !== null;
	}

	/**
	 * Inserts the rows of the records that wait, into the open transaction. If that fails, the transaction is
	 * rolled back and every record it held stays owed: the next operation's openTransaction inserts them
	 * again (they were answered), before anything else.
	 */
	private apply(): void {
		if (this.applyTimer) clearImmediate(this.applyTimer);
		this.applyTimer = null;
		const conn = this.conn;
		if (!conn || this.unapplied.length === 0) return;
		if (!conn.db.inTransaction) {
			// SQLite rolled the transaction back on its own: reopening inserts every owed record, these too.
			this.openTransaction(conn);
			return;
		}
		const waiting = this.unapplied;
		this.unapplied = [];
		try {
			insertRecords(conn.st, waiting);
		} catch (err) {
			if (conn.db.inTransaction) conn.st.rollback.run();
			throw err;
		}
	}

	/** Whom a stored message was for: the audience stored with it, or its addressee. */
	private recipientsOf(st: Statements, message: Message): string[] {
		const stored = st.recipientsOf.get(message.seq);
		return stored ? (JSON.parse(stored) as string[]).sort() : [message.to];
	}

	/** Writes a batch of pushed marks in one transaction (the buffer's flush). */
	private writePushed(marks: readonly PushedMark[]): void {
		if (!this.conn) return;
		const { db, st } = this.conn;
		// `*`: every recipient of the message (a live fan-out that reached all of them), not 50 names.
		const row = (m: PushedMark) => [m.seq, m.at, m.all ? "*" : m.recipients.length === 1 ? (m.recipients[0] as string) : m.recipients.join(",")];
		db.transaction(() => {
			let i = 0;
			for (; i + PUSH_ROWS <= marks.length; i += PUSH_ROWS) st.markPushedMany.run(...marks.slice(i, i + PUSH_ROWS).flatMap(row));
			for (; i < marks.length; i++) st.markPushed.run(row(marks[i] as PushedMark));
		}).immediate();
	}

	private pendingPage(st: Statements, room: string, recipient: string, query: PendingQuery): PendingPage {
		const params = {
			room,
			recipient,
			afterSeq: query.afterSeq ?? Number.MIN_SAFE_INTEGER,
			from: query.from ?? null,
			replyTo: query.replyTo ?? null,
		};
		const limit = Math.max(0, query.limit);
		if (st.anyPending.get(room, recipient, params.afterSeq) === undefined) return { messages: [], remaining: 0 };
		const messages = st.pendingPage.all({ ...params, limit }).map(toMessage);
		// A short page is all there is (the count has the same filter): no second query, which every hello's
		// catch-up of an empty inbox used to pay.
		const total = messages.length < limit ? messages.length : (st.pendingCount.get(params) ?? 0);
		return { messages, remaining: total - messages.length };
	}
}

/**
 * Journal records' rows, exactly: their messages, then one pending row per recipient, INSERT_ROWS rows per
 * statement and the remainder one by one (appends, recovery, and after SQLite rolled the transaction back).
 */
function insertRecords(st: Statements, records: readonly JournalRecord[]): void {
	// Arguments are spread rather than passed as one array: better-sqlite3 reads an array's elements through
	// V8's slow element lookup, which cost more than the statements it saved.
	const args: unknown[] = [];
	let i = 0;
	for (; i + INSERT_ROWS <= records.length; i += INSERT_ROWS) {
		args.length = 0;
		for (let j = i; j < i + INSERT_ROWS; j++) {
			const r = records[j] as JournalRecord;
			args.push(r.seq, r.id, r.room, r.from, r.to, r.body, r.replyTo, r.key, r.sentAt, r.stored, r.thread, r.human);
		}
		st.insertMessagesMany.run(...args);
	}
	for (; i < records.length; i++) {
		const r = records[i] as JournalRecord;
		st.insertMessageExact.run(r.seq, r.id, r.room, r.from, r.to, r.body, r.replyTo, r.key, r.sentAt, r.stored, r.thread, r.human);
	}
	args.length = 0;
	for (const r of records) for (const recipient of r.recipients) args.push(r.room, recipient, r.seq);
	const row = 3 * INSERT_ROWS;
	let j = 0;
	for (; j + row <= args.length; j += row) st.insertPendingMany.run(...args.slice(j, j + row));
	for (; j < args.length; j += 3) st.insertPending.run(args[j], args[j + 1], args[j + 2]);
}

/** What each SQLite result code that means "the storage failed" (not the request) tells the operator. */
const STORAGE_FAILURES: [prefix: string, what: string][] = [
	["SQLITE_FULL", "the database's disk is full"],
	["SQLITE_IOERR", "the disk reported an I/O error"],
	["SQLITE_CORRUPT", "the database file is damaged (see `claude-relay db check`)"],
	["SQLITE_NOTADB", "the database file is damaged (see `claude-relay db check`)"],
	["SQLITE_READONLY_DBMOVED", "the database file was moved or deleted while the hub ran"],
	["SQLITE_READONLY", "the database file cannot be written (read-only file or file system)"],
	["SQLITE_CANTOPEN", "a database file (the -wal or -shm beside it) cannot be opened"],
	["SQLITE_PERM", "the database file cannot be accessed (permissions)"],
	["SQLITE_BUSY", `another process has held the database's lock for over ${BUSY_TIMEOUT_MS / 1000} s`],
	["SQLITE_PROTOCOL", "the database's locks are in an inconsistent state"],
];

/** A better-sqlite3 error that is a failure of the storage, as a StorageError; null for anything else. */
export function sqliteStorageError(err: unknown): StorageError | null {
	if (!(err instanceof Database.SqliteError)) return null;
	const failure = STORAGE_FAILURES.find(([prefix]) => err.code.startsWith(prefix));
	if (!failure) return null;
	return new StorageError(err.code, `${failure[1]} (${err.code}: ${err.message})`, { cause: err });
}

guardStorage(SqliteStore.prototype, sqliteStorageError);

/**
 * A worker thread with its own connection that keeps the WAL short, off the event loop.
 *
 * Every `everyMs` a PASSIVE checkpoint copies what it can into the database without blocking anyone. That
 * alone lets the file grow without bound under sustained writes: SQLite rewinds the WAL only after a
 * checkpoint has copied every frame, and a busy writer always adds some while one runs. So:
 * - past `walMaxBytes`: a second PASSIVE pass, then RESTART, which takes the write lock only to copy the
 *   few frames the passes left, and makes the next commit write from the start of the file again (and cut
 *   it back to the bound: journal_size_limit). Not TRUNCATE here: giving 64 MiB back to the file system
 *   takes tens of milliseconds with the write lock held (with online discard), and the file is reused anyway;
 * - idle (nothing written since the last look): TRUNCATE, which gives the disk space back;
 * - at the ceiling (twice `walMaxBytes`; the store then holds appends and posts "truncate"): TRUNCATE. If
 *   readers of another process keep it from succeeding for ~2 s, it posts `walBlocked: true` and the store
 *   writes on over the ceiling (waiting on another process could last forever), until a TRUNCATE succeeds.
 * With no busy timeout, a checkpoint that cannot get a lock returns at once having done what it could; the
 * loop tries again 1 ms later rather than sleep in SQLite's busy handler, which would hold the write lock
 * while it waits for readers, and back off up to 100 ms between tries.
 */
function startCheckpointer(file: string, everyMs: number, walMaxBytes: number, onBlocked: (blocked: boolean) => void): Worker {
	const sqlite = createRequire(import.meta.url).resolve("better-sqlite3");
	const worker = new Worker(
		`const { parentPort, workerData: w } = require("node:worker_threads");
		 const { statSync } = require("node:fs");
		 const Database = require(w.sqlite);
		 const db = new Database(w.file, { timeout: 0 });
		 const walBytes = () => { try { return statSync(w.file + "-wal").size; } catch { return 0; } };
		 const nap = new Int32Array(new SharedArrayBuffer(4));
		 const checkpoint = (mode, tries) => {
		   for (let i = 0; i < tries; i++) {
		     if (db.pragma("wal_checkpoint(" + mode + ")")[0].busy === 0) return true;
		     Atomics.wait(nap, 0, 0, 1);
		   }
		   return false;
		 };
		 let blocked = false;
		 const report = (b) => { if (b !== blocked) parentPort.postMessage({ walBlocked: (blocked = b) }); };
		 let lastFrames = -1;
		 let timer;
		 const tick = () => {
		   clearTimeout(timer);
		   try {
		     const [{ log, checkpointed }] = db.pragma("wal_checkpoint(PASSIVE)");
		     const idle = log > 0 && checkpointed === log && log === lastFrames;
		     lastFrames = log;
		     const bytes = walBytes();
		     if (bytes >= 2 * w.walMaxBytes) report(!checkpoint("TRUNCATE", 2000));
		     else if (idle) { if (checkpoint("TRUNCATE", 100)) report(false); }
		     else if (bytes > w.walMaxBytes) {
		       db.pragma("wal_checkpoint(PASSIVE)");
		       checkpoint("RESTART", 2000);
		     }
		   } catch {}
		   timer = setTimeout(tick, w.everyMs);
		 };
		 parentPort.on("message", tick);
		 timer = setTimeout(tick, w.everyMs);`,
		{ eval: true, workerData: { file, everyMs, walMaxBytes, sqlite } },
	);
	worker.on("message", (m: { walBlocked?: unknown }) => {
		if (typeof m.walBlocked === "boolean") onBlocked(m.walBlocked);
	});
	// After the listener: attaching one refs the worker again. It must not keep the process alive.
	worker.unref();
	return worker;
}
