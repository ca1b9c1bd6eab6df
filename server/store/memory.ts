/**
 * The Store in plain Maps: for tests and `--db :memory:`. It is the reference for the semantics every
 * backend must share (test/store.suite.ts runs against it and SQLite alike), so it favours obviousness over
 * speed. Everything it hands out is a copy, as a database would do, so callers cannot mutate stored state.
 */
import { BROADCAST, type Message, type SessionMeta, TOPIC_PREFIX, threadOf } from "../protocol.js";
import {
	type AppendInput,
	type AppendResult,
	type ForgetOptions,
	type ForgetResult,
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
	StorageHealth,
	type Store,
	type StoreStats,
	type ThreadPage,
	type ThreadQuery,
} from "./store.js";
import { newMessageId, uniqueRecipients } from "./ids.js";
import { MemoryClaimStore } from "./memory-claims.js";
import { MemoryOperatorStore } from "./memory-operator.js";
import { MemoryStateStore } from "./memory-state.js";
import { MemoryTopicStore } from "./memory-topics.js";
import { addressedTo, receiptOf, visibleTo } from "./receipts.js";

/** Composite map key; JSON keeps it unambiguous whatever the parts contain. */
const k = (...parts: string[]): string => JSON.stringify(parts);

interface StoredMessage {
	message: Message;
	key: string | null;
	/** recipient → acked */
	deliveries: Map<string, boolean>;
	/** recipient → when its delivery was pushed and seen (absent: queued). */
	receipts: Map<string, { pushedAt: number | null; seenAt: number | null }>;
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
		replies: (room, thread) => this.threads.get(k(room, thread)) ?? [],
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
	/** k(room, thread) → the replies in that thread (roots are found by id), in seq order. */
	private readonly threads = new Map<string, Set<StoredMessage>>();

	readonly topics = new MemoryTopicStore(
		() => this.check(),
		(room) => this.topicLogs(room),
	);

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

	async renameSession(input: RenameInput): Promise<RenameOutcome> {
		this.check();
		const { room, from, to, now } = input;
		const fromKey = k(room, from);
		const toKey = k(room, to);
		const old = this.sessions.get(fromKey);
		if (!old || from === to) return { renamed: false, existed: false, moved: 0 };
		const existing = this.sessions.get(toKey);
		const meta = structuredClone(input.meta);
		if (existing) Object.assign(existing, { meta, lastSeen: now, ephemeral: false });
		else this.sessions.set(toKey, { room, session: to, secretHash: input.secretHash, meta, firstSeen: old.firstSeen, lastSeen: now, ephemeral: false });
		this.sessions.delete(fromKey);
		let moved = 0;
		const target = this.inboxOf(room, to, true);
		for (const s of this.inboxOf(room, from) ?? []) {
			s.deliveries.delete(from);
			if (s.deliveries.get(to) === false) continue;
			s.deliveries.set(to, false);
			moved++;
		}
		// Re-sorted into seq order: the moved deliveries and any that waited for `to` interleave.
		const merged = [...target, ...(this.inboxOf(room, from) ?? [])].sort((a, b) => a.message.seq - b.message.seq);
		this.inbox.set(toKey, new Set(merged));
		this.inbox.delete(fromKey);
		const lost = this.lost.get(fromKey) ?? 0;
		if (lost > 0) this.lost.set(toKey, (this.lost.get(toKey) ?? 0) + lost);
		this.lost.delete(fromKey);
		return { renamed: true, existed: existing !== undefined, moved };
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
		const id = newMessageId(seq);
		// A reply joins its parent's thread; a parent that is not here (never was, or retention took it) is the root.
		const parent = input.replyTo === null ? undefined : this.byId.get(input.replyTo);
		const thread =
			input.replyTo === null ? id : parent && parent.message.room === input.room ? threadOf(parent.message) : input.replyTo;
		const message: Message = {
			id,
			seq,
			room: input.room,
			from: input.from,
			to: input.to,
			body: input.body,
			replyTo: input.replyTo,
			thread,
			sentAt: input.sentAt,
		};
		if (input.human) message.human = true;
		const subscribers = input.topic ? this.topics.subscribersNow(input.room, input.topic).filter((s) => s !== input.from) : [];
		const recipients = uniqueRecipients([...input.recipients, ...subscribers]);
		const stored: StoredMessage = { message, key: input.key, deliveries: new Map(), receipts: new Map() };
		for (const r of recipients) {
			stored.deliveries.set(r, false);
			this.inboxOf(input.room, r, true).add(stored);
		}
		this.roomOf(input.room, true).set(seq, stored);
		this.byId.set(message.id, stored);
		if (thread !== id) {
			const key = k(input.room, thread);
			const set = this.threads.get(key) ?? new Set();
			this.threads.set(key, set);
			set.add(stored);
		}
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
		const seenAt = query.seenAt ?? Date.now();
		for (const s of page) this.ackOne(s, recipient, seenAt);
		return { messages: page.map((s) => copyMessage(s.message)), remaining };
	}

