/**
 * state_get / state_set / state_append / state_delete / state_list: a small blackboard per room with
 * compare-and-set. Values are any JSON up to the hub's body limit, stored as JSON text; every write is
 * committed before it is answered, and then published so that watchers (watch.ts) get `state_changed`.
 *
 * Compare-and-set: `expectedVersion` is the version the key must have (0: it must not exist). A mismatch is
 * E_CONFLICT with `details.current` (the key as it is, value included, or null), and changes nothing.
 */
import { ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import { boundSession, type HandlerContext } from "./context.js";
import { checkStateKey, type RequestOf, type ResultOf, STATE_MAX_DEPTH, type StateEntry, type StateInfo } from "../protocol.js";
import type { StateInfoRecord, StateLimits, StateRecord } from "../store/store.js";

/** Entries per state_list page when the request names no limit. */
export const STATE_LIST_DEFAULT = 100;

function validKey(key: string, prefix = false): string {
	const check = checkStateKey(key, prefix);
	if (!check.ok) throw new RelayError(ErrorCode.BAD_KEY, `${check.reason}.`);
	return key;
}

function limits(ctx: HandlerContext): StateLimits {
	return { maxValueBytes: ctx.options.maxBodyBytes, maxKeys: ctx.options.stateMaxKeys, maxRoomBytes: ctx.options.stateMaxRoomBytes };
}

/** True when arrays and objects nest deeper than `max` (checked without recursion). */
function tooDeep(value: unknown, max: number): boolean {
	const stack: Array<[unknown, number]> = [[value, 1]];
	while (stack.length > 0) {
		const [v, depth] = stack.pop() as [unknown, number];
		if (typeof v !== "object" || v === null) continue;
		if (depth > max) return true;
		for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
	}
	return false;
}

/** The JSON text of a value from a frame, or the reason it cannot be stored. */
function toJson(value: unknown, field: "value" | "item", max: number): string {
	if (value === undefined) throw new RelayError(ErrorCode.BAD_FRAME, `state ${field} is missing; any JSON, null included, is allowed.`);
	if (tooDeep(value, STATE_MAX_DEPTH)) {
		throw new RelayError(ErrorCode.BAD_FRAME, `state ${field} nests arrays and objects deeper than ${STATE_MAX_DEPTH} levels.`);
	}
	const json = JSON.stringify(value);
	// A UTF-16 unit is at most 3 bytes of UTF-8: count only when the length cannot settle it.
	if (json.length * 3 > max) {
		const bytes = Buffer.byteLength(json, "utf8");
		if (bytes > max) throw tooLarge(bytes, max);
	}
	return json;
}

const tooLarge = (bytes: number, max: number) =>
	new RelayError(ErrorCode.TOO_LARGE, `State value of ${bytes} bytes (as JSON) is over the ${max}-byte limit; store less, or split it over several keys.`);

const info = (r: StateInfoRecord): StateInfo => ({ key: r.key, version: r.version, updatedBy: r.updatedBy, updatedAt: r.updatedAt, size: r.size });
const entry = (r: StateRecord): StateEntry => ({ ...info(r), value: JSON.parse(r.valueJson) });

function conflict(key: string, expected: number, current: StateRecord | null): RelayError {
	const message =
		current === null
			? `${key} does not exist, so it is not at version ${expected}. Nothing was changed; create it with expectedVersion 0.`
			: expected === 0
				? `${key} already exists (version ${current.version}, last written by ${current.updatedBy}), and expectedVersion 0 says it must not. Nothing was changed; read it and retry with its version.`
				: `${key} is at version ${current.version} (last written by ${current.updatedBy}), not ${expected}. Nothing was changed; read it and retry with its version.`;
	return new RelayError(ErrorCode.CONFLICT, message, { current: current ? entry(current) : null });
}

async function publish(ctx: HandlerContext, room: string, r: StateInfoRecord, deleted: boolean): Promise<void> {
	await ctx.fanout.publish({ kind: "state", room, key: r.key, version: r.version, updatedBy: r.updatedBy, updatedAt: r.updatedAt, deleted });
}

export async function handleStateGet(ctx: HandlerContext, conn: Connection, frame: RequestOf<"state_get">): Promise<ResultOf<"state_get">> {
	const s = boundSession(conn);
	const record = await ctx.store.state.get(s.room, validKey(frame.key));
	return { entry: record ? entry(record) : null };
}

export async function handleStateSet(ctx: HandlerContext, conn: Connection, frame: RequestOf<"state_set">): Promise<ResultOf<"state_set">> {
	const s = boundSession(conn);
	const key = validKey(frame.key);
	const lim = limits(ctx);
	const valueJson = toJson(frame.value, "value", lim.maxValueBytes);
	const out = await ctx.store.state.set({
		room: s.room,
		key,
		valueJson,
		items: Array.isArray(frame.value) ? frame.value.length : -1,
		...(frame.expectedVersion !== undefined ? { expectedVersion: frame.expectedVersion } : {}),
		updatedBy: s.session,
		updatedAt: Date.now(),
		limits: lim,
	});
	if (out.status === "conflict") throw conflict(key, frame.expectedVersion ?? 0, out.current);
	if (out.status === "too_large") throw tooLarge(out.bytes, lim.maxValueBytes);
	if (out.status === "limit") throw new RelayError(ErrorCode.LIMIT, out.reason);
	await publish(ctx, s.room, out.record, false);
	return { entry: info(out.record), created: out.created };
}

export async function handleStateAppend(ctx: HandlerContext, conn: Connection, frame: RequestOf<"state_append">): Promise<ResultOf<"state_append">> {
	const s = boundSession(conn);
	const key = validKey(frame.key);
	const lim = limits(ctx);
	const out = await ctx.store.state.append({
		room: s.room,
		key,
		itemJson: toJson(frame.item, "item", lim.maxValueBytes),
		...(frame.maxItems !== undefined ? { maxItems: frame.maxItems } : {}),
		updatedBy: s.session,
		updatedAt: Date.now(),
		limits: lim,
	});
	if (out.status === "not_array") {
		throw new RelayError(ErrorCode.NOT_ARRAY, `${key} holds a value that is not a JSON array; state_append only appends to arrays (state_set replaces).`);
	}
	if (out.status === "too_large") throw tooLarge(out.bytes, lim.maxValueBytes);
	if (out.status === "limit") throw new RelayError(ErrorCode.LIMIT, out.reason);
	await publish(ctx, s.room, out.record, false);
	return { entry: info(out.record), length: out.length, dropped: out.dropped };
}

export async function handleStateDelete(ctx: HandlerContext, conn: Connection, frame: RequestOf<"state_delete">): Promise<ResultOf<"state_delete">> {
	const s = boundSession(conn);
	const key = validKey(frame.key);
	const now = Date.now();
	const out = await ctx.store.state.delete({
		room: s.room,
		key,
		...(frame.expectedVersion !== undefined ? { expectedVersion: frame.expectedVersion } : {}),
		updatedBy: s.session,
		updatedAt: now,
	});
	if (out.status === "conflict") throw conflict(key, frame.expectedVersion ?? 0, out.current);
	if (!out.deleted) return { deleted: false, version: null };
	await publish(ctx, s.room, { ...out.deleted, updatedBy: s.session, updatedAt: now }, true);
	return { deleted: true, version: out.deleted.version };
}

export async function handleStateList(ctx: HandlerContext, conn: Connection, frame: RequestOf<"state_list">): Promise<ResultOf<"state_list">> {
	const s = boundSession(conn);
	const prefix = frame.prefix === undefined ? "" : validKey(frame.prefix, true);
	const after = frame.after === undefined ? undefined : validKey(frame.after);
	const page = await ctx.store.state.list(s.room, { prefix, ...(after !== undefined ? { after } : {}), limit: frame.limit ?? STATE_LIST_DEFAULT });
	return { entries: page.records.map(info), hasMore: page.hasMore };
}
