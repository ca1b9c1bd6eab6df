/**
 * The Store in plain Maps: for tests and `--db :memory:`. It is the reference for the semantics every
 * backend must share (test/store.suite.ts runs against it and SQLite alike), so it favours obviousness over
 * speed. Everything it hands out is a copy, as a database would do, so callers cannot mutate stored state.
 */
import { BROADCAST, type Message, type SessionMeta } from "../protocol.js";
import {
	type AppendInput,
	type AppendResult,
	type ForgetOptions,
	type ForgetResult,
	type HistoryPage,
	type HistoryQuery,
	type PendingPage,
	type PendingQuery,
	type RetentionPolicy,
	type RetentionResult,
	type SessionPageQuery,
	type SessionRecord,
	type StaleQuery,
	type StaleSession,
	StorageHealth,
	type Store,
	type StoreStats,
} from "./store.js";
import { newMessageId, uniqueRecipients } from "./ids.js";
import { MemoryClaimStore } from "./memory-claims.js";
import { MemoryOperatorStore } from "./memory-operator.js";
import { MemoryStateStore } from "./memory-state.js";

/** Composite map key; JSON keeps it unambiguous whatever the parts contain. */
const k = (...parts: string[]): string => JSON.stringify(parts);

interface StoredMessage {
	message: Message;
	key: string | null;
	/** recipient → acked */
	deliveries: Map<string, boolean>;
}

const copyMessage = (m: Message): Message => ({ ...m });
const copySession = (s: SessionRecord): SessionRecord => ({ ...s, meta: structuredClone(s.meta) });
/** IDs in the order SQLite (memcmp of UTF-8) and Redis (ZRANGEBYLEX) give them, not UTF-16's. */
const byIdBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

export class MemoryStore implements Store {
	readonly kind = "memory";
	/** Memory does not fail like a disk or a server: always healthy. */
	readonly health = new StorageHealth();
	readonly state = new MemoryStateStore(() => this.check());
	readonly claims = new MemoryClaimStore(() => this.check());
	readonly operator = new MemoryOperatorStore({
		check: () => this.check(),
		rooms: () => [...[...this.sessions.values()].map((s) => s.room), ...this.rooms.keys()],
		roomMessages: (room) => this.roomOf(room)?.values() ?? [],
		byId: (id) => this.byId.get(id),
	});

	private closed = false;
	private lastSeq = 0;
	private readonly sessions = new Map<string, SessionRecord>();
	/** room → its messages; Maps iterate in insertion order, which is seq order. */
	private readonly rooms = new Map<string, Map<number, StoredMessage>>();
	private readonly byId = new Map<string, StoredMessage>();
	/** k(room, from, key) → message, for idempotency. */
	private readonly byKey = new Map<string, StoredMessage>();
	/** k(room, recipient) → its unacked deliveries, in seq order (insertion order again). */
	private readonly inbox = new Map<string, Set<StoredMessage>>();
	/** k(room, session) → unacked deliveries lost to retention. */
	private readonly lost = new Map<string, number>();
	/** room → highest seq retention deleted there. */
	private readonly pruned = new Map<string, number>();

	async open(): Promise<void> {
		this.check();
	}

	async close(): Promise<void> {
		this.closed = true;
	}

	async getSession(room: string, session: string): Promise<SessionRecord | null> {
		this.check();
		const s = this.sessions.get(k(room, session));
		return s ? copySession(s) : null;
	}

	async createSession(record: SessionRecord): Promise<boolean> {
		this.check();
		const key = k(record.room, record.session);
		if (this.sessions.has(key)) return false;
		this.sessions.set(key, copySession(record));
		return true;
	}

	async touchSession(room: string, session: string, meta: SessionMeta, lastSeen: number): Promise<void> {
		this.check();
		const s = this.sessions.get(k(room, session));
		if (!s) return;
		s.meta = structuredClone(meta);
		s.lastSeen = lastSeen;
	}

	async listSessions(room: string, page?: SessionPageQuery): Promise<SessionRecord[]> {
		this.check();
		const after = page?.after;
		const all = [...this.sessions.values()]
			.filter((s) => s.room === room && (after === undefined || byIdBytes(s.session, after) > 0))
			.sort((a, b) => byIdBytes(a.session, b.session));
		return (page ? all.slice(0, Math.max(0, page.limit)) : all).map(copySession);
	}

	async countSessions(room: string): Promise<number> {
		this.check();
		let n = 0;
		for (const s of this.sessions.values()) if (s.room === room) n++;
		return n;
	}

