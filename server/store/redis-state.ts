/**
 * StateStore on Redis (RedisStore's `state`): each write is one Lua script, so compare-and-set, appends and
 * the room bounds hold across every hub sharing the server. The script also PUBLISHes the change on
 * `<prefix>fanout`, inside the commit, so watchers on every hub see a key's versions in order (as for
 * messages, see server/fanout-redis.ts).
 *
 * Keys (P = prefix, parts through `enc`):
 *   P st:<room>:<key>    hash: v (value JSON), ver, by, at, size, n (array length, or -1 when not an array)
 *   P stkeys:<room>      zset, all scores 0: the room's keys, listed in byte order with ZRANGEBYLEX
 *   P sttot:<room>       hash: keys, bytes (the room's totals, for its bounds)
 *
 * Values are never decoded in Lua (its JSON encoder rounds numbers to 14 digits): an append splices the
 * item's JSON into the array's text, and cutting to maxItems skips whole items with a small scanner that
 * relies on the text being JSON.stringify's (no whitespace), which is all the hub ever stores.
 */
import type { Redis } from "ioredis";
import { encodeKeyPart, PRELUDE } from "./redis-scripts.js";
import { bytesLimitReason, keysLimitReason } from "./state-common.js";
import type {
	StateAppendInput,
	StateAppendOutcome,
	StateDeleteInput,
	StateDeleteOutcome,
	StateInfoRecord,
	StateListQuery,
	StateRecord,
	StateSetInput,
	StateLimits,
	StateSetOutcome,
	StateStore,
} from "./store.js";

type ScriptArg = string | number;
/** The client with this file's scripts defined on it (RedisStore.open defines them). */
export type Scripted = Redis & Record<ScriptName, (...args: ScriptArg[]) => Promise<unknown>>;

/** Shared by the write scripts: the room's totals and bounds, the record as a reply, the change event. */
const STATE_PRELUDE = `
local function stKey(room, k) return key("st", room, k) end
local function record(h)
	-- {json, ver, by, at, size} of an existing key, or nil
	local f = redis.call("HMGET", h, "v", "ver", "by", "at", "size", "n")
	if not f[1] then return nil end
	return f
end
-- Why writing newSize bytes over oldSize (nil: a new key) breaks the room's bounds, or nil.
local function overLimit(room, oldSize, newSize, maxKeys, maxRoomBytes)
	local t = redis.call("HMGET", key("sttot", room), "keys", "bytes")
	local keys, bytes = tonumber(t[1] or 0), tonumber(t[2] or 0)
	if oldSize == nil and keys + 1 > maxKeys then return {"limit", "keys", keys} end
	local after = bytes - (oldSize or 0) + newSize
	if newSize > (oldSize or 0) and after > maxRoomBytes then return {"limit", "bytes", after} end
	return nil
end
local function writeValue(room, k, json, n, by, at, old)
	local h = stKey(room, k)
	local ver = 1
	if old then ver = tonumber(old[2]) + 1 end
	redis.call("HSET", h, "v", json, "ver", ver, "by", by, "at", at, "size", #json, "n", n)
	redis.call("ZADD", key("stkeys", room), 0, k)
	local tot = key("sttot", room)
	if not old then redis.call("HINCRBY", tot, "keys", 1) end
	redis.call("HINCRBY", tot, "bytes", #json - tonumber(old and old[5] or 0))
	return ver
end
-- roomJ, keyJ, byJ: the JSON strings of room, key and writer, made by the caller.
local function publish(roomJ, keyJ, ver, byJ, at, deleted)
	redis.call("PUBLISH", P .. "fanout", '{"kind":"state","room":' .. roomJ .. ',"key":' .. keyJ .. ',"version":' .. ver ..
		',"updatedBy":' .. byJ .. ',"updatedAt":' .. at .. ',"deleted":' .. deleted .. '}')
end
`;

/** Skips one JSON value of canonical text starting at i; returns the index just after it. */
const SCANNER = `
local function skipString(s, i)
	local j = i + 1
	while true do
		local q = string.find(s, '["\\\\]', j)
		if string.sub(s, q, q) == '"' then return q + 1 end
		j = q + 2
	end
end
local function skipValue(s, i)
	local c = string.sub(s, i, i)
	if c == '"' then return skipString(s, i) end
	if c == "[" or c == "{" then
		local depth, j = 0, i
		while true do
			local p = string.find(s, '[%[%]{}"]', j)
			local ch = string.sub(s, p, p)
			if ch == '"' then
				j = skipString(s, p)
			else
				if ch == "[" or ch == "{" then depth = depth + 1 else depth = depth - 1 end
				j = p + 1
				if depth == 0 then return j end
			end
		end
	end
	return string.find(s, "[,%]}]", i)
end
`;

