/**
 * The Lua scripts behind RedisStore, one per operation that must be atomic. Redis runs a script with
 * nothing else interleaved, which is what a SQLite transaction gives the other backend.
 *
 * Key layout (P = the prefix, every other part through `encodeKeyPart`/`enc`, so ':' stays a separator):
 *   P seq                       counter: the last seq handed out (never decreases, so seqs are never reused)
 *   P stats                     hash: sessions, pending (kept by the scripts, for O(1) stats)
 *   P msg:<seq>                 hash: json (the Message as returned), id, room, from, to, key (idempotency),
 *                               replyTo and thread (replies only)
 *                               (an id is m-<seq>-<tail>, so it leads to its hash; the stored id must match)
 *   P rcpt:<seq>                set: the recipients of the message (acked or not; for get and duplicates)
 *   P idem:<room>               hash: enc(from) ":" key -> seq, while the message exists
 *   P room:<room>               zset of seqs: history, oldestSeq, per-room cap
 *   P dir:<room>:<from>:<to>    zset of seqs: one direction of a conversation (history `with`)
 *   P sent                      zset seq by sentAt: age-based retention; its size is the message count
 *   P rooms                     set of rooms that hold messages: per-room cap
 *   P inbox:<room>:<recipient>  zset of seqs: the unacked deliveries, in seq order
 *   P lost:<room>:<session>     counter: unacked deliveries retention deleted, until takeLost
 *   P pruned                    hash: room -> highest seq retention deleted there
 *   P session:<room>:<session>  hash: secretHash, meta (JSON), firstSeen, lastSeen, ephemeral ("1"; absent: named)
 *   P ids:<room>                zset, every score 0, of the room's session IDs: pages in ID order (ZRANGEBYLEX)
 *   P session-rooms             set of rooms that have a session (with P rooms: the operator's list of rooms)
 *   P seen                      zset lastSeen by enc(room):enc(session), named sessions: stale-session retention
 *   P seen-eph                  the same for ephemeral sessions (they have a cutoff of their own)
 *   P layout                    the version of this layout: "3" (version 1, before the session lifecycle, had
 *                               a set P sessions:<room> and no ids/seen; version 2 had no P session-rooms;
 *                               RedisStore.open upgrades both)
 *   P thr:<room>:<thread>       zset of seqs: a thread's replies (its root is found by id)
 *   P tlog:<room>:<topic>       zset of seqs: a topic's log (messages to #topic)
 *   P tlogs:<room>              set of topics that have a log
 *   P subs:<room>:<topic>       hash: session -> since (a topic's subscribers)
 *   P subsof:<room>:<session>   set of topics (a session's subscriptions)
 *   P subtopics:<room>          set of topics that have a subscriber
 *   P rs:<seq>                  hash: "p:<recipient>" -> pushedAt, "s:<recipient>" -> seenAt (receipts; none: queued)
 *   P fanout                    pub/sub channel: every committed message (see server/fanout-redis.ts)
 *                               and every state change (redis-state.ts)
 *   P st:..., P cl:..., ...     shared state and file claims: see redis-state.ts and redis-claims.ts
 *
 * Every script takes P as ARGV[1] and no KEYS: keys are derived from data (a message's recipients), which
 * is also why Redis Cluster is not supported.
 */
import { BROADCAST } from "../protocol.js";

/** The key layout these scripts write; RedisStore.open brings older data to it. */
export const LAYOUT_VERSION = "3";

/** The inverse of encodeKeyPart (for members of P seen, which name a session as enc(room):enc(session)). */
export function decodeKeyPart(part: string): string {
	return decodeURIComponent(part);
}

/**
 * Percent-encodes every byte outside [A-Za-z0-9_-] of the UTF-8 form. Must match `enc` in the Lua prelude
 * below byte for byte: TypeScript builds the keys of plain reads, the scripts those of everything else.
 */
