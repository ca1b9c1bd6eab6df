/**
 * ClaimStore on Redis (RedisStore's `claims`). Whether a claim overlaps another is decided in TypeScript
 * (server/globs.ts), which Lua cannot run, so a claim is optimistic: one script reads the repository's live
 * claims with its version, planClaim decides, and a second script writes only if that version is unchanged
 * (any claim or release in the repository bumps it); otherwise the claim is planned again. Every hub sharing
 * the server goes through the same version, so two overlapping claims can never both be granted.
 *
 * Keys (P = prefix; R, S = enc(room), enc(session); E = enc(repo)):
 *   P cl:R:E       hash: session "\n" path -> the claim as JSON (made by TypeScript; Lua never decodes it)
 *   P clver:R:E    counter: the repository's version
 *   P clexp        zset: "R:E\n" session "\n" path, scored by expiresAt: liveness, and the sweep
 *   P clby:R:S     zset: "E\n" path, scored by expiresAt: a session's claims (release all, its bound)
 *   P clrepos:R    set of E: the repositories with claims in the room (list everything)
 * Session IDs, paths and repository identities never contain "\n" (the hub validates them).
 */
import type { Redis } from "ioredis";
import { planClaim, sortClaims } from "./claims-common.js";
import { PRELUDE } from "./redis-scripts.js";
import type { ClaimInput, ClaimOutcome, ClaimRecord, ClaimStore, ReleaseInput } from "./store.js";

type ScriptArg = string | number;
/** The client with this file's scripts defined on it (RedisStore.open defines them). */
export type Scripted = Redis & Record<ScriptName, (...args: ScriptArg[]) => Promise<unknown>>;

/** How often a claim is planned again when the repository changed between its read and its write. */
const MAX_ATTEMPTS = 64;
/** The sweep deletes at most this many expired claims per call (each write also sweeps a few). */
const SWEEP_BATCH = 500;

const CLAIM_PRELUDE = `
local function repoPart(room, repo) return enc(room) .. ":" .. enc(repo) end
local function hashKey(rp) return P .. "cl:" .. rp end
local function verKey(rp) return P .. "clver:" .. rp end
local function byKey(room, session) return P .. "clby:" .. enc(room) .. ":" .. enc(session) end
local EXP = P .. "clexp"
-- Deletes one claim, given its clexp member; returns its JSON (or nil if it was gone).
local function drop(member)
	local nl = string.find(member, "\\n", 1, true)
	local rp, field = string.sub(member, 1, nl - 1), string.sub(member, nl + 1)
	local nl2 = string.find(field, "\\n", 1, true)
	local session, path = string.sub(field, 1, nl2 - 1), string.sub(field, nl2 + 1)
	local colon = string.find(rp, ":", 1, true)
	local er, ee = string.sub(rp, 1, colon - 1), string.sub(rp, colon + 1)
	local h = hashKey(rp)
	local json = redis.call("HGET", h, field)
	redis.call("HDEL", h, field)
	redis.call("ZREM", EXP, member)
	redis.call("ZREM", P .. "clby:" .. er .. ":" .. enc(session), ee .. "\\n" .. path)
	redis.call("INCR", verKey(rp))
	if redis.call("HLEN", h) == 0 then
		redis.call("DEL", h)
		redis.call("SREM", P .. "clrepos:" .. er, ee)
	end
	return json
end
local function sweep(now, batch)
	local gone = redis.call("ZRANGEBYSCORE", EXP, "-inf", now, "LIMIT", 0, batch)
	for _, m in ipairs(gone) do drop(m) end
	return #gone
end
-- The live claims' JSON in one repository hash.
local function liveIn(rp, now)
	local out = {}
	local h = redis.call("HGETALL", hashKey(rp))
	for i = 1, #h, 2 do
		local score = redis.call("ZSCORE", EXP, rp .. "\\n" .. h[i])
		if score and tonumber(score) > now then out[#out + 1] = h[i + 1] end
	end
	return out
end
`;