const BODIES = {
	/**
	 * ARGV: P, room, key, json, n, hasExpected, expected, by, at, maxValue, maxKeys, maxRoomBytes, roomJ, keyJ, byJ.
	 * {"ok", ver, created} | {"conflict", json, ver, by, at, size} ({"conflict"} when absent) | {"too_large", size} | {"limit", what, n}
	 */
	relayStateSet: `${STATE_PRELUDE}
local room, k, json, n = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local hasExpected, expected = ARGV[6] == "1", tonumber(ARGV[7])
local by, at = ARGV[8], ARGV[9]
local old = record(stKey(room, k))
if hasExpected and (old and tonumber(old[2]) or 0) ~= expected then
	if old then return {"conflict", old[1], old[2], old[3], old[4], old[5]} end
	return {"conflict"}
end
if #json > tonumber(ARGV[10]) then return {"too_large", #json} end
local limit = overLimit(room, old and tonumber(old[5]) or nil, #json, tonumber(ARGV[11]), tonumber(ARGV[12]))
if limit then return limit end
local ver = writeValue(room, k, json, n, by, at, old)
publish(ARGV[13], ARGV[14], ver, ARGV[15], at, "false")
return {"ok", ver, old and 0 or 1}
`,

	/**
	 * ARGV: P, room, key, item, maxItems (0: none), by, at, maxValue, maxKeys, maxRoomBytes, roomJ, keyJ, byJ.
	 * {"ok", ver, created, length, dropped, size} | {"not_array"} | {"too_large", size} | {"limit", what, n}
	 */
	relayStateAppend: `${STATE_PRELUDE}${SCANNER}
local room, k, item, maxItems = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local by, at = ARGV[6], ARGV[7]
local old = record(stKey(room, k))
local n, json = 0, "[]"
if old then
	n, json = tonumber(old[6]), old[1]
	if n < 0 then return {"not_array"} end
end
if n == 0 then json = "[" .. item .. "]" else json = string.sub(json, 1, -2) .. "," .. item .. "]" end
n = n + 1
local dropped = 0
if maxItems > 0 and n > maxItems then
	dropped = n - maxItems
	local pos = 2
	for _ = 1, dropped do pos = skipValue(json, pos) + 1 end
	json = "[" .. string.sub(json, pos)
	n = maxItems
end
if #json > tonumber(ARGV[8]) then return {"too_large", #json} end
local limit = overLimit(room, old and tonumber(old[5]) or nil, #json, tonumber(ARGV[9]), tonumber(ARGV[10]))
if limit then return limit end
local ver = writeValue(room, k, json, n, by, at, old)
publish(ARGV[11], ARGV[12], ver, ARGV[13], at, "false")
return {"ok", ver, old and 0 or 1, n, dropped, #json}
`,

	/**
	 * ARGV: P, room, key, hasExpected, expected, by, at, roomJ, keyJ, byJ.
	 * {"ok", json, ver, by, at, size} (deleted) | {"ok"} (absent) | {"conflict", ...} like set
	 */
	relayStateDelete: `${STATE_PRELUDE}
local room, k = ARGV[2], ARGV[3]
local hasExpected, expected = ARGV[4] == "1", tonumber(ARGV[5])
local h = stKey(room, k)
local old = record(h)
if hasExpected and (old and tonumber(old[2]) or 0) ~= expected then
	if old then return {"conflict", old[1], old[2], old[3], old[4], old[5]} end
	return {"conflict"}
end
if not old then return {"ok"} end
redis.call("DEL", h)
redis.call("ZREM", key("stkeys", room), k)
local tot = key("sttot", room)
if redis.call("HINCRBY", tot, "keys", -1) <= 0 then redis.call("DEL", tot) else redis.call("HINCRBY", tot, "bytes", -tonumber(old[5])) end
publish(ARGV[8], ARGV[9], old[2], ARGV[10], ARGV[7], "true")
return {"ok", old[1], old[2], old[3], old[4], old[5]}
`,

	/** ARGV: P, room, min, max, limit. Rows {key, ver, by, at, size}, at most limit. */
	relayStateList: `
local room = ARGV[2]
local keys = redis.call("ZRANGEBYLEX", key("stkeys", room), ARGV[3], ARGV[4], "LIMIT", 0, tonumber(ARGV[5]))
local out = {}
for _, k in ipairs(keys) do
	local f = redis.call("HMGET", key("st", room, k), "ver", "by", "at", "size")
	if f[1] then out[#out + 1] = {k, f[1], f[2], f[3], f[4]} end
end
return out
`,
} as const;

type ScriptName = keyof typeof BODIES;

export const STATE_SCRIPTS = Object.fromEntries(Object.entries(BODIES).map(([name, body]) => [name, PRELUDE + body])) as Record<
	keyof typeof BODIES,
	string
>;

type Row = [string?, string?, string?, string?, string?];

export class RedisStateStore implements StateStore {
	constructor(
		private readonly client: () => Scripted,
		private readonly prefix: string,
	) {}