	async forgetSession(room: string, session: string, options: ForgetOptions = {}): Promise<ForgetResult> {
		this.check();
		const key = k(room, session);
		const record = this.sessions.get(key);
		if (options.seenBefore !== undefined && !(record && record.lastSeen < options.seenBefore)) return { session: false, pending: 0 };
		const inbox = this.inbox.get(key);
		const pending = inbox?.size ?? 0;
		// Marked as no longer owed rather than removed, so a retried broadcast still answers with the
		// audience it was stored with (as the other backends do) and retention counts nothing lost for it.
		for (const s of inbox ?? []) s.deliveries.set(session, true);
		this.inbox.delete(key);
		this.lost.delete(key);
		this.sessions.delete(key);
		return { session: record !== undefined, pending };
	}

	async append(input: AppendInput): Promise<AppendResult> {
		this.check();
		if (input.key !== null) {
			const earlier = this.byKey.get(k(input.room, input.from, input.key));
			if (earlier)
				return {
					message: copyMessage(earlier.message),
					duplicate: true,
					recipients: [...earlier.deliveries.keys()].sort(),
				};
		}
		const seq = ++this.lastSeq;
		const message: Message = {
			id: newMessageId(seq),
			seq,
			room: input.room,
			from: input.from,
			to: input.to,
			body: input.body,
			replyTo: input.replyTo,
			sentAt: input.sentAt,
		};
		if (input.human) message.human = true;
		const recipients = uniqueRecipients(input.recipients);
		const stored: StoredMessage = { message, key: input.key, deliveries: new Map() };
		for (const r of recipients) {
			stored.deliveries.set(r, false);
			this.inboxOf(input.room, r, true).add(stored);
		}
		this.roomOf(input.room, true).set(seq, stored);
		this.byId.set(message.id, stored);
		if (input.key !== null) this.byKey.set(k(input.room, input.from, input.key), stored);
		return { message: copyMessage(message), duplicate: false, recipients };
	}

	async pending(room: string, recipient: string, query: PendingQuery): Promise<PendingPage> {
		this.check();
		const { page, remaining } = this.pendingPage(room, recipient, query);
		return { messages: page.map((s) => copyMessage(s.message)), remaining };
	}

	async countPending(room: string, recipient: string): Promise<number> {
		this.check();
		return this.inboxOf(room, recipient)?.size ?? 0;
	}

	async takePending(room: string, recipient: string, query: PendingQuery): Promise<PendingPage> {
		this.check();
		const { page, remaining } = this.pendingPage(room, recipient, query);
		for (const s of page) this.ackOne(s, recipient);
		return { messages: page.map((s) => copyMessage(s.message)), remaining };
	}

	async ack(room: string, recipient: string, messageIds: string[]): Promise<number> {
		this.check();
		let changed = 0;
		for (const id of messageIds) {
			const s = this.byId.get(id);
			if (s && s.message.room === room && this.ackOne(s, recipient)) changed++;
		}
		return changed;
	}

	async getMessage(room: string, messageId: string, viewer: string): Promise<Message | null> {
		this.check();
		const s = this.byId.get(messageId);
		if (!s || s.message.room !== room) return null;
		const m = s.message;
		// The addressee counts even without a delivery row, so that anything history shows can be fetched.
		const visible = m.to === BROADCAST || m.from === viewer || m.to === viewer || s.deliveries.has(viewer);
		return visible ? copyMessage(m) : null;
	}