export function encodeKeyPart(part: string): string {
	return part.replace(/[^A-Za-z0-9_-]/gu, (c) =>
		[...Buffer.from(c, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
	);
}

/** What every script starts with (the state and claims scripts too): the prefix, `enc`, `key`. */
export const PRELUDE = `
local P = ARGV[1]
local function enc(s)
	return (string.gsub(s, "[^A-Za-z0-9_%-]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
local function key(kind, ...)
	local k = P .. kind
	for i = 1, select("#", ...) do k = k .. ":" .. enc(select(i, ...)) end
	return k
end
local function msgKey(seq) return P .. "msg:" .. seq end
local function json(seq) return redis.call("HGET", msgKey(seq), "json") end
-- The seq of a stored message with exactly this id, or nil: ids are m-<seq>-<tail>, the tail must match.
local function seqOf(id)
	local seq = string.match(id, "^m%-(%d+)%-")
	if seq and redis.call("HGET", msgKey(seq), "id") == id then return seq end
	return nil
end
local BROADCAST = ${JSON.stringify(BROADCAST)}
-- A session as a member of the seen indexes, and the index of its kind.
local function seenMember(room, session) return enc(room) .. ":" .. enc(session) end
local function seenKey(ephemeral) if ephemeral then return P .. "seen-eph" end return P .. "seen" end
local function isTopic(to) return string.sub(to, 1, 1) == "#" end
-- Whether viewer is the addressee of to, alone or in a list "a,b" (names hold no commas).
local function addressed(to, viewer)
	return to == viewer or string.find("," .. to .. ",", "," .. viewer .. ",", 1, true) ~= nil
end
-- Who may read a message: broadcasts and topic messages are public in their room; else sender and addressees.
local function visible(seq, viewer)
	local f = redis.call("HMGET", msgKey(seq), "from", "to")
	if not f[2] then return false end
	return f[2] == BROADCAST or isTopic(f[2]) or f[1] == viewer or addressed(f[2], viewer)
		or redis.call("SISMEMBER", P .. "rcpt:" .. seq, viewer) == 1
end
-- A JSON array of strings (cjson writes an empty table as {}).
local function jsonArray(list)
	if #list == 0 then return "[]" end
	return cjson.encode(list)
end
`;

/** Deletes one message and everything pointing at it; returns how many unacked deliveries it had. */
const DROP = `
local function drop(seq)
	local f = redis.call("HMGET", msgKey(seq), "id", "room", "from", "to", "key", "thread")
	local id, room, from, to, ikey, thread = f[1], f[2], f[3], f[4], f[5], f[6]
	if not id then
		redis.call("ZREM", P .. "sent", seq) -- a stray index entry; nothing else to undo
		return 0
	end
	local lost = 0
	for _, r in ipairs(redis.call("SMEMBERS", P .. "rcpt:" .. seq)) do
		if redis.call("ZREM", key("inbox", room, r), seq) == 1 then
			redis.call("INCR", key("lost", room, r))
			lost = lost + 1
		end
	end
	redis.call("DEL", msgKey(seq), P .. "rcpt:" .. seq, P .. "rs:" .. seq)
	if ikey then redis.call("HDEL", key("idem", room), enc(from) .. ":" .. ikey) end
	if thread then redis.call("ZREM", key("thr", room, thread), seq) end
	if isTopic(to) then
		local topic = string.sub(to, 2)
		local log = key("tlog", room, topic)
		redis.call("ZREM", log, seq)
		if redis.call("ZCARD", log) == 0 then redis.call("SREM", key("tlogs", room), topic) end
	end
	local roomKey = key("room", room)
	redis.call("ZREM", roomKey, seq)
	if redis.call("ZCARD", roomKey) == 0 then redis.call("SREM", P .. "rooms", room) end
	redis.call("ZREM", key("dir", room, from, to), seq)
	redis.call("ZREM", P .. "sent", seq)
	local pruned = redis.call("HGET", P .. "pruned", room)
	if not pruned or tonumber(pruned) < tonumber(seq) then redis.call("HSET", P .. "pruned", room, seq) end
	if lost > 0 then redis.call("HINCRBY", P .. "stats", "pending", -lost) end
	return lost
end
`;

const BODIES = {
	/**
	 * ARGV: P, room, from, to, key, hasKey, idTail, sentAt, restJson, recipientsJson, recipients...
	 * Returns {1, json, recipients} for a duplicate key, else {0, json}. Publishes the committed message.
	 */
	relayAppend: `
local room, from, to, ikey, hasKey = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6] == "1"
local tail, sentAt, rest, replyTo, topic = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local idemKey, idemField = key("idem", room), enc(from) .. ":" .. ikey
if hasKey then
	local earlier = redis.call("HGET", idemKey, idemField)
	if earlier then return {1, json(earlier), redis.call("SMEMBERS", P .. "rcpt:" .. earlier)} end
end
local seq = string.format("%d", redis.call("INCR", P .. "seq"))
local id = "m-" .. seq .. "-" .. tail
-- A reply joins its parent's thread; a parent not in the room (never was, or deleted) is the root itself.
local thread = nil
if replyTo ~= "" then
	thread = replyTo
	local parent = seqOf(replyTo)
	if parent then
		local f = redis.call("HMGET", msgKey(parent), "room", "thread")
		if f[1] == room then thread = f[2] or replyTo end
	end
end
-- The audience: the recipients given, then (a topic send) every subscriber now but the sender.
local recipients, listed = {}, {}
for i = 12, #ARGV do
	if not listed[ARGV[i]] then listed[ARGV[i]] = true; recipients[#recipients + 1] = ARGV[i] end
end
if topic ~= "" then
	local subs = redis.call("HKEYS", key("subs", room, topic))
	table.sort(subs)
	for _, s in ipairs(subs) do
		if s ~= from and not listed[s] then listed[s] = true; recipients[#recipients + 1] = s end
	end
end
-- rest is the JSON of the other fields, serialized by the caller: splice id, seq and thread in front of it.
local message = '{"id":"' .. id .. '","seq":' .. seq .. ',"thread":' .. cjson.encode(thread or id) .. "," .. string.sub(rest, 2)
local mk = msgKey(seq)
redis.call("HSET", mk, "json", message, "id", id, "room", room, "from", from, "to", to)
if hasKey then
	redis.call("HSET", mk, "key", ikey)
	redis.call("HSET", idemKey, idemField, seq)
end
if thread then
	redis.call("HSET", mk, "replyTo", replyTo, "thread", thread)
	redis.call("ZADD", key("thr", room, thread), seq, seq)
elseif replyTo ~= "" then
	redis.call("HSET", mk, "replyTo", replyTo)
end
redis.call("ZADD", key("room", room), seq, seq)
redis.call("ZADD", key("dir", room, from, to), seq, seq)
if isTopic(to) then
	redis.call("ZADD", key("tlog", room, string.sub(to, 2)), seq, seq)
	redis.call("SADD", key("tlogs", room), string.sub(to, 2))
end
redis.call("ZADD", P .. "sent", sentAt, seq)
redis.call("SADD", P .. "rooms", room)
for _, r in ipairs(recipients) do
	redis.call("SADD", P .. "rcpt:" .. seq, r)
	redis.call("ZADD", key("inbox", room, r), seq, seq)
end
if #recipients > 0 then redis.call("HINCRBY", P .. "stats", "pending", #recipients) end
-- Inside the script, so fan-out events leave in seq (= commit) order whichever hub committed them.
redis.call("PUBLISH", P .. "fanout", '{"kind":"message","message":' .. message .. ',"recipients":' .. jsonArray(recipients) .. "}")
return {0, message, recipients}
`,

	/**
	 * ARGV: P, room, recipient, minScore ("-inf" or "(afterSeq"), limit, from, hasFrom, take, replyTo,
	 * hasReplyTo, seenAt. Returns {remaining, json...}; with take=1 the returned deliveries are acked (and
	 * seen at seenAt) in the same step.
	 */
	relayPending: `
local room, recipient = ARGV[2], ARGV[3]
local inbox = key("inbox", room, recipient)
local min, limit, from, hasFrom, take = ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7] == "1", ARGV[8] == "1"
local replyTo, hasReplyTo, seenAt = ARGV[9], ARGV[10] == "1", ARGV[11]
local page, remaining = {}, 0
if not hasFrom and not hasReplyTo then
	if limit > 0 then page = redis.call("ZRANGEBYSCORE", inbox, min, "+inf", "LIMIT", 0, limit) end
	remaining = redis.call("ZCOUNT", inbox, min, "+inf") - #page
else
	-- Filtering reads the inbox in chunks and checks each message, as SQLite's join does.
	local cursor = min
	while true do
		local chunk = redis.call("ZRANGEBYSCORE", inbox, cursor, "+inf", "LIMIT", 0, 256)
		for _, seq in ipairs(chunk) do
			local f = redis.call("HMGET", msgKey(seq), "from", "replyTo")
			if (not hasFrom or f[1] == from) and (not hasReplyTo or f[2] == replyTo) then
				if #page < limit then page[#page + 1] = seq else remaining = remaining + 1 end
			end
		end
		if #chunk < 256 then break end
		cursor = "(" .. chunk[#chunk]
	end
end
local out = {remaining}
for i, seq in ipairs(page) do out[i + 1] = json(seq) end
if take and #page > 0 then
	for _, seq in ipairs(page) do
		redis.call("ZREM", inbox, seq)
		redis.call("HSETNX", P .. "rs:" .. seq, "s:" .. recipient, seenAt)
	end
	redis.call("HINCRBY", P .. "stats", "pending", -#page)
end
return out
`,

	/**
	 * ARGV: P, room, recipient, seenAt, ids... Acks (and marks seen) the deliveries that were unacked; returns
	 * {id, seq, from, ...} for each of them.
	 */
	relayAck: `
local recipient, seenAt = ARGV[3], ARGV[4]
local inbox = key("inbox", ARGV[2], recipient)
local out, n = {}, 0
for i = 5, #ARGV do
	-- Seqs are global, so a seq from another room or recipient is simply not in this inbox.
	local seq = seqOf(ARGV[i])
	if seq and redis.call("ZREM", inbox, seq) == 1 then
		n = n + 1
		redis.call("HSETNX", P .. "rs:" .. seq, "s:" .. recipient, seenAt)
		out[#out + 1] = ARGV[i]
		out[#out + 1] = seq
		out[#out + 1] = redis.call("HGET", msgKey(seq), "from") or ""
	end
end
if n > 0 then redis.call("HINCRBY", P .. "stats", "pending", -n) end
return out
`,

	/**
	 * ARGV: P, then per push: seq, at, n, n recipients. Records pushed times (the first one stays) of messages
	 * that still exist.
	 */
	relayMarkPushed: `
local i = 2
while i <= #ARGV do
	local seq, at, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
	if redis.call("EXISTS", msgKey(seq)) == 1 then
		for j = i + 3, i + 2 + n do redis.call("HSETNX", P .. "rs:" .. seq, "p:" .. ARGV[j], at) end
	end
	i = i + 3 + n
end
return 0
`,

	/** ARGV: P, room, id. {json, recipients, receipts (HGETALL rs)} or nil. */
	relayReceipts: `
local seq = seqOf(ARGV[3])
if not seq or redis.call("HGET", msgKey(seq), "room") ~= ARGV[2] then return false end
return {json(seq), redis.call("SMEMBERS", P .. "rcpt:" .. seq), redis.call("HGETALL", P .. "rs:" .. seq)}
`,

	/**
	 * ARGV: P, room, id, viewer, minScore ("-inf" or "(after"), limit. {thread, json...} (up to limit + 1
	 * messages the viewer may see, root first, replies by seq) or nil when the message is not the viewer's.
	 */
	relayThread: `
local room, id, viewer, min, want = ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]) + 1
local thread, found = id, false
local named = seqOf(id)
if named then
	local f = redis.call("HMGET", msgKey(named), "room", "thread")
	if f[1] == room then
		if not visible(named, viewer) then return false end
		found = true
		thread = f[2] or id
	end
end
local out = {thread}
local after = -math.huge
if min ~= "-inf" then after = tonumber(string.sub(min, 2)) end
local root = seqOf(thread)
if root and tonumber(root) > after and redis.call("HGET", msgKey(root), "room") == room and visible(root, viewer) then
	out[#out + 1] = json(root)
end
local cursor = min
while #out - 1 < want do
	local chunk = redis.call("ZRANGEBYSCORE", key("thr", room, thread), cursor, "+inf", "LIMIT", 0, 256)
	for _, seq in ipairs(chunk) do
		if visible(seq, viewer) then
			out[#out + 1] = json(seq)
			if #out - 1 == want then break end
		end
	end
	if #chunk < 256 then break end
	cursor = "(" .. chunk[#chunk]
end
if not found and #out == 1 then return false end
return out
`,

	/** ARGV: P, room, topic, session, since, max. {1, changed} or {0, max} when at the bound. */
	relaySubscribe: `
local room, topic, session = ARGV[2], ARGV[3], ARGV[4]
local subs = key("subs", room, topic)
if redis.call("HEXISTS", subs, session) == 1 then return {1, 0} end
local mine = key("subsof", room, session)
if redis.call("SCARD", mine) >= tonumber(ARGV[6]) then return {0, tonumber(ARGV[6])} end
redis.call("HSET", subs, session, ARGV[5])
redis.call("SADD", mine, topic)
redis.call("SADD", key("subtopics", room), topic)
return {1, 1}
`,

	/** ARGV: P, room, session, topics... Removes these subscriptions (none named: all of them); returns how many. */
	relayUnsubscribe: `
local room, session = ARGV[2], ARGV[3]
local mine = key("subsof", room, session)
local topics = {}
for i = 4, #ARGV do topics[#topics + 1] = ARGV[i] end
if #topics == 0 then topics = redis.call("SMEMBERS", mine) end
local n = 0
for _, topic in ipairs(topics) do
	local subs = key("subs", room, topic)
	if redis.call("HDEL", subs, session) == 1 then
		n = n + 1
		if redis.call("HLEN", subs) == 0 then redis.call("SREM", key("subtopics", room), topic) end
	end
	redis.call("SREM", mine, topic)
end
return n
`,

	/** ARGV: P, room. {topic, {session, since, ...}, messages, newest sentAt or false}... unordered. */
	relayTopics: `
local room = ARGV[2]
local out = {}
for _, topic in ipairs(redis.call("SUNION", key("subtopics", room), key("tlogs", room))) do
	local log = key("tlog", room, topic)
	local newest = redis.call("ZRANGE", log, -1, -1)[1]
	local at = false
	if newest then at = redis.call("ZSCORE", P .. "sent", newest) or false end
	out[#out + 1] = {topic, redis.call("HGETALL", key("subs", room, topic)), redis.call("ZCARD", log), at}
end
return out
`,

	/** ARGV: P, room, id, viewer. The message's json if the viewer may see it, else nil. */
	relayGetMessage: `
local seq = seqOf(ARGV[3])
if not seq then return false end
local f = redis.call("HMGET", msgKey(seq), "room", "from", "to", "json")
if f[1] ~= ARGV[2] then return false end
local viewer = ARGV[4]
-- The addressee counts even without a delivery, so that anything history shows can be fetched.
if f[3] == BROADCAST or isTopic(f[3]) or f[2] == viewer or addressed(f[3], viewer)
	or redis.call("SISMEMBER", P .. "rcpt:" .. seq, viewer) == 1 then
	return f[4]
end
return false
`,

	/**
	 * ARGV: P, room, viewer, peer, hasPeer, minScore, maxScore, limit, forward, topic, hasTopic.
	 * Returns up to limit + 1 messages (one more tells whether there are more), in walking order.
	 */
	relayHistory: `
local room, viewer, peer, hasPeer = ARGV[2], ARGV[3], ARGV[4], ARGV[5] == "1"
local min, max, want, forward = ARGV[6], ARGV[7], tonumber(ARGV[8]) + 1, ARGV[9] == "1"
local topic, hasTopic = ARGV[10], ARGV[11] == "1"
local function range(k, offset, count)
	if forward then return redis.call("ZRANGEBYSCORE", k, min, max, "LIMIT", offset, count) end
	return redis.call("ZREVRANGEBYSCORE", k, max, min, "LIMIT", offset, count)
end
local seqs = {}
if hasTopic then
	-- A topic's log is public in the room: its own index, nothing to filter.
	seqs = range(key("tlog", room, topic), 0, want)
elseif hasPeer then
	-- A conversation is two directions, each cut at want and merged, as in SQLite.
	local a = range(key("dir", room, viewer, peer), 0, want)
	local b = {}
	if peer ~= viewer then b = range(key("dir", room, peer, viewer), 0, want) end
	local i, j = 1, 1
	while #seqs < want and (i <= #a or j <= #b) do
		local x, y = tonumber(a[i]), tonumber(b[j])
		local fromA = y == nil or (x ~= nil and ((forward and x < y) or (not forward and x > y)))
		if fromA then seqs[#seqs + 1] = a[i]; i = i + 1 else seqs[#seqs + 1] = b[j]; j = j + 1 end
	end
else
	-- A room's history walks its seqs and filters: broadcasts are most of what a room holds.
	local offset = 0
	while #seqs < want do
		local chunk = range(key("room", room), offset, 256)
		for _, seq in ipairs(chunk) do
			local f = redis.call("HMGET", msgKey(seq), "from", "to")
			if f[2] == BROADCAST or f[1] == viewer or addressed(f[2], viewer) then
				seqs[#seqs + 1] = seq
				if #seqs == want then break end
			end
		end
		if #chunk < 256 then break end
		offset = offset + 256
	end
end
local out = {}
for i, seq in ipairs(seqs) do out[i] = json(seq) end
return out
`,

	/** ARGV: P, room, session, secretHash, meta, firstSeen, lastSeen, ephemeral (1/0). 1 if created, 0 if it existed. */
	relayCreateSession: `
local room, session, ephemeral = ARGV[2], ARGV[3], ARGV[8] == "1"
local sk = key("session", room, session)
if redis.call("EXISTS", sk) == 1 then return 0 end
redis.call("HSET", sk, "secretHash", ARGV[4], "meta", ARGV[5], "firstSeen", ARGV[6], "lastSeen", ARGV[7])
if ephemeral then redis.call("HSET", sk, "ephemeral", "1") end
redis.call("ZADD", key("ids", room), 0, session)
redis.call("SADD", P .. "session-rooms", room)
redis.call("ZADD", seenKey(ephemeral), ARGV[7], seenMember(room, session))
redis.call("HINCRBY", P .. "stats", "sessions", 1)
return 1
`,

	/** ARGV: P, room, session, meta, lastSeen. Unknown sessions are left alone (not created). */
	relayTouchSession: `
local room, session = ARGV[2], ARGV[3]
local sk = key("session", room, session)
if redis.call("EXISTS", sk) == 1 then
	redis.call("HSET", sk, "meta", ARGV[4], "lastSeen", ARGV[5])
	redis.call("ZADD", seenKey(redis.call("HGET", sk, "ephemeral") == "1"), ARGV[5], seenMember(room, session))
end
return 0
`,

	/**
	 * ARGV: P, room, min ("-" or "(after"), limit (negative: all). Returns
	 * {session, secretHash, meta, firstSeen, lastSeen, ephemeral} rows in ID order.
	 */
	relayListSessions: `
local out = {}
for _, s in ipairs(redis.call("ZRANGEBYLEX", key("ids", ARGV[2]), ARGV[3], "+", "LIMIT", 0, tonumber(ARGV[4]))) do
	local f = redis.call("HMGET", key("session", ARGV[2], s), "secretHash", "meta", "firstSeen", "lastSeen", "ephemeral")
	out[#out + 1] = {s, f[1], f[2], f[3], f[4], f[5] or "0"}
end
return out
`,

	/**
	 * ARGV: P, room, session, hasSeenBefore, seenBefore. Deletes the record, the inbox and the lost counter
	 * (with hasSeenBefore, only if the record exists and its lastSeen is below seenBefore). Returns
	 * {existed, pendingDropped}.
	 */
	relayForgetSession: `
local room, session = ARGV[2], ARGV[3]
local sk = key("session", room, session)
local lastSeen = redis.call("HGET", sk, "lastSeen")
if ARGV[4] == "1" and not (lastSeen and tonumber(lastSeen) < tonumber(ARGV[5])) then return {0, 0} end
local inbox = key("inbox", room, session)
local pending = redis.call("ZCARD", inbox)
if pending > 0 then
	redis.call("DEL", inbox)
	redis.call("HINCRBY", P .. "stats", "pending", -pending)
end
redis.call("DEL", key("lost", room, session))
if not lastSeen then return {0, pending} end
redis.call("DEL", sk)
redis.call("ZREM", key("ids", room), session)
if redis.call("ZCARD", key("ids", room)) == 0 then redis.call("SREM", P .. "session-rooms", room) end
redis.call("ZREM", P .. "seen", seenMember(room, session))
redis.call("ZREM", P .. "seen-eph", seenMember(room, session))
redis.call("HINCRBY", P .. "stats", "sessions", -1)
return {1, pending}
`,

	/**
	 * ARGV: P, room, from, to, secretHash, meta, now. A session takes another ID (see Store.renameSession):
	 * returns {renamed, existed, moved}. The moved seqs' recipient sets gain the new ID, so that getMessage
	 * lets it read them and retention's drop finds its inbox entries.
	 */
	relayRenameSession: `
local room, from, to, now = ARGV[2], ARGV[3], ARGV[4], ARGV[7]
local fk, tk = key("session", room, from), key("session", room, to)
local firstSeen = redis.call("HGET", fk, "firstSeen")
if not firstSeen or from == to then return {0, 0, 0} end
local existed = redis.call("EXISTS", tk) == 1
if existed then
	redis.call("HSET", tk, "meta", ARGV[6], "lastSeen", now)
	redis.call("HDEL", tk, "ephemeral")
	redis.call("ZREM", P .. "seen-eph", seenMember(room, to))
else
	redis.call("HSET", tk, "secretHash", ARGV[5], "meta", ARGV[6], "firstSeen", firstSeen, "lastSeen", now)
	redis.call("ZADD", key("ids", room), 0, to)
	redis.call("HINCRBY", P .. "stats", "sessions", 1)
end
redis.call("ZADD", P .. "seen", now, seenMember(room, to))
redis.call("DEL", fk)
redis.call("ZREM", key("ids", room), from)
redis.call("ZREM", P .. "seen", seenMember(room, from))
redis.call("ZREM", P .. "seen-eph", seenMember(room, from))
redis.call("HINCRBY", P .. "stats", "sessions", -1)
local fi, ti = key("inbox", room, from), key("inbox", room, to)
local seqs = redis.call("ZRANGE", fi, 0, -1)
local moved = 0
for _, seq in ipairs(seqs) do
	redis.call("SADD", P .. "rcpt:" .. seq, to)
	if redis.call("ZADD", ti, seq, seq) == 1 then moved = moved + 1 end
end
-- A delivery both had (a broadcast) is now one.
if #seqs > moved then redis.call("HINCRBY", P .. "stats", "pending", moved - #seqs) end
redis.call("DEL", fi)
local lost = redis.call("GET", key("lost", room, from))
if lost then
	redis.call("INCRBY", key("lost", room, to), lost)
	redis.call("DEL", key("lost", room, from))
end
return {1, existed and 1 or 0, moved}
`,

	/**
	 * ARGV: P, namedMax ("" for none, else "(cutoff"), ephemeralMax (likewise), limit. Returns
	 * {member, lastSeen, ephemeral} rows: named first, oldest first within each kind.
	 */
	relayStaleSessions: `
local out, limit = {}, tonumber(ARGV[4])
local function scan(k, max, ephemeral)
	if max == "" or #out >= limit then return end
	local rows = redis.call("ZRANGEBYSCORE", k, "-inf", max, "WITHSCORES", "LIMIT", 0, limit - #out)
	for i = 1, #rows, 2 do out[#out + 1] = {rows[i], rows[i + 1], ephemeral} end
end
scan(P .. "seen", ARGV[2], 0)
scan(P .. "seen-eph", ARGV[3], 1)
return out
`,

	/**
	 * ARGV: P, room, session. Puts an existing session into P ids:<room>, its seen index and P session-rooms:
	 * the upgrade from layout 1, which had none of them, and from layout 2, which had no P session-rooms.
	 */
	relayIndexSession: `
local room, session = ARGV[2], ARGV[3]
local f = redis.call("HMGET", key("session", room, session), "lastSeen", "ephemeral")
if not f[1] then return 0 end
redis.call("ZADD", key("ids", room), 0, session)
redis.call("SADD", P .. "session-rooms", room)
redis.call("ZADD", seenKey(f[2] == "1"), f[1], seenMember(room, session))
return 1
`,

	/** ARGV: P. Returns {messages, sessions, pending}, from one snapshot. */
	relayStats: `
local stats = redis.call("HMGET", P .. "stats", "sessions", "pending")
return {redis.call("ZCARD", P .. "sent"), tonumber(stats[1] or 0), tonumber(stats[2] or 0)}
`,

	/** ARGV: P, maxScore ("(olderThan"), batch. Deletes up to batch messages sent before; {deleted, lost}. */
	relayRetainAge: `${DROP}
local seqs = redis.call("ZRANGEBYSCORE", P .. "sent", "-inf", ARGV[2], "LIMIT", 0, tonumber(ARGV[3]))
local lost = 0
for _, seq in ipairs(seqs) do lost = lost + drop(seq) end
return {#seqs, lost}
`,

	/** ARGV: P, room, maxPerRoom, batch. Deletes up to batch of the oldest messages over the cap; {deleted, lost}. */
	relayRetainRoom: `${DROP}
local excess = redis.call("ZCARD", key("room", ARGV[2])) - tonumber(ARGV[3])
if excess <= 0 then return {0, 0} end
local seqs = redis.call("ZRANGE", key("room", ARGV[2]), 0, math.min(excess, tonumber(ARGV[4])) - 1)
local lost = 0
for _, seq in ipairs(seqs) do lost = lost + drop(seq) end
return {#seqs, lost}
`,
} as const;

export type ScriptName = keyof typeof BODIES;

/** Each script with the prelude in front, ready for `defineCommand`. */
export const SCRIPTS = Object.fromEntries(
	Object.entries(BODIES).map(([name, body]) => [name, PRELUDE + body]),
) as Record<ScriptName, string>;
