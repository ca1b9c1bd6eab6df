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
import { encodeKeyPart, SCRIPTS, type ScriptName } from "./redis-scripts.js";
import { RedisStateStore, STATE_SCRIPTS } from "./redis-state.js";
import type {
	AppendInput,
	AppendResult,
	HistoryPage,
	HistoryQuery,
	PendingPage,
	PendingQuery,
	RetentionPolicy,
	RetentionResult,
	SessionRecord,
	Store,
	StoreStats,
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

type ScriptArg = string | number;
/** The client with our scripts defined on it (ioredis adds one method per `defineCommand`). */
type ScriptedRedis = Redis &
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

/** Parses a message as the scripts store it (JSON composed at commit, with id and seq filled in). */
const parseMessage = (json: unknown): Message => JSON.parse(String(json)) as Message;

export class RedisStore implements Store {
	readonly kind = "redis";
	readonly prefix: string;
	/** Sentences for the operator (e.g. persistence is off), filled by `open()`. */
	readonly warnings: string[] = [];

	private client: ScriptedRedis | null = null;
	private closed = false;
	/** On this store's connection and prefix; their scripts are defined in open(). */
	readonly state: RedisStateStore;
	readonly claims: RedisClaimStore;

	constructor(private readonly options: RedisStoreOptions) {
		this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
		this.state = new RedisStateStore(() => this.ready(), this.prefix);
		this.claims = new RedisClaimStore(() => this.ready(), this.prefix);
	}

	get url(): string {
		return this.options.url;
	}

	async open(): Promise<void> {
		if (this.closed) throw new Error("store is closed");
		if (this.client) return;
		const client = await connectRedis(this.options.url, {
			enableAutoPipelining: true,
			// A script in flight when the connection drops may have run: fail it (the hub's client retries with
			// its idempotency key) rather than let ioredis run it a second time after reconnecting.
			autoResendUnfulfilledCommands: false,
		});
		for (const [name, lua] of Object.entries({ ...SCRIPTS, ...STATE_SCRIPTS, ...CLAIM_SCRIPTS })) client.defineCommand(name, { lua, numberOfKeys: 0 });
		this.client = client as ScriptedRedis;
		await this.checkPersistence(client);
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		const client = this.client;
		this.client = null;
		await quitRedis(client);
	}

	async getSession(room: string, session: string): Promise<SessionRecord | null> {
		const [secretHash, meta, firstSeen, lastSeen] = await this.ready().hmget(
			this.key("session", room, session),
			"secretHash",
			"meta",
			"firstSeen",
			"lastSeen",
		);
		if (secretHash == null || meta == null) return null;
		return { room, session, secretHash, meta: JSON.parse(meta) as SessionMeta, firstSeen: Number(firstSeen), lastSeen: Number(lastSeen) };
	}

	async createSession(record: SessionRecord): Promise<boolean> {
		const r = record;
		const created = await this.ready().relayCreateSession(
			...this.args(r.room, r.session, r.secretHash, JSON.stringify(r.meta), r.firstSeen, r.lastSeen),
		);
		return created === 1;
	}

	async touchSession(room: string, session: string, meta: SessionMeta, lastSeen: number): Promise<void> {
		await this.ready().relayTouchSession(...this.args(room, session, JSON.stringify(meta), lastSeen));
	}

	async listSessions(room: string): Promise<SessionRecord[]> {
		const rows = (await this.ready().relayListSessions(...this.args(room))) as string[][];
		return rows
			.map(([session = "", secretHash = "", meta = "{}", firstSeen, lastSeen]) => ({
				room,
				session,
				secretHash,
				meta: JSON.parse(meta) as SessionMeta,
				firstSeen: Number(firstSeen),
				lastSeen: Number(lastSeen),
			}))
			.sort((a, b) => (a.session < b.session ? -1 : a.session > b.session ? 1 : 0));
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
		// Everything but id and seq, serialized here so the script only concatenates (Lua's JSON encoder
		// rounds numbers to 14 digits).
		const rest = JSON.stringify({ room, from, to, body, replyTo, sentAt });
		const reply = (await client.relayAppend(
			...this.args(room, from, to, key ?? "", key === null ? 0 : 1, tail, sentAt, rest, JSON.stringify(recipients), ...recipients),
		)) as [number, string, string[]?];
		const [duplicate, json, earlierRecipients] = reply;
		if (duplicate === 1) return { message: parseMessage(json), duplicate: true, recipients: (earlierRecipients ?? []).sort() };
		return { message: parseMessage(json), duplicate: false, recipients };
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
		const client = this.ready();
		if (messageIds.length === 0) return 0;
		return Number(await client.relayAck(...this.args(room, recipient, ...messageIds)));
	}

	async getMessage(room: string, messageId: string, viewer: string): Promise<Message | null> {
		const json = await this.ready().relayGetMessage(...this.args(room, messageId, viewer));
		return json == null ? null : parseMessage(json);
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
			),
		)) as [number, ...string[]];
		return { messages: rows.map(parseMessage), remaining };
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
