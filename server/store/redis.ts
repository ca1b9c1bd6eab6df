/**
 * The Store on Redis (standalone, >= 6.2; tested on 7.0), so several hub processes can share one state.
 * Every operation that SQLite does in one transaction is one Lua script here, which Redis runs atomically;
 * the scripts live in redis-scripts.ts. `ioredis` is imported lazily in `open()`, so a hub on SQLite never
 * loads it.
 *
 * Ordering: seqs come from INCR inside the append script, so seq order is commit order across every hub
 * sharing the server. The same script PUBLISHes the committed message on `<prefix>fanout` (see
 * server/fanout-redis.ts): events leave Redis in seq order too, which each connection's push cursor needs.
 *
 * Throughput: appends are pipelined on one connection (ioredis writes a command without waiting for the
 * previous reply, and auto-pipelining coalesces those of one event-loop turn into one write), so the cost
 * is Redis running the scripts one after another, some tens of microseconds each: >= 10,000 appends/s
 * from concurrent senders. A sender that waits for each reply pays a round trip per message.
 *
 * Durability is Redis's own: an append resolves once Redis has applied it in memory. It survives a Redis
 * restart only with AOF on (`appendonly yes`): `appendfsync everysec` may lose about the last second of
 * acknowledged appends in a crash, `always` loses none, at a large cost in throughput. `open()` puts a
 * sentence in `warnings` when AOF is off; managed Redis often forbids CONFIG, and then we cannot tell.
 *
 * Not supported: Redis Cluster. The scripts derive keys from data (a message's recipients' inboxes) and
 * share one global seq counter, so everything must live on one shard.
 */
import type { Redis, RedisOptions } from "ioredis";
import type { Message, SessionMeta } from "../protocol.js";
import { newMessageId, uniqueRecipients } from "./ids.js";
import { CLAIM_SCRIPTS, RedisClaimStore } from "./redis-claims.js";
import { OPERATOR_SCRIPTS, RedisOperatorStore } from "./redis-operator.js";
import { RedisStateStore, STATE_SCRIPTS } from "./redis-state.js";
import { decodeKeyPart, encodeKeyPart, LAYOUT_VERSION, SCRIPTS, type ScriptName } from "./redis-scripts.js";
import { PushedBuffer, type PushedMark, receiptOf } from "./receipts.js";
import { RedisTopicStore } from "./redis-topics.js";
import {
	type AppendInput,
	type AppendResult,
	type ForgetOptions,
	type ForgetResult,
	CLAIM_METHODS,
	guardStorage,
	OPERATOR_METHODS,
	guardSubStore,
	STATE_METHODS,
	type HistoryPage,
	type HistoryQuery,
	type MessageReceipts,
	type PendingPage,
	type PendingQuery,
	type PushedDelivery,
	type RenameInput,
	type RenameOutcome,
	type RetentionPolicy,
	type RetentionResult,
	type SeenDelivery,
	type SessionPageQuery,
	type SessionRecord,
	type StaleQuery,
	type StaleSession,
	StorageError,
	StorageHealth,
	type Store,
	type StoreStats,
	type ThreadPage,
	type ThreadQuery,
} from "./store.js";

export interface RedisStoreOptions {
	/** `redis://[user:password@]host:port[/db]` or `rediss://...` (TLS). */
	url: string;
	/** Prepended to every key (and the fan-out channel), so several relays or tests can share a server. */
	prefix?: string;
}

export const DEFAULT_REDIS_PREFIX = "relay:";

/** Retention deletes this many messages per script call, so a big purge never blocks Redis for long. */
const RETENTION_BATCH = 500;

export type ScriptArg = string | number;
/** The client with our scripts defined on it (ioredis adds one method per `defineCommand`). */
export type ScriptedRedis = Redis &
	Record<ScriptName | keyof typeof STATE_SCRIPTS | keyof typeof CLAIM_SCRIPTS, (...args: ScriptArg[]) => Promise<unknown>>;

/** True for the `--db` values this backend handles. */
export function isRedisUrl(spec: string): boolean {
	return /^rediss?:\/\//i.test(spec);
}

/** The URL with any password replaced, for banners and errors. */
export function redactRedisUrl(url: string): string {
	try {
		const u = new URL(url);
		if (u.password) u.password = "***";
		return u.toString();
	} catch {
		return url.replace(/\/\/[^@/]*@/, "//***@");
	}
}