const BODIES = {
	/** ARGV: P, room, repo, session, now. {version, sessionLive, json...}: the repository's live claims. */
	relayClaimRead: `${CLAIM_PRELUDE}
local rp, now = repoPart(ARGV[2], ARGV[3]), tonumber(ARGV[5])
local out = {tonumber(redis.call("GET", verKey(rp)) or 0), redis.call("ZCOUNT", byKey(ARGV[2], ARGV[4]), "(" .. now, "+inf")}
for _, j in ipairs(liveIn(rp, now)) do out[#out + 1] = j end
return out
`,

	/**
	 * ARGV: P, room, repo, session, version, now, maxPerSession, then (path, json, expiresAt) per claim.
	 * 1 written; 0 the repository changed since the read; -1 the session's bound would be passed.
	 */
	relayClaimWrite: `${CLAIM_PRELUDE}
local room, repo, session, now = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6])
local rp = repoPart(room, repo)
if tonumber(redis.call("GET", verKey(rp)) or 0) ~= tonumber(ARGV[5]) then return 0 end
local by = byKey(room, session)
local ee = enc(repo)
local added = 0
for i = 8, #ARGV, 3 do
	local score = redis.call("ZSCORE", by, ee .. "\\n" .. ARGV[i])
	if not score or tonumber(score) <= now then added = added + 1 end
end
if redis.call("ZCOUNT", by, "(" .. now, "+inf") + added > tonumber(ARGV[7]) then return -1 end
local h = hashKey(rp)
for i = 8, #ARGV, 3 do
	local path, json, exp = ARGV[i], ARGV[i + 1], ARGV[i + 2]
	redis.call("HSET", h, session .. "\\n" .. path, json)
	redis.call("ZADD", EXP, exp, rp .. "\\n" .. session .. "\\n" .. path)
	redis.call("ZADD", by, exp, ee .. "\\n" .. path)
end
redis.call("SADD", P .. "clrepos:" .. enc(room), ee)
redis.call("INCR", verKey(rp))
sweep(now, 20)
return 1
`,

	/**
	 * ARGV: P, room, session, repo, hasRepo, now, paths... (none: all). Deletes this session's matching
	 * claims; returns the JSON of those that were live.
	 */
	relayClaimRelease: `${CLAIM_PRELUDE}
local room, session, repo, hasRepo, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5] == "1", tonumber(ARGV[6])
local wanted = nil
if #ARGV > 6 then
	wanted = {}
	for i = 7, #ARGV do wanted[ARGV[i]] = true end
end
local ee = enc(repo)
local out = {}
local by = byKey(room, session)
for _, m in ipairs(redis.call("ZRANGE", by, 0, -1)) do
	local nl = string.find(m, "\\n", 1, true)
	local mrepo, path = string.sub(m, 1, nl - 1), string.sub(m, nl + 1)
	if (not hasRepo or mrepo == ee) and (not wanted or wanted[path]) then
		local member = enc(room) .. ":" .. mrepo .. "\\n" .. session .. "\\n" .. path
		local score = redis.call("ZSCORE", EXP, member)
		local json = drop(member)
		redis.call("ZREM", by, m)
		if json and score and tonumber(score) > now then out[#out + 1] = json end
	end
end
return out
`,

	/** ARGV: P, room, repo, hasRepo, session, hasSession, now. The JSON of live claims. */
	relayClaimList: `${CLAIM_PRELUDE}
local room, repo, hasRepo, session, hasSession, now = ARGV[2], ARGV[3], ARGV[4] == "1", ARGV[5], ARGV[6] == "1", tonumber(ARGV[7])
local out = {}
if hasSession then
	for _, m in ipairs(redis.call("ZRANGEBYSCORE", byKey(room, session), "(" .. now, "+inf")) do
		local nl = string.find(m, "\\n", 1, true)
		local mrepo, path = string.sub(m, 1, nl - 1), string.sub(m, nl + 1)
		if not hasRepo or mrepo == enc(repo) then
			local json = redis.call("HGET", hashKey(enc(room) .. ":" .. mrepo), session .. "\\n" .. path)
			if json then out[#out + 1] = json end
		end
	end
	return out
end
local repos = {}
if hasRepo then repos = {enc(repo)} else repos = redis.call("SMEMBERS", P .. "clrepos:" .. enc(room)) end
for _, e in ipairs(repos) do
	for _, j in ipairs(liveIn(enc(room) .. ":" .. e, now)) do out[#out + 1] = j end
end
return out
`,

	/** ARGV: P, now, batch. How many expired claims were deleted. */
	relayClaimSweep: `${CLAIM_PRELUDE}
return sweep(tonumber(ARGV[2]), tonumber(ARGV[3]))
`,
} as const;