	async get(room: string, key: string): Promise<StateRecord | null> {
		const [v, ver, by, at, size] = await this.client().hmget(this.#key("st", room, key), "v", "ver", "by", "at", "size");
		if (v == null || ver == null) return null;
		return { room, key, valueJson: v, version: Number(ver), updatedBy: by ?? "", updatedAt: Number(at), size: Number(size) };
	}

	async set(input: StateSetInput): Promise<StateSetOutcome> {
		const { room, key, limits } = input;
		const reply = (await this.client().relayStateSet(
			this.prefix,
			room,
			key,
			input.valueJson,
			input.items,
			input.expectedVersion === undefined ? 0 : 1,
			input.expectedVersion ?? 0,
			input.updatedBy,
			input.updatedAt,
			limits.maxValueBytes,
			limits.maxKeys,
			limits.maxRoomBytes,
			...this.#eventParts(room, key, input.updatedBy),
		)) as [string, ...unknown[]];
		const [status, a, b] = reply;
		if (status === "ok") {
			const size = Buffer.byteLength(input.valueJson, "utf8");
			return {
				status: "ok",
				record: { room, key, valueJson: input.valueJson, version: Number(a), updatedBy: input.updatedBy, updatedAt: input.updatedAt, size },
				created: Number(b) === 1,
			};
		}
		return this.#failure(reply, room, key, limits) as StateSetOutcome;
	}

	async append(input: StateAppendInput): Promise<StateAppendOutcome> {
		const { room, key, limits } = input;
		const reply = (await this.client().relayStateAppend(
			this.prefix,
			room,
			key,
			input.itemJson,
			input.maxItems ?? 0,
			input.updatedBy,
			input.updatedAt,
			limits.maxValueBytes,
			limits.maxKeys,
			limits.maxRoomBytes,
			...this.#eventParts(room, key, input.updatedBy),
		)) as [string, ...unknown[]];
		const [status, ver, created, length, dropped] = reply;
		if (status === "ok") {
			return {
				status: "ok",
				record: { room, key, version: Number(ver), updatedBy: input.updatedBy, updatedAt: input.updatedAt, size: Number(reply[5]) },
				created: Number(created) === 1,
				length: Number(length),
				dropped: Number(dropped),
			};
		}
		if (status === "not_array") return { status: "not_array" };
		return this.#failure(reply, room, key, limits) as StateAppendOutcome;
	}

	async delete(input: StateDeleteInput): Promise<StateDeleteOutcome> {
		const { room, key } = input;
		const reply = (await this.client().relayStateDelete(
			this.prefix,
			room,
			key,
			input.expectedVersion === undefined ? 0 : 1,
			input.expectedVersion ?? 0,
			input.updatedBy,
			input.updatedAt,
			...this.#eventParts(room, key, input.updatedBy),
		)) as [string, ...unknown[]];
		if (reply[0] === "ok") return { status: "ok", deleted: reply.length > 1 ? this.#record(room, key, reply.slice(1) as string[]) : null };
		return { status: "conflict", current: reply.length > 1 ? this.#record(room, key, reply.slice(1) as string[]) : null };
	}

	async list(room: string, query: StateListQuery): Promise<{ records: StateInfoRecord[]; hasMore: boolean }> {
		const prefix = query.prefix ?? "";
		// Keys are ASCII below DEL: every key with the prefix sorts before prefix + DEL.
		const min = query.after !== undefined && query.after >= prefix ? `(${query.after}` : `[${prefix}`;
		const max = `(${prefix}\u007f`;
		const rows = (await this.client().relayStateList(this.prefix, room, min, max, query.limit + 1)) as Row[];
		const records = rows.slice(0, query.limit).map(([key = "", ver, by, at, size]) => ({
			room,
			key,
			version: Number(ver),
			updatedBy: by ?? "",
			updatedAt: Number(at),
			size: Number(size),
		}));
		return { records, hasMore: rows.length > query.limit };
	}

	#key(kind: string, ...parts: string[]): string {
		return [this.prefix + kind, ...parts.map(encodeKeyPart)].join(":");
	}

	/** The event's strings as JSON, made here so that the script only concatenates. */
	#eventParts(room: string, key: string, by: string): string[] {
		return [JSON.stringify(room), JSON.stringify(key), JSON.stringify(by)];
	}

	#record(room: string, key: string, [json = "", ver, by, at, size]: string[]): StateRecord {
		return { room, key, valueJson: json, version: Number(ver), updatedBy: by ?? "", updatedAt: Number(at), size: Number(size) };
	}

	#failure(reply: [string, ...unknown[]], room: string, key: string, limits: StateLimits) {
		const [status, ...rest] = reply;
		if (status === "conflict") return { status: "conflict" as const, current: rest.length > 0 ? this.#record(room, key, rest as string[]) : null };
		if (status === "too_large") return { status: "too_large" as const, bytes: Number(rest[0]) };
		if (status === "limit") {
			const [what, n] = rest;
			return { status: "limit" as const, reason: what === "keys" ? keysLimitReason(Number(n), limits) : bytesLimitReason(Number(n), limits) };
		}
		throw new Error(`unexpected state script reply ${JSON.stringify(reply).slice(0, 200)}`);
	}
}
