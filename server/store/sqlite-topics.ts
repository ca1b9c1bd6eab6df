/**
 * Topic subscriptions on SQLite (SqliteStore.topics), on the store's own connection: the `subscriptions`
 * table of schema version 3 (migrations.ts). A topic's log is its messages (recipient `#name`), counted
 * through the partial index messages_topic, so a topic send writes no statistics row.
 *
 * A topic send reads its audience inside its append's transaction (`audience`). Reading 50 rows there cost
 * about a tenth of a 50-recipient fan-out (measured by `npm run bench`, topics), so audiences are kept in
 * memory once read: this store's own writes update them, and any commit by another connection to the file
 * (PRAGMA data_version changes; the checkpointer commits nothing) drops them all, checked once per batch.
 */
import type Database from "better-sqlite3";
import { TOPIC_PREFIX } from "../protocol.js";
import { guardSubStorePrototype, type StorageHealth, type SubscribeOutcome, TOPIC_METHODS, type TopicRecord, type TopicStore } from "./store.js";
import { sqliteStorageError } from "./sqlite.js";

function prepare(db: Database.Database) {
	return {
		isSubscribed: db
			.prepare<[string, string, string], number>("SELECT 1 FROM subscriptions WHERE room = ? AND topic = ? AND session = ?")
			.pluck(),
		countOf: db.prepare<[string, string], number>("SELECT count(*) FROM subscriptions WHERE room = ? AND session = ?").pluck(),
		insert: db.prepare<[string, string, string, number]>("INSERT INTO subscriptions (room, topic, session, since) VALUES (?, ?, ?, ?)"),
		remove: db.prepare<[string, string, string]>("DELETE FROM subscriptions WHERE room = ? AND topic = ? AND session = ?"),
		subscriptions: db
			.prepare<[string, string], string>("SELECT topic FROM subscriptions WHERE room = ? AND session = ? ORDER BY topic")
			.pluck(),
		subscribers: db
			.prepare<[string, string], string>("SELECT session FROM subscriptions WHERE room = ? AND topic = ? ORDER BY session")
			.pluck(),
		roomSubscriptions: db.prepare<[string], { topic: string; session: string; since: number }>(
			"SELECT topic, session, since FROM subscriptions WHERE room = ? ORDER BY topic, session",
		),
		// Counted from the index alone (room, recipient, seq); the newest message's time is one lookup per topic.
		logs: db.prepare<[string], { to: string; messages: number; last: number }>(
			`SELECT m.recipient AS "to", count(*) AS messages, max(m.seq) AS last FROM messages m
			 WHERE m.room = ? AND m.recipient GLOB '#*' GROUP BY m.recipient`,
		),
		sentAt: db.prepare<[number], number>("SELECT sent_at FROM messages WHERE seq = ?").pluck(),
		forget: db.prepare<[string, string]>("DELETE FROM subscriptions WHERE room = ? AND session = ?"),
	};
}

type Statements = ReturnType<typeof prepare>;

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class SqliteTopicStore implements TopicStore {
	#st: Statements | null = null;
	/** room\0topic → its subscribers, sorted, as last read or written by this connection. */
	readonly #audiences = new Map<string, string[]>();
	#dataVersion = -1;

	constructor(
		/** The store's connection, after its queued appends are written (so counts see them). */
		private readonly ready: () => { db: Database.Database },
		readonly health: StorageHealth,
	) {}

	/** Prepares the statements on the store's connection, once it is open and migrated. */
	attach(db: Database.Database): void {
		this.#st = prepare(db);
	}

	/**
	 * Inside an append's transaction: drops the cached audiences if another connection committed since the
	 * last look (then they may be stale). Call once per batch.
	 */
	revalidate(db: Database.Database): void {
		const version = db.pragma("data_version", { simple: true }) as number;
		if (version !== this.#dataVersion) this.#audiences.clear();
		this.#dataVersion = version;
	}

	/** A topic's subscribers now (sorted), for the append of a topic send; read inside its transaction. */
	audience(room: string, topic: string): readonly string[] {
		const key = `${room}\u0000${topic}`;
		let subs = this.#audiences.get(key);
		if (!subs) {
			if (!this.#st) throw new Error("store is not open");
			subs = this.#st.subscribers.all(room, topic);
			this.#audiences.set(key, subs);
		}
		return subs;
	}

	#use(): { db: Database.Database; st: Statements } {
		const { db } = this.ready();
		if (!this.#st) throw new Error("store is not open");
		return { db, st: this.#st };
	}

	async subscribe(room: string, topic: string, session: string, since: number, maxPerSession: number): Promise<SubscribeOutcome> {
		const { db, st } = this.#use();
		return db
			.transaction((): SubscribeOutcome => {
				if (st.isSubscribed.get(room, topic, session)) return { status: "ok", changed: false };
				if ((st.countOf.get(room, session) ?? 0) >= maxPerSession) return { status: "limit", limit: maxPerSession };
				st.insert.run(room, topic, session, since);
				this.#audiences.delete(`${room}\u0000${topic}`);
				return { status: "ok", changed: true };
			})
			.immediate();
	}

	async unsubscribe(room: string, topic: string, session: string): Promise<boolean> {
		const removed = this.#use().st.remove.run(room, topic, session).changes > 0;
		this.#audiences.delete(`${room}\u0000${topic}`);
		return removed;
	}

	async subscriptions(room: string, session: string): Promise<string[]> {
		return this.#use().st.subscriptions.all(room, session);
	}

	async subscribers(room: string, topic: string): Promise<string[]> {
		return this.#use().st.subscribers.all(room, topic);
	}

	async list(room: string): Promise<TopicRecord[]> {
		const { db, st } = this.#use();
		return db.transaction(() => {
			const topics = new Map<string, TopicRecord>();
			const get = (topic: string) => {
				let t = topics.get(topic);
				if (!t) {
					t = { topic, subscribers: [], messages: 0, lastMessageAt: null };
					topics.set(topic, t);
				}
				return t;
			};
			for (const row of st.roomSubscriptions.all(room)) get(row.topic).subscribers.push({ session: row.session, since: row.since });
			for (const row of st.logs.all(room)) {
				const t = get(row.to.slice(TOPIC_PREFIX.length));
				t.messages = row.messages;
				t.lastMessageAt = st.sentAt.get(row.last) ?? null;
			}
			return [...topics.values()].sort((a, b) => byName(a.topic, b.topic));
		})();
	}

	async forgetSession(room: string, session: string): Promise<number> {
		const n = this.#use().st.forget.run(room, session).changes;
		if (n > 0) this.#audiences.clear();
		return n;
	}
}

// Through an arrow: sqlite.ts imports this module, so its exports are read when a failure happens, not now.
guardSubStorePrototype(SqliteTopicStore.prototype, TOPIC_METHODS, (err) => sqliteStorageError(err));
