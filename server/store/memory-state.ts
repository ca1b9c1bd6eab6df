/** StateStore in plain Maps (MemoryStore's `state`): the reference semantics, copies out, copies in. */
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

export class MemoryStateStore implements StateStore {
	/** room → key → record. */
	readonly #rooms = new Map<string, Map<string, StateRecord>>();
	readonly #totals = new Map<string, RoomTotals>();

	/** `check` throws when the owning store is closed. */
	constructor(private readonly check: () => void) {}

	async get(room: string, key: string): Promise<StateRecord | null> {
		this.check();
		const r = this.#rooms.get(room)?.get(key);
		return r ? { ...r } : null;
	}

	async set(input: StateSetInput): Promise<StateSetOutcome> {
		this.check();
		const current = this.#rooms.get(input.room)?.get(input.key) ?? null;
		if (input.expectedVersion !== undefined && (current?.version ?? 0) !== input.expectedVersion) {
			return { status: "conflict", current: current ? { ...current } : null };
		}
		const size = utf8Bytes(input.valueJson);
		if (size > input.limits.maxValueBytes) return { status: "too_large", bytes: size };
		const reason = roomLimitReason(this.#totalsOf(input.room), current, size, input.limits);
		if (reason) return { status: "limit", reason };
		const record = this.#write(input.room, input.key, input.valueJson, size, current, input.updatedBy, input.updatedAt);
		return { status: "ok", record: { ...record }, created: current === null };
	}

	async append(input: StateAppendInput): Promise<StateAppendOutcome> {
		this.check();
		const current = this.#rooms.get(input.room)?.get(input.key) ?? null;
		const next = appendToArray(current?.valueJson ?? null, input.itemJson, input.maxItems);
		if (!next) return { status: "not_array" };
		const size = utf8Bytes(next.json);
		if (size > input.limits.maxValueBytes) return { status: "too_large", bytes: size };
		const reason = roomLimitReason(this.#totalsOf(input.room), current, size, input.limits);
		if (reason) return { status: "limit", reason };
		const record = this.#write(input.room, input.key, next.json, size, current, input.updatedBy, input.updatedAt);
		const { valueJson: _, ...info } = record;
		return { status: "ok", record: info, created: current === null, length: next.length, dropped: next.dropped };
	}

	async delete(input: StateDeleteInput): Promise<StateDeleteOutcome> {
		this.check();
		const keys = this.#rooms.get(input.room);
		const current = keys?.get(input.key) ?? null;
		if (input.expectedVersion !== undefined && (current?.version ?? 0) !== input.expectedVersion) {
			return { status: "conflict", current: current ? { ...current } : null };
		}
		if (!current || !keys) return { status: "ok", deleted: null };
		keys.delete(input.key);
		const totals = this.#totalsOf(input.room);
		totals.keys--;
		totals.bytes -= current.size;
		if (keys.size === 0) {
			this.#rooms.delete(input.room);
			this.#totals.delete(input.room);
		}
		return { status: "ok", deleted: { ...current } };
	}

	async list(room: string, query: StateListQuery): Promise<{ records: StateInfoRecord[]; hasMore: boolean }> {
		this.check();
		const prefix = query.prefix ?? "";
		const matches = [...(this.#rooms.get(room)?.values() ?? [])]
			.filter((r) => r.key.startsWith(prefix) && (query.after === undefined || r.key > query.after))
			.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
		const records = matches.slice(0, query.limit).map(({ valueJson: _, ...info }) => info);
		return { records, hasMore: matches.length > query.limit };
	}

	#totalsOf(room: string): RoomTotals {
		let t = this.#totals.get(room);
		if (!t) {
			t = { keys: 0, bytes: 0 };
			this.#totals.set(room, t);
		}
		return t;
	}

	#write(room: string, key: string, valueJson: string, size: number, current: StateRecord | null, updatedBy: string, updatedAt: number): StateRecord {
		let keys = this.#rooms.get(room);
		if (!keys) {
			keys = new Map();
			this.#rooms.set(room, keys);
		}
		const totals = this.#totalsOf(room);
		if (!current) totals.keys++;
		totals.bytes += size - (current?.size ?? 0);
		const record: StateRecord = { room, key, valueJson, version: (current?.version ?? 0) + 1, updatedBy, updatedAt, size };
		keys.set(key, record);
		return record;
	}
}