	async ack(room: string, recipient: string, messageIds: string[]): Promise<number> {
		return (await this.ackSeen(room, recipient, messageIds, Date.now())).length;
	}

	async ackSeen(room: string, recipient: string, messageIds: string[], seenAt: number): Promise<SeenDelivery[]> {
		this.check();
		const seen: SeenDelivery[] = [];
		for (const id of messageIds) {
			const s = this.byId.get(id);
			if (s && s.message.room === room && this.ackOne(s, recipient, seenAt))
				seen.push({ id: s.message.id, seq: s.message.seq, from: s.message.from, seenAt });
		}
		return seen;
	}

	async markPushed(room: string, pushes: readonly PushedDelivery[], at: number): Promise<void> {
		this.check();
		const msgs = this.roomOf(room);
		for (const { seq, recipients } of pushes) {
			const s = msgs?.get(seq);
			for (const recipient of recipients) {
				if (!s?.deliveries.has(recipient)) continue;
				const r = s.receipts.get(recipient) ?? { pushedAt: null, seenAt: null };
				r.pushedAt ??= at;
				s.receipts.set(recipient, r);
			}
		}
	}

	async getMessage(room: string, messageId: string, viewer: string): Promise<Message | null> {
		this.check();
		const s = this.byId.get(messageId);
		if (!s || s.message.room !== room) return null;
		// The addressee counts even without a delivery row, so that anything history shows can be fetched.
		return visibleTo(s.message, viewer) || s.deliveries.has(viewer) ? copyMessage(s.message) : null;
	}

	async receipts(room: string, messageId: string): Promise<MessageReceipts | null> {
		this.check();
		const s = this.byId.get(messageId);
		if (!s || s.message.room !== room) return null;
		const receipts = [...s.deliveries.keys()].sort().map((r) => {
			const t = s.receipts.get(r);
			return receiptOf(r, s.message.sentAt, t?.pushedAt ?? null, t?.seenAt ?? null);
		});
		return { message: copyMessage(s.message), receipts };
	}

	async thread(room: string, messageId: string, query: ThreadQuery): Promise<ThreadPage | null> {
		this.check();
		// A message of another room names nothing here (its id may still be the thread of replies in this room).
		const found = this.byId.get(messageId);
		const named = found && found.message.room === room ? found : undefined;
		if (named && !(visibleTo(named.message, query.viewer) || named.deliveries.has(query.viewer))) return null;
		const thread = named ? threadOf(named.message) : messageId;
		const root = this.byId.get(thread);
		const members = [...(root && root.message.room === room ? [root] : []), ...(this.threads.get(k(room, thread)) ?? [])]
			.filter((s) => query.after === undefined || s.message.seq > query.after)
			.filter((s) => visibleTo(s.message, query.viewer) || s.deliveries.has(query.viewer))
			.sort((a, b) => a.message.seq - b.message.seq);
		if (!named && members.length === 0) return null;
		const limit = Math.max(0, query.limit);
		return { thread, messages: members.slice(0, limit).map((s) => copyMessage(s.message)), hasMore: members.length > limit };
	}

	async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
		this.check();
		const { viewer, with: peer, topic, before, after } = query;
		const limit = Math.max(0, query.limit);
		const visible =
			topic !== undefined
				? (m: Message) => m.to === TOPIC_PREFIX + topic
				: peer === undefined
					? (m: Message) => m.to === BROADCAST || m.from === viewer || addressedTo(m.to, viewer)
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

	/** Per topic of a room: how many messages its log holds and when the newest was sent. */
	private topicLogs(room: string): Map<string, { messages: number; lastMessageAt: number }> {
		const out = new Map<string, { messages: number; lastMessageAt: number }>();
		for (const { message: m } of this.roomOf(room)?.values() ?? []) {
			if (!m.to.startsWith(TOPIC_PREFIX)) continue;
			const topic = m.to.slice(TOPIC_PREFIX.length);
			const log = out.get(topic) ?? { messages: 0, lastMessageAt: m.sentAt };
			log.messages++;
			log.lastMessageAt = m.sentAt; // seq order: the last one is the newest
			out.set(topic, log);
		}
		return out;
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
			if (query.replyTo !== undefined && s.message.replyTo !== query.replyTo) continue;
			if (page.length < query.limit) page.push(s);
			else remaining++;
		}
		return { page, remaining };
	}

	/** True if this recipient had an unacked delivery of the message; it is seen at `seenAt`. */
	private ackOne(s: StoredMessage, recipient: string, seenAt: number): boolean {
		if (s.deliveries.get(recipient) !== false) return false;
		s.deliveries.set(recipient, true);
		const r = s.receipts.get(recipient) ?? { pushedAt: null, seenAt: null };
		r.seenAt ??= seenAt;
		s.receipts.set(recipient, r);
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
		const thread = threadOf(s.message);
		const replies = this.threads.get(k(room, thread));
		replies?.delete(s);
		if (replies?.size === 0) this.threads.delete(k(room, thread));
		if (s.key !== null) this.byKey.delete(k(room, from, s.key));
		result.deletedMessages++;
	}
}
