/**
 * StateStore on the hub's SQLite connection (SqliteStore's `state`). Every call goes through `db()`, which
 * first writes the message appends queued for the group commit, so a state change is ordered after every
 * message sent before it; each write is one IMMEDIATE transaction, committed before the call resolves.
 * Tables: `state` (one row per key, the value as JSON text) and `state_rooms` (keys and bytes per room, for
 * the bounds), from migration 3.
 */
import type Database from "better-sqlite3";
import { appendToArray, type RoomTotals, roomLimitReason, utf8Bytes } from "./state-common.js";
import type {
	StateAppendInput,
	StateAppendOutcome,
	StateDeleteInput,
	StateDeleteOutcome,
	StateInfoRecord,
	StateListQuery,
	StateRecord,
	StateSetInput,
	StateSetOutcome,
	StateStore,
} from "./store.js";

const RECORD = "room, key, value AS valueJson, version, updated_by AS updatedBy, updated_at AS updatedAt, size";
const INFO = "room, key, version, updated_by AS updatedBy, updated_at AS updatedAt, size";
/** Keys are ASCII below DEL, so every key with a prefix sorts below prefix + DEL: a range on the primary key. */
const PAST_PREFIX = "\u007f";

function prepare(db: Database.Database) {
	return {
		get: db.prepare<[string, string], StateRecord>(`SELECT ${RECORD} FROM state WHERE room = ? AND key = ?`),
		upsert: db.prepare<{ room: string; key: string; value: string; version: number; by: string; at: number; size: number }>(
			`INSERT INTO state (room, key, value, version, updated_by, updated_at, size) VALUES (@room, @key, @value, @version, @by, @at, @size)
			 ON CONFLICT (room, key) DO UPDATE SET value = excluded.value, version = excluded.version,
			   updated_by = excluded.updated_by, updated_at = excluded.updated_at, size = excluded.size`,
		),
		delete: db.prepare<[string, string]>("DELETE FROM state WHERE room = ? AND key = ?"),
		totals: db.prepare<[string], RoomTotals>("SELECT keys, bytes FROM state_rooms WHERE room = ?"),
		addTotals: db.prepare<{ room: string; keys: number; bytes: number }>(
			`INSERT INTO state_rooms (room, keys, bytes) VALUES (@room, @keys, @bytes)
			 ON CONFLICT (room) DO UPDATE SET keys = keys + excluded.keys, bytes = bytes + excluded.bytes`,
		),
		dropEmptyTotals: db.prepare<[string]>("DELETE FROM state_rooms WHERE room = ? AND keys <= 0"),
		list: db.prepare<{ room: string; from: string; to: string; after: string | null; limit: number }, StateInfoRecord>(
			`SELECT ${INFO} FROM state WHERE room = @room AND key >= @from AND key < @to AND (@after IS NULL OR key > @after)
			 ORDER BY key LIMIT @limit`,
		),
	};
}

type Statements = ReturnType<typeof prepare>;

export class SqliteStateStore implements StateStore {
	readonly #statements = new WeakMap<Database.Database, Statements>();

	/** `db` returns the open connection after flushing queued appends (SqliteStore.ready). */
	constructor(private readonly db: () => Database.Database) {}

	#ready(): { db: Database.Database; st: Statements } {
		const db = this.db();
		let st = this.#statements.get(db);
		if (!st) {
			st = prepare(db);
			this.#statements.set(db, st);
		}
		return { db, st };
	}

	async get(room: string, key: string): Promise<StateRecord | null> {
		return this.#ready().st.get.get(room, key) ?? null;
	}

	async set(input: StateSetInput): Promise<StateSetOutcome> {
		const { db, st } = this.#ready();
		return db
			.transaction((): StateSetOutcome => {
				const current = st.get.get(input.room, input.key) ?? null;
				if (input.expectedVersion !== undefined && (current?.version ?? 0) !== input.expectedVersion) return { status: "conflict", current };
				const size = utf8Bytes(input.valueJson);
				if (size > input.limits.maxValueBytes) return { status: "too_large", bytes: size };
				const reason = roomLimitReason(st.totals.get(input.room) ?? { keys: 0, bytes: 0 }, current, size, input.limits);
				if (reason) return { status: "limit", reason };
				const record = this.#write(st, input.room, input.key, input.valueJson, size, current, input.updatedBy, input.updatedAt);
				return { status: "ok", record, created: current === null };
			})
			.immediate();
	}

	async append(input: StateAppendInput): Promise<StateAppendOutcome> {
		const { db, st } = this.#ready();
		return db
			.transaction((): StateAppendOutcome => {
				const current = st.get.get(input.room, input.key) ?? null;
				const next = appendToArray(current?.valueJson ?? null, input.itemJson, input.maxItems);
				if (!next) return { status: "not_array" };
				const size = utf8Bytes(next.json);
				if (size > input.limits.maxValueBytes) return { status: "too_large", bytes: size };
				const reason = roomLimitReason(st.totals.get(input.room) ?? { keys: 0, bytes: 0 }, current, size, input.limits);
				if (reason) return { status: "limit", reason };
				const record = this.#write(st, input.room, input.key, next.json, size, current, input.updatedBy, input.updatedAt);
				const { valueJson: _, ...info } = record;
				return { status: "ok", record: info, created: current === null, length: next.length, dropped: next.dropped };
			})
			.immediate();
	}

	async delete(input: StateDeleteInput): Promise<StateDeleteOutcome> {
		const { db, st } = this.#ready();
		return db
			.transaction((): StateDeleteOutcome => {
				const current = st.get.get(input.room, input.key) ?? null;
				if (input.expectedVersion !== undefined && (current?.version ?? 0) !== input.expectedVersion) return { status: "conflict", current };
				if (!current) return { status: "ok", deleted: null };
				st.delete.run(input.room, input.key);
				st.addTotals.run({ room: input.room, keys: -1, bytes: -current.size });
				st.dropEmptyTotals.run(input.room);
				return { status: "ok", deleted: current };
			})
			.immediate();
	}

	async list(room: string, query: StateListQuery): Promise<{ records: StateInfoRecord[]; hasMore: boolean }> {
		const prefix = query.prefix ?? "";
		const rows = this.#ready().st.list.all({ room, from: prefix, to: prefix + PAST_PREFIX, after: query.after ?? null, limit: query.limit + 1 });
		return { records: rows.slice(0, query.limit), hasMore: rows.length > query.limit };
	}

	#write(st: Statements, room: string, key: string, value: string, size: number, current: StateRecord | null, by: string, at: number): StateRecord {
		const version = (current?.version ?? 0) + 1;
		st.upsert.run({ room, key, value, version, by, at, size });
		st.addTotals.run({ room, keys: current ? 0 : 1, bytes: size - (current?.size ?? 0) });
		return { room, key, valueJson: value, version, updatedBy: by, updatedAt: at, size };
	}
}