/**
 * A connected ioredis client. Connection errors at start-up fail fast with the URL in the message; later
 * ones surface as rejected commands while ioredis reconnects by itself.
 */
export async function connectRedis(url: string, options: RedisOptions = {}): Promise<Redis> {
	const mod = await import("ioredis");
	// Node's loader gives CommonJS named exports; an esbuild code-split bundle gives only `default`, which
	// is then module.exports itself.
	const Redis = mod.Redis ?? (mod.default as unknown as { Redis: typeof mod.Redis }).Redis;
	const client = new Redis(url, { lazyConnect: true, ...options });
	// Without a listener ioredis prints every reconnect error; they reach callers as rejections anyway.
	let cause: Error | undefined;
	client.on("error", (err: Error) => {
		cause = err;
	});
	try {
		await client.connect();
	} catch (err) {
		client.disconnect();
		// connect() rejects with "Connection is closed."; the error event said why (ECONNREFUSED, auth...).
		throw new Error(`cannot connect to Redis at ${redactRedisUrl(url)}: ${(cause ?? (err as Error)).message}`);
	}
	return client;
}

/** Closes a client: QUIT (which waits for replies to commands already sent) if connected, else at once. */
export async function quitRedis(client: Redis | null): Promise<void> {
	if (!client) return;
	if (client.status !== "ready") return client.disconnect();
	await client.quit().catch(() => client.disconnect());
}

/** Parses a message as the scripts store it (JSON composed at commit, with id, seq and thread filled in). */
const parseMessage = (json: unknown): Message => JSON.parse(String(json)) as Message;

export class RedisStore implements Store {
	readonly kind = "redis";
	readonly health = new StorageHealth();
	readonly prefix: string;
	/** Sentences for the operator (e.g. persistence is off), filled by `open()`. */
	readonly warnings: string[] = [];

	private client: ScriptedRedis | null = null;
	private closed = false;
	/** `pushed` marks waiting to be written (receipts.ts): a push never waits for Redis. */
	private readonly pushed = new PushedBuffer(
		(marks) => this.writePushed(marks),
		(err) => {
			const storage = err instanceof StorageError ? err : redisStorageError(err, this.url);
			if (storage) this.health.failed("markPushed", storage);
		},
	);
	readonly topics: RedisTopicStore;

	/** On this store's connection and prefix; their scripts are defined in open(). */
	readonly state: RedisStateStore;
	readonly claims: RedisClaimStore;
	readonly operator: RedisOperatorStore;

	constructor(private readonly options: RedisStoreOptions) {
		this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
		const translate = (err: unknown) => redisStorageError(err, this.url);
		this.state = guardSubStore(new RedisStateStore(() => this.ready(), this.prefix), STATE_METHODS, this.health, translate);
		this.claims = guardSubStore(new RedisClaimStore(() => this.ready(), this.prefix), CLAIM_METHODS, this.health, translate);
		this.topics = new RedisTopicStore({
			ready: () => this.ready(),
			key: (kind, ...parts) => this.key(kind, ...parts),
			args: (...rest) => this.args(...rest),
			health: this.health,
			url: () => this.url,
		});
		this.operator = guardSubStore(new RedisOperatorStore(() => this.ready(), this.prefix), OPERATOR_METHODS, this.health, translate);
	}

	get url(): string {
		return this.options.url;
	}

	async open(): Promise<void> {
		if (this.closed) throw new Error("store is closed");
		if (this.client) return;
		const client = await connectRedis(this.options.url, {
			enableAutoPipelining: true,
			// While Redis is unreachable, a command waits for one reconnection attempt, not ioredis' default 20
			// (about 10 s, past a client's request timeout): the hub answers E_STORAGE while the client still
			// listens, and the client retries with its idempotency key.
			maxRetriesPerRequest: 1,
			// A script in flight when the connection drops may have run: fail it (the hub's client retries with
			// its idempotency key) rather than let ioredis run it a second time after reconnecting.
			autoResendUnfulfilledCommands: false,
		});
		for (const [name, lua] of Object.entries({ ...SCRIPTS, ...STATE_SCRIPTS, ...CLAIM_SCRIPTS, ...OPERATOR_SCRIPTS })) {
			client.defineCommand(name, { lua, numberOfKeys: 0 });
		}
		this.client = client as ScriptedRedis;
		await this.upgradeLayout();
		await this.checkPersistence(client);
	}

