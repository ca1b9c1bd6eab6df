/**
 * The directory on Redis, for hubs that share a RedisStore (same server, same prefix): presence becomes
 * global. Every claim of a session ID is made in Redis by one script (atomic, so two hubs racing for a free
 * ID cannot both win), every hub keeps a mirror of the other hubs' claims for its synchronous reads, fed by
 * the `online` / `offline` events those scripts publish on the fan-out channel, and a hub that dies is
 * found by its heartbeat.
 *
 * Key layout (P = the store's prefix; hub IDs are [A-Za-z0-9_-], fields are enc(room):enc(session)):
 *   P online            hash: field -> the DirectoryEntry (JSON) of its current holder, whichever hub
 *   P hubsess:<hub>     set of the fields a hub holds (what to sweep when it dies)
 *   P hubs              zset: hub -> deadline (Redis's clock, ms): beaten every heartbeat/4, dead past it
 *   P lastbeat          when any hub last beat (Redis's clock): tells a dead hub from a Redis outage
 *   P pseq              counter of presence events: a hub that sees a gap, or a counter that went back (a
 *                       Redis that lost its data), reloads its mirror
 *
 * Heartbeat: each hub beats every heartbeatMs/4 and its deadline is heartbeatMs/2 ahead, so one missed beat
 * (a stalled event loop) is tolerated, and a hub that dies (SIGKILL: nothing runs on the way out) is swept
 * by the next beat of any hub after its deadline, at most 3/4 of a heartbeat after it died: its sessions
 * are `offline` (reason "timeout") everywhere within one heartbeat. Sweeping is in the script, so it is
 * idempotent and runs once whichever hubs try. A hub that finds itself swept (it stalled past its deadline)
 * claims its sessions again; those taken meanwhile by another hub are closed here (4002). When no hub at all
 * has beaten for longer than a deadline, the silence was Redis's (down or stalled), not the hubs': every
 * hub gets one more deadline rather than all being swept at once when Redis comes back.
 *
 * Probes across hubs: a hub contesting an ID held elsewhere publishes a `probe` for the holder's hub, which
 * pings its connection and publishes the answer. No answer within livenessProbeMs + PROBE_SLACK_MS (a
 * dead hub never answers) counts as "not alive"; the holder's `offline` arriving meanwhile ends the wait.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { LeaveReason } from "./connection.js";
import { type ClaimRequest, type Directory, type DirectoryEntry, type DirectoryEvents, type DirectoryStats, newHubId } from "./directory.js";
import type { FanoutEvent } from "./fanout.js";
import { type Logger, silentLogger } from "./logger.js";
import { connectRedis, DEFAULT_REDIS_PREFIX, quitRedis, redisStorageError } from "./store/redis.js";
import { encodeKeyPart } from "./store/redis-scripts.js";
import { StorageError } from "./store/store.js";

export interface RedisDirectoryOptions {
	url: string;
	/** Must be the RedisStore's and the RedisFanout's prefix: events travel on `<prefix>fanout`. */
	prefix?: string;
	/** The hub's --heartbeat: this hub beats every quarter of it and is taken for dead half of it after its last beat. */
	heartbeatMs: number;
	hubId?: string;
	log?: Logger;
}

/** What a probe across hubs may take beyond the holder's own livenessProbeMs: two pub/sub hops and a turn of each hub. */
export const PROBE_SLACK_MS = 500;
/** Activity reports are cut into events of at most this many sessions. */
const ACTIVITY_CHUNK = 1_000;

/** Shared by every script below (exported for tests that play a hub stalled past its deadline). */
export const PRELUDE = `
local P = ARGV[1]
local function now_ms()
	local t = redis.call("TIME")
	return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function pseq() return tonumber(redis.call("GET", P .. "pseq") or "0") end
local function publish_offline(e, reason)
	local n = redis.call("INCR", P .. "pseq")
	redis.call("PUBLISH", P .. "fanout", cjson.encode({kind = "offline", pseq = n, hub = e.hub, claim = e.claim, room = e.room, session = e.session, reason = reason}))
end
-- Drops every claim of a hub, and the hub: one taken for dead, or one that stops.
local function drop_hub(hub, reason)
	local set = P .. "hubsess:" .. hub
	for _, field in ipairs(redis.call("SMEMBERS", set)) do
		local cur = redis.call("HGET", P .. "online", field)
		if cur then
			local e = cjson.decode(cur)
			if e.hub == hub then
				redis.call("HDEL", P .. "online", field)
				publish_offline(e, reason)
			end
		end
	end
	redis.call("DEL", set)
	redis.call("ZREM", P .. "hubs", hub)
end
-- Hubs past their deadline are dead, unless no hub beat for longer than a deadline (Redis was away).
local function sweep(now, ttl)
	local last = tonumber(redis.call("GET", P .. "lastbeat") or "0")
	if last > 0 and now - last > ttl then
		for _, hub in ipairs(redis.call("ZRANGEBYSCORE", P .. "hubs", "-inf", now + ttl)) do
			redis.call("ZADD", P .. "hubs", now + ttl, hub)
		end
		redis.call("SET", P .. "lastbeat", now)
		return
	end
	for _, hub in ipairs(redis.call("ZRANGEBYSCORE", P .. "hubs", "-inf", "(" .. now)) do drop_hub(hub, "timeout") end
end
`;

