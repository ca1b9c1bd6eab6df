/**
 * OperatorStore on the hub's SQLite connection (SqliteStore's `operator`): what the dashboard and the JSON API
 * read. Every query walks an index it already has (rooms: skip-scans of messages_room_seq and the sessions
 * key; a room's messages: messages_room_seq; a recipient's delivery: the pending key), so the view adds
 * nothing to what an append writes.
 */
import { statSync } from "node:fs";
import type Database from "better-sqlite3";
import type { Message } from "../protocol.js";
import { seqOfMessageId } from "./ids.js";
import { MESSAGE, type MessageRow, toMessage } from "./sqlite-rows.js";
import type { HistoryPage, MessageDeliveries, OperatorStore, OperatorThreadQuery, RoomMessagesQuery, RoomsQuery, ThreadPage } from "./store.js";

interface ThreadParams {
	room: string;
	root: string;
	rootSeq: number;
	after: number;
	limit: number;
}

interface PageParams {
	room: string;
	session: string | null;
	after: number;
	before: number;
	limit: number;
}

function prepare(db: Database.Database) {
	const page = (order: "ASC" | "DESC") =>
		db.prepare<PageParams, MessageRow>(
			`SELECT ${MESSAGE} FROM messages m
			 WHERE m.room = @room AND m.seq > @after AND m.seq < @before
			   AND (@session IS NULL OR m.sender = @session OR instr(',' || m.recipient || ',', ',' || @session || ',') > 0)
			 ORDER BY m.seq ${order} LIMIT @limit`,
		);
	// Distinct rooms by skipping through each index (one probe per room, at most `limit` of them per table),
	// not by reading every row.
	const skip = (t: string, table: string) =>
		`${t}(room, n) AS (SELECT min(room), 1 FROM ${table} WHERE room > @after
		 UNION ALL SELECT (SELECT min(room) FROM ${table} WHERE room > ${t}.room), ${t}.n + 1 FROM ${t}
		 WHERE ${t}.room IS NOT NULL AND ${t}.n < @limit)`;
	return {
		rooms: db
			.prepare<{ after: string; limit: number }, string>(
				`WITH RECURSIVE ${skip("r", "messages")}, ${skip("s", "sessions")}
				 SELECT room FROM r WHERE room IS NOT NULL UNION SELECT room FROM s WHERE room IS NOT NULL
				 ORDER BY room LIMIT @limit`,
			)
			.pluck(),
		pageAsc: page("ASC"),
		pageDesc: page("DESC"),
		message: db.prepare<[number, string], MessageRow>(`SELECT ${MESSAGE} FROM messages m WHERE m.seq = ? AND m.id = ?`),
		audience: db.prepare<[number], string | null>("SELECT recipients FROM messages WHERE seq = ?").pluck(),
		owes: db.prepare<[string, string, number], number>("SELECT 1 FROM pending WHERE room = ? AND recipient = ? AND seq = ?").pluck(),
		threadOf: db
			.prepare<[number, string, string], string>("SELECT coalesce(thread, id) FROM messages WHERE seq = ? AND id = ? AND room = ?")
			.pluck(),
		// The store's threadPage without the viewer: the root (by id) and its replies (messages_thread), merged by seq.
		threadPage: db.prepare<ThreadParams, MessageRow>(
			`SELECT * FROM (SELECT ${MESSAGE} FROM messages m
			   WHERE m.seq = @rootSeq AND m.id = @root AND m.room = @room AND m.seq > @after)
			 UNION ALL
			 SELECT * FROM (SELECT ${MESSAGE} FROM messages m
			   WHERE m.room = @room AND m.thread = @root AND m.seq > @after
			   ORDER BY m.seq LIMIT @limit)
			 ORDER BY seq LIMIT @limit`,
		),
	};
}

type Statements = ReturnType<typeof prepare>;

/** Byte order of the UTF-8 form, as SQLite compares text. */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

export class SqliteOperatorStore implements OperatorStore {
	readonly #statements = new WeakMap<Database.Database, Statements>();

	constructor(
		private readonly db: () => Database.Database,
		private readonly file: () => string,
	) {}

	#st(): Statements {
		const db = this.db();
		let st = this.#statements.get(db);
		if (!st) {
			st = prepare(db);
			this.#statements.set(db, st);
		}
		return st;
	}

	async rooms(query: RoomsQuery): Promise<string[]> {
		// "" sorts before every name, so it is "from the start".
		return this.#st().rooms.all({ after: query.after ?? "", limit: Math.max(0, query.limit) });
	}

	async messages(room: string, query: RoomMessagesQuery): Promise<HistoryPage> {
		const st = this.#st();
		const limit = Math.max(0, query.limit);
		const forward = query.after !== undefined;
		const rows = (forward ? st.pageAsc : st.pageDesc).all({
			room,
			session: query.session ?? null,
			after: query.after ?? Number.MIN_SAFE_INTEGER,
			before: query.before ?? Number.MAX_SAFE_INTEGER,
			limit: limit + 1, // one more than asked tells whether there are more
		});
		const page = rows.slice(0, limit).map(toMessage);
		return { messages: forward ? page : page.reverse(), hasMore: rows.length > limit };
	}

	async deliveries(messageId: string): Promise<MessageDeliveries | null> {
		const seq = seqOfMessageId(messageId);
		if (seq === null) return null;
		const st = this.#st();
		const row = st.message.get(seq, messageId);
		if (!row) return null;
		const message: Message = toMessage(row);
		// A direct message's recipient is its `to`; every other audience (a list, a broadcast, a topic's
		// subscribers) is stored with the message.
		const stored = st.audience.get(seq);
		const audience = stored ? (JSON.parse(stored) as string[]) : [message.to];
		const recipients = [...new Set(audience)]
			.sort(byBytes)
			.map((session) => ({ session, acked: st.owes.get(message.room, session, seq) === undefined }));
		return { message, recipients };
	}

	async thread(room: string, messageId: string, query: OperatorThreadQuery): Promise<ThreadPage | null> {
		const st = this.#st();
		return this.db().transaction(() => {
			const seq = seqOfMessageId(messageId);
			const named = seq === null ? undefined : st.threadOf.get(seq, messageId, room);
			const root = named ?? messageId;
			const limit = Math.max(0, query.limit);
			const rows = st.threadPage.all({ room, root, rootSeq: seqOfMessageId(root) ?? -1, after: query.after ?? Number.MIN_SAFE_INTEGER, limit: limit + 1 });
			if (named === undefined && rows.length === 0) return null;
			return { thread: root, messages: rows.slice(0, limit).map(toMessage), hasMore: rows.length > limit };
		})();
	}

	async sizeBytes(): Promise<number | null> {
		const file = this.file();
		let total = 0;
		// -appends: the store's journal of appends not yet committed (sqlite-journal.ts).
		for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-appends`]) {
			try {
				total += statSync(f).size;
			} catch {
				// -wal and -shm exist only while a connection has the database open in WAL mode
			}
		}
		return total;
	}
}