	async close(): Promise<void> {
		if (this.closed) return;
		await this.pushed.close();
		this.closed = true;
		const client = this.client;
		this.client = null;
		await quitRedis(client);
	}

	async getSession(room: string, session: string): Promise<SessionRecord | null> {
		const [secretHash, meta, firstSeen, lastSeen, ephemeral] = await this.ready().hmget(
			this.key("session", room, session),
			"secretHash",
			"meta",
			"firstSeen",
			"lastSeen",
			"ephemeral",
		);
		if (secretHash == null || meta == null) return null;
		return {
			room,
			session,
			secretHash,
			meta: JSON.parse(meta) as SessionMeta,
			firstSeen: Number(firstSeen),
			lastSeen: Number(lastSeen),
			ephemeral: ephemeral === "1",
		};
	}

	async createSession(record: SessionRecord): Promise<boolean> {
		const r = record;
		const created = await this.ready().relayCreateSession(
			...this.args(r.room, r.session, r.secretHash, JSON.stringify(r.meta), r.firstSeen, r.lastSeen, r.ephemeral ? 1 : 0),
		);
		return created === 1;
	}

	async touchSession(room: string, session: string, meta: SessionMeta, lastSeen: number): Promise<void> {
		await this.ready().relayTouchSession(...this.args(room, session, JSON.stringify(meta), lastSeen));
	}

	async listSessions(room: string, page?: SessionPageQuery): Promise<SessionRecord[]> {
		const min = page?.after === undefined ? "-" : `(${page.after}`;
		const limit = page ? Math.max(0, page.limit) : -1;
		if (limit === 0) return [];
		const rows = (await this.ready().relayListSessions(...this.args(room, min, limit))) as string[][];
		return rows.map(([session = "", secretHash = "", meta = "{}", firstSeen, lastSeen, ephemeral]) => ({
			room,
			session,
			secretHash,
			meta: JSON.parse(meta) as SessionMeta,
			firstSeen: Number(firstSeen),
			lastSeen: Number(lastSeen),
			ephemeral: ephemeral === "1",
		}));
	}

	async countSessions(room: string): Promise<number> {
		return this.ready().zcard(this.key("ids", room));
	}

	async forgetSession(room: string, session: string, options: ForgetOptions = {}): Promise<ForgetResult> {
		const { seenBefore } = options;
		const [existed = 0, pending = 0] = (await this.ready().relayForgetSession(
			...this.args(room, session, seenBefore === undefined ? 0 : 1, seenBefore ?? 0),
		)) as number[];
		return { session: existed === 1, pending };
	}

	async renameSession(input: RenameInput): Promise<RenameOutcome> {
		const { room, from, to, secretHash, meta, now } = input;
		const [renamed = 0, existed = 0, moved = 0] = (await this.ready().relayRenameSession(
			...this.args(room, from, to, secretHash, JSON.stringify(meta), now),
		)) as number[];
		return { renamed: renamed === 1, existed: existed === 1, moved };
	}

	/**
	 * One script call, issued synchronously (no await before it), so appends reach Redis in call order and
	 * get seqs in that order; auto-pipelining batches those issued in the same turn.
	 */
	async append(input: AppendInput): Promise<AppendResult> {
		const client = this.ready();
		const { room, from, to, body, replyTo, key, sentAt } = input;
		const recipients = uniqueRecipients(input.recipients);
		// The seq is only known inside the script: it puts `m-<seq>-` before newMessageId's random tail, so
		// ids look the same whatever backend stores them.
		const tail = newMessageId(0).slice("m-0-".length);
		// Everything but id, seq and thread, serialized here so the script only concatenates (Lua's JSON encoder
		// rounds numbers to 14 digits).
		const rest = JSON.stringify(input.human ? { room, from, to, body, replyTo, sentAt, human: true } : { room, from, to, body, replyTo, sentAt });
		const reply = (await client.relayAppend(
			...this.args(room, from, to, key ?? "", key === null ? 0 : 1, tail, sentAt, rest, replyTo ?? "", input.topic ?? "", ...recipients),
		)) as [number, string, string[]?];
		const [duplicate, json, stored] = reply;
		if (duplicate === 1) return { message: parseMessage(json), duplicate: true, recipients: (stored ?? []).sort() };
		return { message: parseMessage(json), duplicate: false, recipients: stored ?? recipients };
	}