const BODIES = {
	/** ARGV: P, hub, ttl, first. Returns {registered, pseq, hubs}; registered 0: this hub was swept (and first is 0). */
	relayDirBeat: `
local hub, ttl, first = ARGV[2], tonumber(ARGV[3]), ARGV[4] == "1"
local now = now_ms()
if not redis.call("ZSCORE", P .. "hubs", hub) and not first then return {0, pseq(), redis.call("ZCARD", P .. "hubs")} end
redis.call("ZADD", P .. "hubs", now + ttl, hub)
sweep(now, ttl)
redis.call("SET", P .. "lastbeat", now)
return {1, pseq(), redis.call("ZCARD", P .. "hubs")}
`,
	/**
	 * ARGV: P, hub, ttl, field, claim, over, entry. Returns {1} when the ID is ours now, {0, holder} when
	 * another claim holds it, {-1} when this hub is not registered (it was taken for dead).
	 */
	relayDirClaim: `
local hub, ttl, field, claim, over, entry = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
sweep(now_ms(), ttl)
if not redis.call("ZSCORE", P .. "hubs", hub) then return {-1} end
local cur = redis.call("HGET", P .. "online", field)
if cur then
	local e = cjson.decode(cur)
	if e.claim == claim then return {1} end
	if e.claim ~= over then return {0, cur} end
	redis.call("SREM", P .. "hubsess:" .. e.hub, field)
	publish_offline(e, "replaced")
end
redis.call("HSET", P .. "online", field, entry)
redis.call("SADD", P .. "hubsess:" .. hub, field)
local n = redis.call("INCR", P .. "pseq")
redis.call("PUBLISH", P .. "fanout", '{"kind":"online","pseq":' .. n .. ',"entry":' .. entry .. '}')
return {1}
`,
	/** ARGV: P, field, claim, reason. Ends the claim if it is still the current one; returns 1 if it was. */
	relayDirRelease: `
local field, claim, reason = ARGV[2], ARGV[3], ARGV[4]
local cur = redis.call("HGET", P .. "online", field)
if not cur then return 0 end
local e = cjson.decode(cur)
if e.claim ~= claim then return 0 end
redis.call("HDEL", P .. "online", field)
redis.call("SREM", P .. "hubsess:" .. e.hub, field)
publish_offline(e, reason)
return 1
`,
	/** ARGV: P, hub, reason. A hub that stops: its claims end, and it leaves the hubs. */
	relayDirHubDown: `
drop_hub(ARGV[2], ARGV[3])
return 1
`,
	/** ARGV: P. Returns {pseq, hubs, entry...}: every claim, as of one point in the event sequence. */
	relayDirSnapshot: `
local out = {pseq(), redis.call("ZCARD", P .. "hubs")}
for _, v in ipairs(redis.call("HVALS", P .. "online")) do out[#out + 1] = v end
return out
`,
} as const;

type ScriptName = keyof typeof BODIES;
type ScriptedRedis = Redis & Record<ScriptName, (...args: (string | number)[]) => Promise<unknown>>;
type PresenceEvent = Extract<FanoutEvent, { kind: "online" | "offline" }>;

interface PendingProbe {
	claim: string;
	resolve: (alive: boolean) => void;
}