type ScriptName = keyof typeof BODIES;

export const CLAIM_SCRIPTS = Object.fromEntries(Object.entries(BODIES).map(([name, body]) => [name, PRELUDE + body])) as Record<
	keyof typeof BODIES,
	string
>;

const parse = (json: unknown): ClaimRecord => JSON.parse(String(json)) as ClaimRecord;

export class RedisClaimStore implements ClaimStore {
	constructor(
		private readonly client: () => Scripted,
		private readonly prefix: string,
	) {}

	async claim(input: ClaimInput): Promise<ClaimOutcome> {
		const c = this.client();
		for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
			const [version, sessionLive, ...rows] = (await c.relayClaimRead(this.prefix, input.room, input.repo, input.session, input.now)) as [
				number,
				number,
				...string[],
			];
			const plan = planClaim(input, rows.map(parse), Number(sessionLive));
			if (plan.status !== "granted") return plan;
			const args: ScriptArg[] = [];
			for (const r of plan.claims) args.push(r.path, JSON.stringify(r), r.expiresAt);
			const written = Number(
				await c.relayClaimWrite(this.prefix, input.room, input.repo, input.session, version, input.now, input.limits.maxPerSession, ...args),
			);
			if (written === 1) return { status: "granted", claims: plan.claims };
			if (written === -1) {
				return {
					status: "limit",
					reason: `${input.session} would hold more than ${input.limits.maxPerSession} live claims, the most this hub allows per session; release some (relay_release) or claim a broader pattern.`,
				};
			}
			// Another claim or release in this repository came between the read and the write: plan again, after
			// a short random pause so that contenders do not collide in lockstep.
			await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
		}
		throw new Error(`claim in ${input.repo} did not settle after ${MAX_ATTEMPTS} attempts (the repository changed between every read and write)`);
	}

	async release(input: ReleaseInput): Promise<ClaimRecord[]> {
		// No paths means "all"; an empty list of paths means none (the script cannot tell them apart).
		if (input.paths && input.paths.length === 0) return [];
		const rows = (await this.client().relayClaimRelease(
			this.prefix,
			input.room,
			input.session,
			input.repo ?? "",
			input.repo === undefined ? 0 : 1,
			input.now,
			...(input.paths ?? []),
		)) as string[];
		return sortClaims(rows.map(parse));
	}

	async list(room: string, query: { repo?: string; session?: string; now: number }): Promise<ClaimRecord[]> {
		const rows = (await this.client().relayClaimList(
			this.prefix,
			room,
			query.repo ?? "",
			query.repo === undefined ? 0 : 1,
			query.session ?? "",
			query.session === undefined ? 0 : 1,
			query.now,
		)) as string[];
		return sortClaims(rows.map(parse));
	}

	async sweep(now: number): Promise<number> {
		let total = 0;
		for (;;) {
			const n = Number(await this.client().relayClaimSweep(this.prefix, now, SWEEP_BATCH));
			total += n;
			if (n < SWEEP_BATCH) return total;
		}
	}
}