	pending(room: string, recipient: string, query: PendingQuery): Promise<PendingPage> {
		return this.pendingPage(room, recipient, query, false);
	}

	async countPending(room: string, recipient: string): Promise<number> {
		return this.ready().zcard(this.key("inbox", room, recipient));
	}

	takePending(room: string, recipient: string, query: PendingQuery): Promise<PendingPage> {
		return this.pendingPage(room, recipient, query, true);
	}

	async ack(room: string, recipient: string, messageIds: string[]): Promise<number> {
		return (await this.ackSeen(room, recipient, messageIds, Date.now())).length;
	}

	async ackSeen(room: string, recipient: string, messageIds: string[], seenAt: number): Promise<SeenDelivery[]> {
		const client = this.ready();
		if (messageIds.length === 0) return [];
		const flat = (await client.relayAck(...this.args(room, recipient, seenAt, ...messageIds))) as string[];
		const seen: SeenDelivery[] = [];
		for (let i = 0; i < flat.length; i += 3) seen.push({ id: String(flat[i]), seq: Number(flat[i + 1]), from: String(flat[i + 2]), seenAt });
		return seen;
	}

	async markPushed(_room: string, pushes: readonly PushedDelivery[], at: number): Promise<void> {
		this.ready();
		this.pushed.add(pushes, at);
	}

	async getMessage(room: string, messageId: string, viewer: string): Promise<Message | null> {
		const json = await this.ready().relayGetMessage(...this.args(room, messageId, viewer));
		return json == null ? null : parseMessage(json);
	}

	async receipts(room: string, messageId: string): Promise<MessageReceipts | null> {
		const reply = (await this.ready().relayReceipts(...this.args(room, messageId))) as [string, string[], string[]] | null;
		if (!reply) return null;
		const [json, recipients, flat] = reply;
		const message = parseMessage(json);
		const times = new Map<string, number>();
		for (let i = 0; i + 1 < flat.length; i += 2) times.set(String(flat[i]), Number(flat[i + 1]));
		const waiting = this.pushed.of(message.seq);
		const receipts = [...recipients].sort().map((r) => {
			const pushedAt = times.get(`p:${r}`) ?? waiting.get(r) ?? null;
			return receiptOf(r, message.sentAt, pushedAt, times.get(`s:${r}`) ?? null);
		});
		return { message, receipts };
	}

	async thread(room: string, messageId: string, query: ThreadQuery): Promise<ThreadPage | null> {
		const limit = Math.max(0, query.limit);
		const reply = (await this.ready().relayThread(
			...this.args(room, messageId, query.viewer, query.after === undefined ? "-inf" : `(${query.after}`, limit),
		)) as string[] | null;
		if (!reply) return null;
		const [thread = messageId, ...rows] = reply;
		return { thread, messages: rows.slice(0, limit).map(parseMessage), hasMore: rows.length > limit };
	}

