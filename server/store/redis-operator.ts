/**
 * OperatorStore on Redis (RedisStore's `operator`): what the dashboard and the JSON API read, each a script or
 * a single command on the store's connection, in the key layout of redis-scripts.ts.
 */
import type { Redis } from "ioredis";
import { PRELUDE } from "./redis-scripts.js";
import type { Message } from "../protocol.js";
import type { HistoryPage, MessageDeliveries, OperatorStore, OperatorThreadQuery, RoomMessagesQuery, RoomsQuery, ThreadPage } from "./store.js";

const BODIES = {
	/**
	 * ARGV: P, room, session, hasSession, minScore, maxScore, limit, forward. Up to limit + 1 messages of the
	 * room (only those from or to `session`, alone or in a list, with hasSession), in walking order.
	 */
	relayOpMessages: `
local room, session, hasSession = ARGV[2], ARGV[3], ARGV[4] == "1"
local min, max, want, forward = ARGV[5], ARGV[6], tonumber(ARGV[7]) + 1, ARGV[8] == "1"
local roomKey = key("room", room)
local out, offset = {}, 0
while #out < want do
	local chunk
	if forward then chunk = redis.call("ZRANGEBYSCORE", roomKey, min, max, "LIMIT", offset, 256)
	else chunk = redis.call("ZREVRANGEBYSCORE", roomKey, max, min, "LIMIT", offset, 256) end
	for _, seq in ipairs(chunk) do
		local f = redis.call("HMGET", msgKey(seq), "from", "to", "json")
		if f[3] and (not hasSession or f[1] == session or string.find("," .. f[2] .. ",", "," .. session .. ",", 1, true) ~= nil) then
			out[#out + 1] = f[3]
			if #out == want then break end
		end
	end
	if #chunk < 256 then break end
	offset = offset + 256
end
return out
`,

	/** ARGV: P, id. {json, recipient, owes (1/0), recipient, owes, ...}, or nil for no such message. */
	relayOpDeliveries: `
local seq = seqOf(ARGV[2])
if not seq then return false end
local f = redis.call("HMGET", msgKey(seq), "room", "json")
local out = {f[2]}
for _, r in ipairs(redis.call("SMEMBERS", P .. "rcpt:" .. seq)) do
	out[#out + 1] = r
	out[#out + 1] = redis.call("ZSCORE", key("inbox", f[1], r), seq) and 1 or 0
end
return out
`,

	/**
	 * ARGV: P, room, id, min ("-inf" or "(<seq>"), limit. relayThread without the viewer: {thread, json...} with
	 * up to limit + 1 messages (root first if it is in the page, then replies by seq), or nil for nothing.
	 */
	relayOpThread: `
local room, id, min, want = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]) + 1
local thread, found = id, false
local named = seqOf(id)
if named then
	local f = redis.call("HMGET", msgKey(named), "room", "thread")
	if f[1] == room then
		found = true
		thread = f[2] or id
	end
end
local out = {thread}
local after = -math.huge
if min ~= "-inf" then after = tonumber(string.sub(min, 2)) end
local root = seqOf(thread)
if root and tonumber(root) > after and redis.call("HGET", msgKey(root), "room") == room then
	out[#out + 1] = json(root)
end
local cursor = min
while #out - 1 < want do
	local chunk = redis.call("ZRANGEBYSCORE", key("thr", room, thread), cursor, "+inf", "LIMIT", 0, want)
	for _, seq in ipairs(chunk) do
		local m = json(seq)
		if m then
			out[#out + 1] = m
			if #out - 1 == want then break end
		end
	end
	if #chunk < want then break end
	cursor = "(" .. chunk[#chunk]
end
if not found and #out == 1 then return false end
return out
`,
} as const;

export const OPERATOR_SCRIPTS = Object.fromEntries(Object.entries(BODIES).map(([name, body]) => [name, PRELUDE + body])) as Record<
	keyof typeof BODIES,
	string
>;

type Scripted = Redis & Record<keyof typeof BODIES, (...args: (string | number)[]) => Promise<unknown>>;

/** Byte order of the UTF-8 form, as the other backends give names. */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

export class RedisOperatorStore implements OperatorStore {
	constructor(
		private readonly client: () => Redis,
		private readonly prefix: string,
	) {}

	async rooms(query: RoomsQuery): Promise<string[]> {
		// Two small sets (rooms with messages, rooms with sessions); sorted and paged here.
		const all = await this.client().sunion(`${this.prefix}rooms`, `${this.prefix}session-rooms`);
		const after = query.after;
		return all
			.filter((r) => after === undefined || byBytes(r, after) > 0)
			.sort(byBytes)
			.slice(0, Math.max(0, query.limit));
	}

	async messages(room: string, query: RoomMessagesQuery): Promise<HistoryPage> {
		const limit = Math.max(0, query.limit);
		const forward = query.after !== undefined;
		const rows = (await (this.client() as Scripted).relayOpMessages(
			this.prefix,
			room,
			query.session ?? "",
			query.session === undefined ? 0 : 1,
			query.after === undefined ? "-inf" : `(${query.after}`,
			query.before === undefined ? "+inf" : `(${query.before}`,
			limit,
			forward ? 1 : 0,
		)) as string[];
		const page = rows.slice(0, limit).map((json) => JSON.parse(json) as Message);
		return { messages: forward ? page : page.reverse(), hasMore: rows.length > limit };
	}

	async deliveries(messageId: string): Promise<MessageDeliveries | null> {
		const reply = (await (this.client() as Scripted).relayOpDeliveries(this.prefix, messageId)) as [string, ...(string | number)[]] | null;
		if (!reply) return null;
		const [json, ...pairs] = reply;
		const recipients: MessageDeliveries["recipients"] = [];
		for (let i = 0; i + 1 < pairs.length; i += 2) recipients.push({ session: String(pairs[i]), acked: Number(pairs[i + 1]) === 0 });
		return { message: JSON.parse(json) as Message, recipients: recipients.sort((a, b) => byBytes(a.session, b.session)) };
	}

	async thread(room: string, messageId: string, query: OperatorThreadQuery): Promise<ThreadPage | null> {
		const limit = Math.max(0, query.limit);
		const reply = (await (this.client() as Scripted).relayOpThread(
			this.prefix,
			room,
			messageId,
			query.after === undefined ? "-inf" : `(${query.after}`,
			limit,
		)) as string[] | null;
		if (!reply) return null;
		const [thread = messageId, ...rows] = reply;
		return { thread, messages: rows.slice(0, limit).map((json) => JSON.parse(json) as Message), hasMore: rows.length > limit };
	}

	/** The server's used_memory: every database and prefix on it, not only this hub's keys. */
	async sizeBytes(): Promise<number | null> {
		const info = await this.client().info("memory");
		const m = /^used_memory:(\d+)/m.exec(info);
		return m ? Number(m[1]) : null;
	}
}