export class RedisDirectory implements Directory {
	readonly kind = "redis";
	readonly hubId: string;
	readonly prefix: string;
	readonly #o: RedisDirectoryOptions;
	readonly #log: Logger;
	readonly #ttl: number;
	#client: ScriptedRedis | null = null;
	#events: DirectoryEvents | null = null;
	/** room → session → the entry of a holder on another hub. */
	readonly #mirror = new Map<string, Map<string, DirectoryEntry>>();
	#remoteCount = 0;
	#hubs = 1;
	/** The last presence event applied to the mirror. */
	#pseq = 0;
	/** Redis's counter at the previous beat: the mirror should have caught up with it since. */
	#pseqAtBeat: number | null = null;
	/** Presence events that arrived while a snapshot was being read (from construction to the first snapshot, too). */
	#buffered: PresenceEvent[] | null = [];
	#resyncing: Promise<void> | null = null;
	#timer: NodeJS.Timeout | undefined;
	#ticking = false;
	/** This hub's registration was swept (it was taken for dead): claim what it holds again. */
	#lost = false;
	#closed = false;
	readonly #probes = new Map<string, PendingProbe>();
	/** Releases that failed (Redis away), retried at each beat: claim → what to release. */
	readonly #unreleased = new Map<string, { room: string; session: string; reason: LeaveReason }>();
	readonly #inFlight = new Set<Promise<unknown>>();
	/** Activity before this time was reported. */
	#activityReportedAt = 0;

	constructor(options: RedisDirectoryOptions) {
		this.#o = options;
		this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
		this.hubId = options.hubId ?? newHubId();
		if (!/^[A-Za-z0-9_-]{1,100}$/.test(this.hubId)) throw new Error(`invalid hub id ${JSON.stringify(this.hubId)}`);
		this.#log = options.log ?? silentLogger();
		this.#ttl = Math.max(2, Math.round(options.heartbeatMs / 2));
	}