	async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
		const client = this.ready();
		const limit = Math.max(0, query.limit);
		// `after` pages forwards (oldest first); otherwise we take the newest page below `before`.
		const forward = query.after !== undefined;
		const rows = (await client.relayHistory(
			...this.args(
				room,
				query.viewer,
				query.with ?? "",
				query.with === undefined ? 0 : 1,
				query.after === undefined ? "-inf" : `(${query.after}`,
				query.before === undefined ? "+inf" : `(${query.before}`,
				limit,
				forward ? 1 : 0,
				query.topic ?? "",
				query.topic === undefined ? 0 : 1,
			),
		)) as string[];
		const page = rows.slice(0, limit).map(parseMessage);
		return { messages: forward ? page : page.reverse(), hasMore: rows.length > limit };
	}

	async oldestSeq(room: string): Promise<number | null> {
		const [first] = await this.ready().zrange(this.key("room", room), "0", "0");
		return first === undefined ? null : Number(first);
	}

	async prunedThrough(room: string): Promise<number> {
		return Number((await this.ready().hget(this.key("pruned"), room)) ?? 0);
	}

	async takeLost(room: string, session: string): Promise<number> {
		return Number((await this.ready().getdel(this.key("lost", room, session))) ?? 0);
	}

	async staleSessions(query: StaleQuery): Promise<StaleSession[]> {
		const max = (before: number | undefined) => (before === undefined ? "" : `(${before}`);
		const limit = Math.max(0, query.limit);
		if (limit === 0) return [];
		const rows = (await this.ready().relayStaleSessions(
			...this.args(max(query.namedBefore), max(query.ephemeralBefore), limit),
		)) as [string, string, number][];
		return rows.map(([member, lastSeen, ephemeral]) => {
			const [room = "", session = ""] = member.split(":").map(decodeKeyPart);
			return { room, session, ephemeral: ephemeral === 1, lastSeen: Number(lastSeen) };
		});
	}

	async applyRetention(policy: RetentionPolicy): Promise<RetentionResult> {
		const client = this.ready();
		const result: RetentionResult = { deletedMessages: 0, lostDeliveries: 0 };
		/** Runs a batch script until it deletes less than a full batch; each batch is atomic on its own. */
		const drain = async (run: () => Promise<unknown>) => {
			for (;;) {
				const [deleted = 0, lost = 0] = (await run()) as number[];
				result.deletedMessages += deleted;
				result.lostDeliveries += lost;
				if (deleted < RETENTION_BATCH) return;
			}
		};
		// Age first, then the count cap over what is left: a room ends with at most maxPerRoom messages.
		const { olderThan, maxPerRoom } = policy;
		if (olderThan !== undefined) await drain(() => client.relayRetainAge(...this.args(`(${olderThan}`, RETENTION_BATCH)));
		if (maxPerRoom !== undefined) {
			for (const room of await client.smembers(this.key("rooms"))) {
				await drain(() => client.relayRetainRoom(...this.args(room, Math.max(0, maxPerRoom), RETENTION_BATCH)));
			}
		}
		return result;
	}

	async stats(): Promise<StoreStats> {
		const [messages = 0, sessions = 0, pendingDeliveries = 0] = (await this.ready().relayStats(...this.args())) as number[];
		return { messages, sessions, pendingDeliveries };
	}

	// -----------------------------------------------------------------------------------------------------

	/** Writes a batch of pushed marks in one script call (the buffer's flush). */
	private async writePushed(marks: readonly PushedMark[]): Promise<void> {
		if (!this.client) return;
		const args: ScriptArg[] = [];
		for (const m of marks) args.push(m.seq, m.at, m.recipients.length, ...m.recipients);
		await this.client.relayMarkPushed(...this.args(...args));
	}

	private ready(): ScriptedRedis {
		if (!this.client) throw new Error(this.closed ? "store is closed" : "store is not open");
		return this.client;
	}

	/** A key in the layout the scripts use (see redis-scripts.ts). */
	private key(kind: string, ...parts: string[]): string {
		return [this.prefix + kind, ...parts.map(encodeKeyPart)].join(":");
	}

	/** Script arguments: every script takes the key prefix first. */
	private args(...rest: ScriptArg[]): ScriptArg[] {
		return [this.prefix, ...rest];
	}

	private async pendingPage(room: string, recipient: string, query: PendingQuery, take: boolean): Promise<PendingPage> {
		const client = this.ready();
		const [remaining, ...rows] = (await client.relayPending(
			...this.args(
				room,
				recipient,
				query.afterSeq === undefined ? "-inf" : `(${query.afterSeq}`,
				Math.max(0, query.limit),
				query.from ?? "",
				query.from === undefined ? 0 : 1,
				take ? 1 : 0,
				query.replyTo ?? "",
				query.replyTo === undefined ? 0 : 1,
				query.seenAt ?? Date.now(),
			),
		)) as [number, ...string[]];
		return { messages: rows.map(parseMessage), remaining };
	}

	/**
	 * Brings data written by an older layout to the current one (3), once: every session hash is indexed
	 * (P ids:<room>, P seen, P session-rooms: layout 1 had none of them, layout 2 no P session-rooms), then
	 * layout 1's sets go. Safe to run twice or from two hubs at once (every step is idempotent); the version
	 * is written last.
	 */
	private async upgradeLayout(): Promise<void> {
		const client = this.ready();
		const layout = `${this.prefix}layout`;
		if ((await client.get(layout)) === LAYOUT_VERSION) return;
		// Every layout-1 write of a session or a delivery left P stats behind: without it there is nothing to
		// upgrade, and a fresh prefix is not worth a SCAN of the whole server.
		if ((await client.exists(`${this.prefix}stats`)) === 0) {
			await client.set(layout, LAYOUT_VERSION);
			return;
		}
		const glob = (s: string) => s.replace(/[*?[\]\\]/g, "\\$&");
		const scan = async (match: string, each: (keys: string[]) => Promise<void>) => {
			let cursor = "0";
			do {
				const [next, keys] = await client.scan(cursor, "MATCH", match, "COUNT", 1000);
				cursor = next;
				if (keys.length) await each(keys);
			} while (cursor !== "0");
		};
		const sessionPrefix = `${this.prefix}session:`;
		await scan(`${glob(sessionPrefix)}*`, async (keys) => {
			for (const k of keys) {
				const [room, session, ...extra] = k.slice(sessionPrefix.length).split(":");
				if (room === undefined || session === undefined || extra.length) continue;
				await client.relayIndexSession(...this.args(decodeKeyPart(room), decodeKeyPart(session)));
			}
		});
		await scan(`${glob(`${this.prefix}sessions:`)}*`, async (keys) => {
			await client.del(...keys);
		});
		await client.set(layout, LAYOUT_VERSION);
	}

	private async checkPersistence(client: Redis): Promise<void> {
		let config: string[];
		try {
			config = (await client.config("GET", "append*")) as string[];
		} catch {
			return; // managed Redis often forbids CONFIG: persistence is then the provider's to configure
		}
		const get = (name: string) => config[config.indexOf(name) + 1];
		if (get("appendonly") !== "yes") {
			this.warnings.push(
				`Redis at ${redactRedisUrl(this.options.url)} runs without AOF (appendonly no): messages acknowledged since its last snapshot are lost if Redis restarts. Set "appendonly yes" and "appendfsync everysec" (or always).`,
			);
		} else if (get("appendfsync") === "no") {
			this.warnings.push(
				`Redis at ${redactRedisUrl(this.options.url)} has appendfsync no: the OS decides when the AOF reaches disk. Prefer "appendfsync everysec" (or always).`,
			);
		}
	}
}

