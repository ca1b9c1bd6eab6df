/**
 * The SQLite schema, as an ordered list of migrations. Entry i brings a database from
 * `PRAGMA user_version` i to i + 1, so adding version 2 is appending one entry; never edit a published one.
 * Each step runs in the same transaction as the `user_version` bump, so a crash mid-migration leaves the
 * file at the previous version, not half-way.
 */
import type Database from "better-sqlite3";

export interface Migration {
	/** For logs and for whoever reads this file. */
	description: string;
	sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
	{
		description: "sessions, messages, deliveries, lost counters, retention watermarks",
		sql: `
			CREATE TABLE sessions (
				room        TEXT    NOT NULL,
				session     TEXT    NOT NULL,
				secret_hash TEXT    NOT NULL,
				meta        TEXT    NOT NULL, -- JSON of SessionMeta
				first_seen  INTEGER NOT NULL,
				last_seen   INTEGER NOT NULL,
				PRIMARY KEY (room, session)
			) WITHOUT ROWID;

			-- AUTOINCREMENT: seq must never be reused, even after retention deleted the newest rows,
			-- because clients keep seq cursors and dedupe by id.
			CREATE TABLE messages (
				seq       INTEGER PRIMARY KEY AUTOINCREMENT,
				id        TEXT    NOT NULL, -- m-<seq>-<random>: unique because seq is; looked up by seq
				room      TEXT    NOT NULL,
				sender    TEXT    NOT NULL,
				recipient TEXT    NOT NULL, -- the 'to' field: a session ID or '*'
				body      TEXT    NOT NULL,
				reply_to  TEXT,
				idem_key  TEXT,
				sent_at   INTEGER NOT NULL
			);
			-- Idempotency: one message per (room, sender, key); keys go away with their message.
			CREATE UNIQUE INDEX messages_idem ON messages (room, sender, idem_key) WHERE idem_key IS NOT NULL;
			-- History of a room, oldestSeq, per-room retention.
			CREATE INDEX messages_room_seq ON messages (room, seq);
			-- History of one conversation (with: X), both directions.
			CREATE INDEX messages_room_pair ON messages (room, sender, recipient, seq);
			-- Age-based retention.
			CREATE INDEX messages_sent_at ON messages (sent_at);

			-- One row per recipient of a message. room is copied from the message so the inbox query
			-- needs no join to filter.
			CREATE TABLE deliveries (
				seq       INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
				room      TEXT    NOT NULL,
				recipient TEXT    NOT NULL,
				acked     INTEGER NOT NULL DEFAULT 0,
				PRIMARY KEY (seq, recipient)
			) WITHOUT ROWID;
			-- The inbox: unacked deliveries of one recipient in one room, in seq order.
			CREATE INDEX deliveries_inbox ON deliveries (room, recipient, acked, seq);

			-- Per room, the highest seq retention deleted: lets history say "truncated" instead of going quiet.
			CREATE TABLE pruned (
				room    TEXT    PRIMARY KEY,
				through INTEGER NOT NULL
			) WITHOUT ROWID;

			-- Unacked deliveries that retention deleted, per (room, session), until takeLost reads them.
			CREATE TABLE lost (
				room    TEXT    NOT NULL,
				session TEXT    NOT NULL,
				count   INTEGER NOT NULL,
				PRIMARY KEY (room, session)
			) WITHOUT ROWID;
		`,
	},
	{
		// Each B-tree an append touches is a page written to the WAL at commit: version 1 touched eight
		// (messages, four of its indexes, sqlite_sequence, deliveries and its inbox index), and a single send
		// paid about 100 us for them (measured by `npm run bench`). Version 2 touches six.
		description: "six B-trees per append: pending replaces deliveries and its index, seq_floor replaces AUTOINCREMENT",
		sql: `
			-- The highest seq ever assigned that may no longer be in messages (retention deleted it). The next
			-- seq is above both this and max(messages.seq), so seqs are never reused (clients keep seq cursors
			-- and dedupe by id). Replaces AUTOINCREMENT, whose sqlite_sequence row was one more page per append.
			CREATE TABLE seq_floor (
				only INTEGER PRIMARY KEY CHECK (only = 1),
				seq  INTEGER NOT NULL
			);
			INSERT INTO seq_floor (only, seq)
				VALUES (1, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0));

			-- recipients: for a broadcast, the JSON array of the sessions it was for (a retried broadcast answers
			-- with them); NULL for a direct message, whose only recipient is 'recipient'.
			CREATE TABLE messages_v2 (
				seq        INTEGER PRIMARY KEY,
				id         TEXT    NOT NULL,
				room       TEXT    NOT NULL,
				sender     TEXT    NOT NULL,
				recipient  TEXT    NOT NULL,
				body       TEXT    NOT NULL,
				reply_to   TEXT,
				idem_key   TEXT,
				sent_at    INTEGER NOT NULL,
				recipients TEXT
			);
			INSERT INTO messages_v2 (seq, id, room, sender, recipient, body, reply_to, idem_key, sent_at, recipients)
				SELECT m.seq, m.id, m.room, m.sender, m.recipient, m.body, m.reply_to, m.idem_key, m.sent_at,
				       CASE WHEN m.recipient = '*' THEN
				         (SELECT json_group_array(d.recipient) FROM deliveries d WHERE d.seq = m.seq) END
				FROM messages m;

			-- Delivery state, one B-tree: a row is a delivery not yet acked, and acking deletes it. The primary
			-- key is the inbox order, so the inbox needs no second index. Rows are deleted with their message
			-- explicitly (no foreign key: a cascade would need one more index, on seq).
			CREATE TABLE pending (
				room      TEXT    NOT NULL,
				recipient TEXT    NOT NULL,
				seq       INTEGER NOT NULL,
				PRIMARY KEY (room, recipient, seq)
			) WITHOUT ROWID;
			INSERT INTO pending (room, recipient, seq) SELECT room, recipient, seq FROM deliveries WHERE acked = 0;

			DROP TABLE deliveries;
			DROP TABLE messages;
			ALTER TABLE messages_v2 RENAME TO messages;
			CREATE UNIQUE INDEX messages_idem ON messages (room, sender, idem_key) WHERE idem_key IS NOT NULL;
			CREATE INDEX messages_room_seq ON messages (room, seq);
			CREATE INDEX messages_room_pair ON messages (room, sender, recipient, seq);
			CREATE INDEX messages_sent_at ON messages (sent_at);
		`,
	},
	{
		description: "the session lifecycle: ephemeral sessions, and an index for forgetting sessions not seen for a while",
		sql: `
			-- 1: forgotten when its connection ends (a bridge's own <host>-<pid> ID, which nothing claims again).
			ALTER TABLE sessions ADD COLUMN ephemeral INTEGER NOT NULL DEFAULT 0;
			-- Bridges before this version claimed their <host>-<pid> fallback like any name, and every start
			-- (each \`claude mcp list\` health check) left one behind, a recipient of every broadcast forever.
			-- Such a record says client "claude-relay-bridge" and ends in "-<its pid>": mark it ephemeral, so
			-- retention forgets it (it is offline: its process is gone). A chosen name that happens to end in
			-- its own bridge's pid is the only false match.
			UPDATE sessions SET ephemeral = 1
			 WHERE CASE WHEN json_valid(meta) THEN
			         json_extract(meta, '$.client') = 'claude-relay-bridge'
			         AND json_type(meta, '$.pid') = 'integer'
			         AND substr(session, -length('-' || json_extract(meta, '$.pid'))) = '-' || json_extract(meta, '$.pid')
			       ELSE 0 END;
			-- Retention's scan for sessions not seen since a cutoff, per kind (each has its own cutoff).
			CREATE INDEX sessions_stale ON sessions (ephemeral, last_seen);
		`,
	},
	{
		// Shared state and file claims (issue 12). New tables only: nothing an append touches changes, so
		// messages cost what they did.
		description: "shared state (state, state_rooms) and file claims (claims)",
		sql: `
			-- One row per key of a room's blackboard. value is JSON text as JSON.stringify wrote it; size is its
			-- UTF-8 length (for the bounds and for state_list without reading values).
			CREATE TABLE state (
				room       TEXT    NOT NULL,
				key        TEXT    NOT NULL,
				value      TEXT    NOT NULL,
				version    INTEGER NOT NULL,
				updated_by TEXT    NOT NULL,
				updated_at INTEGER NOT NULL,
				size       INTEGER NOT NULL,
				PRIMARY KEY (room, key)
			) WITHOUT ROWID;

			-- Per room: how many keys and bytes of values it holds, kept by every write in its transaction, so a
			-- bound is checked without summing the room.
			CREATE TABLE state_rooms (
				room  TEXT    PRIMARY KEY,
				keys  INTEGER NOT NULL,
				bytes INTEGER NOT NULL
			) WITHOUT ROWID;

			-- One row per claimed pattern. A claim is live while expires_at is in the future; expired rows are
			-- deleted by the hub's sweep and by the next claim in the same repository.
			CREATE TABLE claims (
				room       TEXT    NOT NULL,
				repo       TEXT    NOT NULL,
				session    TEXT    NOT NULL,
				path       TEXT    NOT NULL,
				reason     TEXT,
				claimed_at INTEGER NOT NULL,
				expires_at INTEGER NOT NULL,
				PRIMARY KEY (room, repo, session, path)
			) WITHOUT ROWID;
			-- A session's claims (release all, the per-session bound).
			CREATE INDEX claims_session ON claims (room, session, expires_at);
			-- The sweep.
			CREATE INDEX claims_expiry ON claims (expires_at);
		`,
	},
	{
		// Topics, threads and receipts (issue 11). Only ALTER TABLE ADD COLUMN and new tables and indexes, so
		// this step and any other that only adds (issue 12's state and claims) apply in either order. A direct
		// message that is not a reply touches nothing new: both new indexes are partial.
		description: "topics (subscriptions), threads (messages.thread), read receipts (receipts)",
		sql: `
			-- A reply's thread: the id of the root of its reply_to chain (the first message up the chain that is
			-- not itself a reply, or the id the chain names when that message is not in the room). NULL for a
			-- message that is not a reply: it is its own thread's root.
			ALTER TABLE messages ADD COLUMN thread TEXT;

			-- Threads of the replies already stored, walked up their reply_to chains (bounded, in case of a cycle
			-- no hub can write but a hand-edited file could hold). Ids are m-<seq>-<tail>: parents are found by seq.
			CREATE TEMP TABLE v3_roots (seq INTEGER PRIMARY KEY, root TEXT NOT NULL);
			WITH RECURSIVE up(seq, room, cur, depth) AS (
				SELECT seq, room, reply_to, 0 FROM messages WHERE reply_to IS NOT NULL
				UNION ALL
				SELECT up.seq, up.room, p.reply_to, up.depth + 1
				FROM up JOIN messages p
				  ON p.seq = CAST(substr(up.cur, 3, instr(substr(up.cur, 3), '-') - 1) AS INTEGER)
				 AND p.id = up.cur AND p.room = up.room
				WHERE p.reply_to IS NOT NULL AND up.depth < 1000
			)
			INSERT OR REPLACE INTO v3_roots (seq, root) SELECT seq, cur FROM up ORDER BY depth;
			UPDATE messages SET thread = (SELECT root FROM v3_roots r WHERE r.seq = messages.seq) WHERE reply_to IS NOT NULL;
			DROP TABLE v3_roots;

			-- A thread's replies (its root is found by id). Partial: messages that are not replies skip it.
			CREATE INDEX messages_thread ON messages (room, thread, seq) WHERE thread IS NOT NULL;
			-- A topic's log and its count (recipient '#name'). Partial: only topic messages are in it; queries
			-- repeat the same GLOB term so that SQLite may use it.
			CREATE INDEX messages_topic ON messages (room, recipient, seq) WHERE recipient GLOB '#*';

			-- Who subscribes to which topic, since when. The primary key is a topic's audience (read inside the
			-- append of a topic send); the index is a session's topics (its bound, forgetting it).
			CREATE TABLE subscriptions (
				room    TEXT    NOT NULL,
				topic   TEXT    NOT NULL,
				session TEXT    NOT NULL,
				since   INTEGER NOT NULL,
				PRIMARY KEY (room, topic, session)
			) WITHOUT ROWID;
			CREATE INDEX subscriptions_session ON subscriptions (room, session, topic);

			-- Receipts: no row for a delivery means queued. Rows are never written at append, and are deleted with
			-- their message.
			-- A push: these recipients (comma-separated; '*': all of the message's) had the message written to their
			-- connection at this time. One row per message and push, not per delivery: a broadcast pushed to its 50
			-- sessions at once is one row, '*' (written in a batch after the push). A recipient's pushed time is the
			-- earliest of its rows.
			CREATE TABLE receipt_pushes (
				seq        INTEGER NOT NULL,
				at         INTEGER NOT NULL,
				recipients TEXT    NOT NULL,
				PRIMARY KEY (seq, at)
			) WITHOUT ROWID;
			-- Seen: written in the ack's transaction, one row per delivery acked.
			CREATE TABLE receipt_seen (
				seq       INTEGER NOT NULL,
				recipient TEXT    NOT NULL,
				at        INTEGER NOT NULL,
				PRIMARY KEY (seq, recipient)
			) WITHOUT ROWID;
		`,
	},
	{
		// The dashboard (issue 13): a message a person wrote there is marked, so that every view an agent gets
		// can say so. NULL for every other message: adding a nullable column rewrites nothing, and an append
		// writes the same pages as before.
		description: "messages.human: written by a person in the hub's dashboard",
		sql: `
			-- 1: sent through the hub's HTTP API (POST /api/send) by a person; NULL: sent by a session.
			ALTER TABLE messages ADD COLUMN human INTEGER;
		`,
	},
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to SCHEMA_VERSION. Refuses a database written by a newer build rather than guess at
 * its schema. The version is read inside an IMMEDIATE transaction so two processes opening the same new
 * file cannot both run migration 1.
 */
export function migrate(db: Database.Database): { from: number; to: number } {
	const readVersion = () => db.pragma("user_version", { simple: true }) as number;
	return db
		.transaction(() => {
			const from = readVersion();
			if (from > SCHEMA_VERSION)
				throw new Error(
					`database schema version ${from} is newer than this build supports (${SCHEMA_VERSION}); upgrade claude-relay`,
				);
			for (let version = from + 1; version <= SCHEMA_VERSION; version++) {
				const migration = MIGRATIONS[version - 1];
				if (!migration) throw new Error(`missing migration ${version}`);
				db.exec(migration.sql);
				// user_version lives in the file header and is covered by the transaction.
				db.pragma(`user_version = ${version}`);
			}
			return { from, to: SCHEMA_VERSION };
		})
		.immediate();
}