	async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
		this.check();
		const { viewer, with: peer, before, after } = query;
		const limit = Math.max(0, query.limit);
		const visible =
			peer === undefined
				? (m: Message) => m.to === BROADCAST || m.from === viewer || m.to === viewer
				: (m: Message) => (m.from === viewer && m.to === peer) || (m.from === peer && m.to === viewer);
		const matches: Message[] = [];
		for (const { message: m } of this.roomOf(room)?.values() ?? []) {
			if (after !== undefined && m.seq <= after) continue;
			if (before !== undefined && m.seq >= before) continue;
			if (visible(m)) matches.push(m);
		}
		// `after` pages forwards (oldest first); otherwise we take the newest page below `before`.
		const page = after !== undefined ? matches.slice(0, limit) : matches.slice(Math.max(0, matches.length - limit));
		return { messages: page.map(copyMessage), hasMore: matches.length > limit };
	}

	async oldestSeq(room: string): Promise<number | null> {
		this.check();
		for (const seq of this.roomOf(room)?.keys() ?? []) return seq;
		return null;
	}

	async prunedThrough(room: string): Promise<number> {
		this.check();
		return this.pruned.get(room) ?? 0;
	}

	async takeLost(room: string, session: string): Promise<number> {
		this.check();
		const key = k(room, session);
		const n = this.lost.get(key) ?? 0;
		this.lost.delete(key);
		return n;
	}

	async staleSessions(query: StaleQuery): Promise<StaleSession[]> {
		this.check();
		const stale = (ephemeral: boolean, before: number | undefined) =>
			before === undefined
				? []
				: [...this.sessions.values()].filter((s) => s.ephemeral === ephemeral && s.lastSeen < before).sort((a, b) => a.lastSeen - b.lastSeen);
		return [...stale(false, query.namedBefore), ...stale(true, query.ephemeralBefore)]
			.slice(0, Math.max(0, query.limit))
			.map(({ room, session, ephemeral, lastSeen }) => ({ room, session, ephemeral, lastSeen }));
	}

	async applyRetention(policy: RetentionPolicy): Promise<RetentionResult> {
		this.check();
		const result: RetentionResult = { deletedMessages: 0, lostDeliveries: 0 };
		const old = (s: StoredMessage) => policy.olderThan !== undefined && s.message.sentAt < policy.olderThan;
		for (const msgs of [...this.rooms.values()]) {
			// Age first, then the count cap over what is left: a room ends with at most maxPerRoom messages.
			const all = [...msgs.values()];
			const survivors = all.filter((s) => !old(s));
			const excess = policy.maxPerRoom === undefined ? 0 : Math.max(0, survivors.length - policy.maxPerRoom);
			for (const s of [...all.filter(old), ...survivors.slice(0, excess)]) this.deleteMessage(s, result);
		}
		return result;
	}

	async stats(): Promise<StoreStats> {
		this.check();
		let messages = 0;
		for (const msgs of this.rooms.values()) messages += msgs.size;
		let pendingDeliveries = 0;
		for (const set of this.inbox.values()) pendingDeliveries += set.size;
		return { messages, sessions: this.sessions.size, pendingDeliveries };
	}

	// -----------------------------------------------------------------------------------------------------

	private check(): void {
		if (this.closed) throw new Error("store is closed");
	}

	private roomOf(room: string): Map<number, StoredMessage> | undefined;
	private roomOf(room: string, create: true): Map<number, StoredMessage>;
	private roomOf(room: string, create?: true): Map<number, StoredMessage> | undefined {
		let msgs = this.rooms.get(room);
		if (!msgs && create) {
			msgs = new Map();
			this.rooms.set(room, msgs);
		}
		return msgs;
	}

	private inboxOf(room: string, recipient: string): Set<StoredMessage> | undefined;
	private inboxOf(room: string, recipient: string, create: true): Set<StoredMessage>;
	private inboxOf(room: string, recipient: string, create?: true): Set<StoredMessage> | undefined {
		const key = k(room, recipient);
		let set = this.inbox.get(key);
		if (!set && create) {
			set = new Set();
			this.inbox.set(key, set);
		}
		return set;
	}

	private pendingPage(
		room: string,
		recipient: string,
		query: PendingQuery,
	): { page: StoredMessage[]; remaining: number } {
		const page: StoredMessage[] = [];
		let remaining = 0;
		for (const s of this.inboxOf(room, recipient) ?? []) {
			if (query.afterSeq !== undefined && s.message.seq <= query.afterSeq) continue;
			if (query.from !== undefined && s.message.from !== query.from) continue;
			if (page.length < query.limit) page.push(s);
			else remaining++;
		}
		return { page, remaining };
	}

	/** True if this recipient had an unacked delivery of the message. */
	private ackOne(s: StoredMessage, recipient: string): boolean {
		if (s.deliveries.get(recipient) !== false) return false;
		s.deliveries.set(recipient, true);
		this.inboxOf(s.message.room, recipient)?.delete(s);
		return true;
	}

	private deleteMessage(s: StoredMessage, result: RetentionResult): void {
		const { room, id, seq, from } = s.message;
		for (const [recipient, acked] of s.deliveries) {
			if (acked) continue;
			this.inboxOf(room, recipient)?.delete(s);
			const key = k(room, recipient);
			this.lost.set(key, (this.lost.get(key) ?? 0) + 1);
			result.lostDeliveries++;
		}
		this.pruned.set(room, Math.max(this.pruned.get(room) ?? 0, seq));
		const msgs = this.roomOf(room);
		msgs?.delete(seq);
		if (msgs?.size === 0) this.rooms.delete(room);
		this.byId.delete(id);
		if (s.key !== null) this.byKey.delete(k(room, from, s.key));
		result.deletedMessages++;
	}
}