/**
 * Redis failures that mean the storage is unavailable, not that the request was wrong: the connection is
 * down (ioredis' own errors), or the server refuses writes (out of memory, cannot persist, a replica, still
 * loading its data, a script stuck). Anything else (a script bug) stays an internal error.
 */
const REDIS_REFUSALS: [prefix: string, code: string, what: string][] = [
	["OOM", "REDIS_OOM", "Redis is out of memory (maxmemory)"],
	["MISCONF", "REDIS_MISCONF", "Redis cannot save to its disk"],
	["READONLY", "REDIS_READONLY", "Redis is a read-only replica"],
	["LOADING", "REDIS_LOADING", "Redis is still loading its data"],
	["MASTERDOWN", "REDIS_MASTERDOWN", "Redis lost its primary"],
	["BUSY", "REDIS_BUSY", "Redis is busy running a script"],
];
const UNREACHABLE = /^(Connection is closed|Stream isn't writeable|Reached the max retries per request)|\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND)\b/;

/** An ioredis error that is a failure of the storage, as a StorageError; null for anything else. */
export function redisStorageError(err: unknown, url: string): StorageError | null {
	if (!(err instanceof Error)) return null;
	const where = `Redis at ${redactRedisUrl(url)}`;
	if (err.name === "ReplyError") {
		const refusal = REDIS_REFUSALS.find(([prefix]) => err.message.startsWith(prefix));
		return refusal ? new StorageError(refusal[1], `${refusal[2]} (${where}: ${err.message})`, { cause: err }) : null;
	}
	if (err.name === "MaxRetriesPerRequestError" || UNREACHABLE.test(err.message)) {
		// ioredis cannot tell a command that never left from one Redis ran before the connection dropped.
		return new StorageError("REDIS_UNREACHABLE", `${where} is unreachable (${err.message})`, { cause: err, maybeApplied: true });
	}
	return null;
}

guardStorage(RedisStore.prototype, (err, store) => redisStorageError(err, store.url));