	async open(events: DirectoryEvents): Promise<void> {
		if (this.#closed) throw new Error("directory is closed");
		this.#events = events;
		const client = await connectRedis(this.#o.url, {
			enableAutoPipelining: true,
			// As the store's connection (server/store/redis.ts): fail fast while Redis is away, never run a script twice.
			maxRetriesPerRequest: 1,
			autoResendUnfulfilledCommands: false,
		});
		for (const [name, body] of Object.entries(BODIES)) client.defineCommand(name, { lua: PRELUDE + body, numberOfKeys: 0 });
		this.#client = client as ScriptedRedis;
		try {
			await this.#beat(true);
			await this.#resync();
		} catch (err) {
			this.#client = null;
			client.disconnect();
			throw err;
		}
		this.#activityReportedAt = Date.now();
		this.#timer = setInterval(() => void this.#tick(), Math.max(1, Math.round(this.#o.heartbeatMs / 4)));
		this.#timer.unref();
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#timer);
		for (const p of this.#probes.values()) p.resolve(false);
		this.#probes.clear();
		const client = this.#client;
		if (!client) return;
		await Promise.allSettled([...this.#inFlight]);
		// Whatever is still held here ends now (reason shutdown), and the hub leaves: nobody waits for a deadline.
		await client.relayDirHubDown(this.prefix, this.hubId, "shutdown").catch((err) => this.#log.warn({ err }, "could not leave the directory; the other hubs will sweep this one"));
		this.#client = null;
		await quitRedis(client);
	}

	async claim(request: ClaimRequest, over?: string): Promise<DirectoryEntry | null> {
		const entry: DirectoryEntry = { ...request, hub: this.hubId };
		const json = JSON.stringify(entry);
		for (let attempt = 0; ; attempt++) {
			let reply: [number, string?];
			try {
				reply = (await this.#ready().relayDirClaim(this.prefix, this.hubId, this.#ttl, field(request.room, request.session), request.claim, over ?? "", json)) as [number, string?];
			} catch (err) {
				// It may have been applied before the reply was lost: release it at the next beat.
				this.#unreleased.set(request.claim, { room: request.room, session: request.session, reason: "closed" });
				throw this.#storageError(err);
			}
			if (reply[0] === 1) return null;
			if (reply[0] === 0 && reply[1] !== undefined) return JSON.parse(reply[1]) as DirectoryEntry;
			// This hub was swept (it did not beat in time): register again, and claim the rest again at the next beat.
			if (attempt > 0) throw new StorageError("DIRECTORY_UNREGISTERED", "this hub could not register in the directory");
			this.#lost = true;
			await this.#beat(true);
		}
	}

	release(room: string, session: string, claim: string, reason: LeaveReason): Promise<void> {
		const run = this.#release(room, session, claim, reason);
		this.#inFlight.add(run);
		void run.finally(() => this.#inFlight.delete(run));
		return run;
	}

	async #release(room: string, session: string, claim: string, reason: LeaveReason): Promise<void> {
		try {
			await this.#ready().relayDirRelease(this.prefix, field(room, session), claim, reason);
			this.#unreleased.delete(claim);
		} catch (err) {
			if (this.#closed && !this.#client) return;
			this.#unreleased.set(claim, { room, session, reason });
			this.#log.warn({ err: (err as Error).message, session, room }, "could not release a session in the directory; retrying at the next beat");
		}
	}

	async probe(holder: DirectoryEntry, ms: number): Promise<boolean> {
		if (holder.hub === this.hubId || this.#closed) return false;
		const id = randomBytes(9).toString("base64url");
		const answer = new Promise<boolean>((resolve) => {
			const timer = setTimeout(() => finish(false), ms + PROBE_SLACK_MS);
			const finish = (alive: boolean) => {
				clearTimeout(timer);
				this.#probes.delete(id);
				resolve(alive);
			};
			this.#probes.set(id, { claim: holder.claim, resolve: finish });
		});
		const event: FanoutEvent = { kind: "probe", to: holder.hub, from: this.hubId, id, claim: holder.claim, ms };
		try {
			await this.#ready().publish(`${this.prefix}fanout`, JSON.stringify(event));
		} catch (err) {
			this.#probes.get(id)?.resolve(false);
			throw this.#storageError(err);
		}
		return answer;
	}

	remote(room: string, session: string): DirectoryEntry | undefined {
		return this.#mirror.get(room)?.get(session);
	}

	remoteIn(room: string): Iterable<DirectoryEntry> {
		return this.#mirror.get(room)?.values() ?? [];
	}

	remoteCountIn(room: string): number {
		return this.#mirror.get(room)?.size ?? 0;
	}

	dropRemote(room: string, session: string, claim: string): boolean {
		const cur = this.remote(room, session);
		if (cur?.claim !== claim) return false;
		this.#remove(cur);
		return true;
	}

	get stats(): DirectoryStats {
		return { hubs: this.#hubs, remoteSessions: this.#remoteCount };
	}

	receive(event: FanoutEvent): void {
		switch (event.kind) {
			case "online":
			case "offline":
				if (this.#buffered) this.#buffered.push(event);
				else this.#apply(event);
				return;
			case "active":
				if (event.hub === this.hubId) return;
				for (const [room, session, lastActive] of event.sessions) {
					const e = this.remote(room, session);
					if (e?.hub === event.hub && lastActive > e.lastActive) e.lastActive = lastActive;
				}
				return;
			case "probe": {
				if (event.to !== this.hubId || !this.#events || this.#closed) return;
				const reply = (alive: boolean) => {
					const answer: FanoutEvent = { kind: "probe_reply", to: event.from, id: event.id, alive };
					this.#client?.publish(`${this.prefix}fanout`, JSON.stringify(answer)).catch(() => undefined);
				};
				this.#events.probe(event.claim, event.ms).then(reply, () => reply(false));
				return;
			}
			case "probe_reply":
				if (event.to === this.hubId) this.#probes.get(event.id)?.resolve(event.alive);
				return;
			default:
				return;
		}
	}

	// -----------------------------------------------------------------------------------------------------

	#ready(): ScriptedRedis {
		if (!this.#client) throw new StorageError("REDIS_UNREACHABLE", this.#closed ? "the directory is closed" : "the directory is not open");
		return this.#client;
	}

	#storageError(err: unknown): Error {
		if (err instanceof StorageError) return err;
		return redisStorageError(err, this.#o.url) ?? (err as Error);
	}

	async #beat(first: boolean): Promise<{ registered: boolean; pseq: number }> {
		const [registered, pseq, hubs] = (await this.#ready().relayDirBeat(this.prefix, this.hubId, this.#ttl, first ? 1 : 0)) as number[];
		this.#hubs = hubs ?? 1;
		return { registered: registered === 1, pseq: pseq ?? 0 };
	}

	/** Every heartbeat/4: beat; claim everything again if this hub was swept; reload the mirror if it missed events. */
	async #tick(): Promise<void> {
		if (this.#ticking || this.#closed) return;
		this.#ticking = true;
		const now = Date.now();
		try {
			let beat = await this.#beat(this.#lost);
			if (!beat.registered) {
				this.#log.warn({ hub: this.hubId }, "this hub was taken for dead (it missed its heartbeat); claiming its sessions again");
				this.#lost = true;
				beat = await this.#beat(true);
			}
			if (this.#lost) {
				await this.#reclaim();
				this.#lost = false;
				await this.#resync();
			} else if (beat.pseq < this.#pseq || (this.#pseqAtBeat !== null && this.#pseq < this.#pseqAtBeat)) {
				// Behind what Redis had a beat ago (an event lost while the subscriber reconnected), or ahead of
				// Redis (it restarted without its data): read the whole directory again.
				await this.#resync();
			}
			this.#pseqAtBeat = beat.pseq;
			for (const [claim, r] of [...this.#unreleased]) await this.#release(r.room, r.session, claim, r.reason);
			await this.#reportActivity(now);
		} catch (err) {
			this.#log.debug({ err: (err as Error).message }, "directory beat failed");
		} finally {
			this.#ticking = false;
		}
	}

	/** Claims again what this hub holds; an ID another hub took meanwhile is closed here (4002). */
	async #reclaim(): Promise<void> {
		const events = this.#events;
		if (!events) return;
		for (const request of events.held()) {
			const holder = await this.claim(request);
			if (holder) events.replaced(request.claim);
		}
	}

	async #reportActivity(now: number): Promise<void> {
		const since = this.#activityReportedAt;
		this.#activityReportedAt = now;
		const active: [string, string, number][] = [];
		for (const h of this.#events?.held() ?? []) if (h.lastActive >= since) active.push([h.room, h.session, h.lastActive]);
		for (let i = 0; i < active.length; i += ACTIVITY_CHUNK) {
			const event: FanoutEvent = { kind: "active", hub: this.hubId, sessions: active.slice(i, i + ACTIVITY_CHUNK) };
			await this.#ready().publish(`${this.prefix}fanout`, JSON.stringify(event));
		}
	}

	/** Reads every claim again, tells presence what changed, then applies what arrived meanwhile. */
	#resync(): Promise<void> {
		this.#resyncing ??= this.#load().finally(() => {
			this.#resyncing = null;
		});
		return this.#resyncing;
	}

	async #load(): Promise<void> {
		this.#buffered ??= [];
		try {
			const [pseq, hubs, ...values] = (await this.#ready().relayDirSnapshot(this.prefix)) as [number, number, ...string[]];
			this.#hubs = hubs;
			const fresh = new Map<string, DirectoryEntry>();
			for (const v of values) {
				const e = JSON.parse(v) as DirectoryEntry;
				if (e.hub !== this.hubId) fresh.set(`${e.room}\u0000${e.session}`, e);
			}
			for (const room of [...this.#mirror.values()]) {
				for (const e of [...room.values()]) {
					const now = fresh.get(`${e.room}\u0000${e.session}`);
					if (now?.claim === e.claim) {
						fresh.delete(`${e.room}\u0000${e.session}`);
						continue;
					}
					this.#remove(e);
					this.#events?.left(e, now ? "replaced" : "closed");
				}
			}
			for (const e of fresh.values()) this.#add(e);
			this.#pseq = pseq;
		} finally {
			const buffered = this.#buffered ?? [];
			this.#buffered = null;
			for (const event of buffered) this.#apply(event);
		}
	}

	#apply(event: PresenceEvent): void {
		if (event.pseq <= this.#pseq) return; // in the snapshot already
		// A gap: an event was lost (pub/sub is at most once). Apply this one and reload.
		if (event.pseq > this.#pseq + 1 && this.#pseq > 0) void this.#resync().catch(() => undefined);
		this.#pseq = event.pseq;
		if (event.kind === "online") {
			const e = event.entry;
			if (e.hub === this.hubId) return;
			const old = this.remote(e.room, e.session);
			if (old?.claim === e.claim) return;
			if (old) {
				this.#remove(old);
				this.#events?.left(old, "replaced");
			}
			this.#add(e);
			return;
		}
		if (event.hub === this.hubId) {
			// Another hub replaced a holder of ours; or this hub was swept, and claims its sessions at the next beat.
			if (event.reason === "replaced") this.#events?.replaced(event.claim);
			else if (event.reason === "timeout") this.#lost = true;
			return;
		}
		for (const p of this.#probes.values()) if (p.claim === event.claim) p.resolve(false);
		const cur = this.remote(event.room, event.session);
		if (cur?.claim !== event.claim) return;
		this.#remove(cur);
		this.#events?.left(cur, event.reason);
	}

	#add(e: DirectoryEntry): void {
		let room = this.#mirror.get(e.room);
		if (!room) {
			room = new Map();
			this.#mirror.set(e.room, room);
		}
		if (!room.has(e.session)) this.#remoteCount++;
		room.set(e.session, e);
		this.#events?.joined(e);
	}

	#remove(e: DirectoryEntry): void {
		const room = this.#mirror.get(e.room);
		if (!room?.delete(e.session)) return;
		this.#remoteCount--;
		if (room.size === 0) this.#mirror.delete(e.room);
	}
}

/** An ID as a field of P online and a member of P hubsess:<hub>. */
function field(room: string, session: string): string {
	return `${encodeKeyPart(room)}:${encodeKeyPart(session)}`;
}
