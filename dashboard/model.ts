/**
 * What the page knows, kept current by the live stream: one object, changed only here, so that every panel
 * renders from the same state. Bounded: at most MAX_MESSAGES messages are kept in the stream and in the open
 * thread (older ones are paged in from the hub on request), at most MAX_TOPICS topics, and everything else is
 * per room and replaced when the room changes.
 */
import type { ClaimInfo, Health, LiveEvents, MessageDetail, MessagePreview, ReceiptRow, SessionRow, StateInfo, ThreadView, TopicRow } from "./types.js";

export const MAX_MESSAGES = 500;
/** Topics kept (the API's page); a topic first heard of live past it is not added. */
export const MAX_TOPICS = 1_000;
/** A session with mail waiting that has not been heard from for this long stands out. */
export const STUCK_MS = 5 * 60_000;

export interface SessionView extends SessionRow {
	/** When idleMs was measured (epoch ms), so the idle time can go on counting. */
	idleAt: number;
}

/** What the stream shows: messages from or directly to a session, a topic's log, or one thread. */
export type Filter = { kind: "session" | "topic" | "thread"; value: string };

export interface Model {
	/** "ok" once the hub answered; "token" when it wants a token (the login form); "error" when it cannot be reached. */
	auth: "loading" | "token" | "ok" | "error";
	error: string | null;
	room: string;
	rooms: { room: string; online: number }[];
	operator: string;
	live: "connecting" | "live" | "reconnecting";
	sessions: SessionView[];
	/** Oldest first. */
	messages: MessagePreview[];
	/** The hub has messages older than the first one here. */
	older: boolean;
	/** The hub has messages newer than the last one here that are not shown yet (a thread read page by page). */
	newer: boolean;
	/** null: every message of the room. */
	filter: Filter | null;
	selected: string | null;
	detail: MessageDetail | null;
	/** The selected message's thread, oldest first. */
	thread: ThreadView | null;
	topics: TopicRow[];
	state: StateInfo[];
	claims: ClaimInfo[];
	health: Health | null;
	/** Where replies go: the message the composer answers. */
	replyTo: MessagePreview | null;
	/** The composer's target: a session ID, `*`, `#topic`, or a list `A,B` ("" until chosen). */
	composeTo: string;
}

type Listener = () => void;

/** The thread a message belongs to (its own id when it is a root, or from a hub before threads). */
export function threadOf(m: { id: string; thread?: string | undefined }): string {
	return m.thread ?? m.id;
}

/** `#name` → `name`; anything else → null. */
export function topicOf(to: string): string | null {
	return to.startsWith("#") ? to.slice(1) : null;
}

/**
 * Whom a reply from the composer goes to: a topic message's topic, the operator's own message's addressee
 * (its thread goes on with the same audience), otherwise its sender.
 */
export function replyTarget(m: { from: string; to: string; human?: boolean | undefined }): string {
	if (topicOf(m.to) !== null) return m.to;
	return m.human ? m.to : m.from;
}

/** A topic's last activity as the hub says it: its newest message or subscription; null for neither. */
function activity(t: Pick<TopicRow, "lastMessageAt" | "subscribers">): number | null {
	const times = [...(t.lastMessageAt === null ? [] : [t.lastMessageAt]), ...t.subscribers.map((s) => s.since)];
	return times.length === 0 ? null : Math.max(...times);
}

const byName = <T extends { topic: string }>(a: T, b: T) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0);
const bySession = <T extends { session: string }>(a: T, b: T) => (a.session < b.session ? -1 : a.session > b.session ? 1 : 0);

export class Store {
	model: Model = {
		auth: "loading",
		error: null,
		room: "default",
		rooms: [],
		operator: "Operator",
		live: "connecting",
		sessions: [],
		messages: [],
		older: false,
		newer: false,
		filter: null,
		selected: null,
		detail: null,
		thread: null,
		topics: [],
		state: [],
		claims: [],
		health: null,
		replyTo: null,
		composeTo: "",
	};
	readonly #listeners = new Set<Listener>();

	subscribe(fn: Listener): () => void {
		this.#listeners.add(fn);
		return () => this.#listeners.delete(fn);
	}

	set(patch: Partial<Model>): void {
		this.model = { ...this.model, ...patch };
		for (const fn of this.#listeners) fn();
	}

	/** Whether a message belongs in the stream as filtered now. */
	matches(m: { id: string; from: string; to: string; thread?: string | undefined }): boolean {
		const f = this.model.filter;
		if (f === null) return true;
		if (f.kind === "session") return m.from === f.value || m.to === f.value || m.to.split(",").includes(f.value);
		if (f.kind === "topic") return m.to === `#${f.value}`;
		return threadOf(m) === f.value;
	}

	setSessions(rows: SessionRow[], at = Date.now()): void {
		this.set({ sessions: rows.map((r) => ({ ...r, idleAt: at })) });
	}

	setMessages(messages: MessagePreview[], older: boolean, newer = false): void {
		this.set({ messages: messages.slice(-MAX_MESSAGES), older: older || messages.length > MAX_MESSAGES, newer });
	}

	/**
	 * The first page after the stream was emptied (another room or filter). Messages pushed live while it
	 * was read and newer than it stay: they were committed after the read, so the page cannot have them, and
	 * replacing the stream with the page lost them until a reload. Not when the page says newer ones follow
	 * (a thread read forwards): those come with the next page.
	 */
	loadedMessages(page: MessagePreview[], older: boolean, newer = false): void {
		const last = page.at(-1)?.seq ?? 0;
		const live = newer ? [] : this.model.messages.filter((m) => m.seq > last);
		this.setMessages([...page, ...live], older, newer);
	}

	/** Older messages paged in at the top (the newest are kept when over the bound). */
	prependMessages(page: MessagePreview[], older: boolean): void {
		const seen = new Set(this.model.messages.map((m) => m.id));
		const merged = [...page.filter((m) => !seen.has(m.id)), ...this.model.messages];
		this.set({ messages: merged.slice(0, MAX_MESSAGES), older });
	}

	/** Newer messages paged in at the bottom (a thread read forwards); the oldest go past the bound. */
	appendMessages(page: MessagePreview[], newer: boolean): void {
		const seen = new Set(this.model.messages.map((m) => m.id));
		const merged = [...this.model.messages, ...page.filter((m) => !seen.has(m.id))];
		this.set({ messages: merged.slice(-MAX_MESSAGES), older: this.model.older || merged.length > MAX_MESSAGES, newer });
	}

	setTopics(rows: TopicRow[]): void {
		this.set({ topics: rows.slice(0, MAX_TOPICS) });
	}

	#session(name: string, fn: (s: SessionView) => SessionView): void {
		this.set({ sessions: this.model.sessions.map((s) => (s.session === name ? fn(s) : s)) });
	}

	/** A session's online state, where topics list it as a subscriber. */
	#subscriberOnline(session: string, online: boolean): void {
		const topics = this.model.topics;
		if (!topics.some((t) => t.subscribers.some((s) => s.session === session))) return;
		this.set({ topics: topics.map((t) => ({ ...t, subscribers: t.subscribers.map((s) => (s.session === session ? { ...s, online } : s)) })) });
	}

	/** The open message's receipts, changed for the recipients `fn` returns a new one for. */
	#receipts(fn: (r: ReceiptRow) => ReceiptRow): void {
		const d = this.model.detail;
		if (!d) return;
		this.set({ detail: { ...d, receipts: d.receipts.map(fn) } });
	}

	/** One live event; the stream is of this page's room (events of others never reach it). */
	apply<K extends keyof LiveEvents>(event: K, data: LiveEvents[K]): void {
		const now = Date.now();
		const m = this.model;
		switch (event) {
			case "hello": {
				const d = data as LiveEvents["hello"];
				this.set({ operator: d.operator });
				return;
			}
			case "health":
				this.set({ health: data as LiveEvents["health"] });
				return;
			case "message": {
				const d = data as LiveEvents["message"];
				const last = m.messages.at(-1);
				const grown = new Set(d.recipients);
				const sessions = m.sessions.map((s) => (grown.has(s.session) ? { ...s, pending: s.pending + 1 } : s));
				// While a thread is read page by page, its newest messages come with the next page, not here.
				const add = this.matches(d.message) && !m.newer && !(last && last.seq >= d.message.seq);
				const messages = add ? [...m.messages, d.message] : m.messages;
				// The hub's counts until its next health tick says them again.
				const h = m.health;
				const health = h && {
					...h,
					messagesStored: h.messagesStored + 1,
					pendingDeliveries: h.pendingDeliveries + d.recipients.length,
					messagesPerMinute: [...h.messagesPerMinute.slice(0, -1), (h.messagesPerMinute.at(-1) ?? 0) + 1],
				};
				this.set({
					sessions,
					health,
					messages: messages.slice(-MAX_MESSAGES),
					older: m.older || messages.length > MAX_MESSAGES,
					topics: this.#topicMessage(d.message),
					thread: this.#threadMessage(d.message),
				});
				return;
			}
			case "joined": {
				const d = data as LiveEvents["joined"];
				this.#subscriberOnline(d.session, true);
				if (!m.sessions.some((s) => s.session === d.session)) return; // a new ID: the page asks for the sessions again
				this.#session(d.session, (s) => ({ ...s, online: true, meta: d.meta, idleMs: 0, idleAt: now, lastSeen: now }));
				return;
			}
			case "left": {
				const d = data as LiveEvents["left"];
				this.#subscriberOnline(d.session, false);
				this.#session(d.session, (s) => ({ ...s, online: false, idleMs: null, lastSeen: d.at }));
				return;
			}
			case "acked": {
				const d = data as LiveEvents["acked"];
				this.#session(d.session, (s) => ({ ...s, pending: d.pending ?? s.pending, idleMs: 0, idleAt: now }));
				const detail = this.model.detail;
				if (detail && d.ids.includes(detail.message.id)) {
					this.set({ detail: { ...detail, recipients: detail.recipients.map((r) => (r.session === d.session ? { ...r, acked: true } : r)) } });
				}
				return;
			}
			case "receipt": {
				const d = data as LiveEvents["receipt"];
				if (m.detail?.message.id !== d.message) return;
				this.#receipts((r) => (r.recipient === d.recipient ? { ...r, state: "seen", at: d.at, seenAt: d.at } : r));
				return;
			}
			case "pushed": {
				const d = data as LiveEvents["pushed"];
				const seq = m.detail?.message.seq;
				const push = d.pushes.find((p) => p.seq === seq);
				if (!push) return;
				const to = new Set(push.recipients);
				// Never back from seen; a second push keeps the first time.
				this.#receipts((r) => (to.has(r.recipient) && r.state === "queued" ? { ...r, state: "pushed", at: d.at, pushedAt: d.at } : r));
				return;
			}
			case "subscription": {
				const d = data as LiveEvents["subscription"];
				this.set({ topics: this.#subscription(d) });
				return;
			}
			case "state": {
				const d = data as LiveEvents["state"];
				const rest = m.state.filter((s) => s.key !== d.key);
				if (d.deleted) {
					this.set({ state: rest });
					return;
				}
				const old = m.state.find((s) => s.key === d.key);
				const next: StateInfo = { key: d.key, version: d.version, updatedBy: d.updatedBy, updatedAt: d.updatedAt, size: old?.size ?? -1 };
				this.set({ state: [...rest, next].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) });
				return;
			}
			case "claims": {
				const d = data as LiveEvents["claims"];
				const key = (c: ClaimInfo) => `${c.repo}\u0000${c.session}\u0000${c.path}`;
				const gone = new Set([...d.released, ...d.claimed].map(key));
				this.set({ claims: [...m.claims.filter((c) => !gone.has(key(c))), ...d.claimed] });
				return;
			}
			case "forgotten": {
				const d = data as LiveEvents["forgotten"];
				// A forgotten session's subscriptions went with it.
				const topics = m.topics
					.map((t) => {
						if (!t.subscribers.some((s) => s.session === d.session)) return t;
						const subscribers = t.subscribers.filter((s) => s.session !== d.session);
						return { ...t, subscribers, lastActivity: activity({ ...t, subscribers }) };
					})
					.filter((t) => t.subscribers.length > 0 || t.messages > 0);
				this.set({ sessions: m.sessions.filter((s) => s.session !== d.session), topics });
				return;
			}
			default:
		}
	}

	/** The topics after a message: a topic message counts in its topic's log (a topic first heard of is added). */
	#topicMessage(msg: MessagePreview): TopicRow[] {
		const name = topicOf(msg.to);
		const topics = this.model.topics;
		if (name === null) return topics;
		const bump = (t: TopicRow): TopicRow => {
			const next = { ...t, messages: t.messages + 1, lastMessageAt: msg.sentAt };
			return { ...next, lastActivity: activity(next) };
		};
		if (topics.some((t) => t.topic === name)) return topics.map((t) => (t.topic === name ? bump(t) : t));
		if (topics.length >= MAX_TOPICS) return topics;
		return [...topics, bump({ topic: name, subscribers: [], messages: 0, lastMessageAt: null, lastActivity: null })].sort(byName);
	}

	/** The open thread after a message: one of its own joins it, in seq order. */
	#threadMessage(msg: MessagePreview): ThreadView | null {
		const t = this.model.thread;
		if (!t || t.hasMore || threadOf(msg) !== t.thread || t.messages.some((x) => x.id === msg.id)) return t;
		return { ...t, messages: [...t.messages, msg].sort((a, b) => a.seq - b.seq).slice(-MAX_MESSAGES) };
	}

	#subscription(d: LiveEvents["subscription"]): TopicRow[] {
		const topics = this.model.topics;
		const existing = topics.find((t) => t.topic === d.topic);
		if (d.subscribed) {
			// It subscribed just now, so it is online (on this hub: the event is this hub's).
			const sub = { session: d.session, since: d.at, online: true };
			if (!existing) {
				if (topics.length >= MAX_TOPICS) return topics;
				return [...topics, { topic: d.topic, subscribers: [sub], messages: 0, lastMessageAt: null, lastActivity: d.at }].sort(byName);
			}
			const subscribers = [...existing.subscribers.filter((s) => s.session !== d.session), sub].sort(bySession);
			return topics.map((t) => (t === existing ? { ...t, subscribers, lastActivity: activity({ ...t, subscribers }) } : t));
		}
		if (!existing) return topics;
		const subscribers = existing.subscribers.filter((s) => s.session !== d.session);
		// A topic with neither subscribers nor messages is gone from the hub's list too.
		if (subscribers.length === 0 && existing.messages === 0) return topics.filter((t) => t !== existing);
		return topics.map((t) => (t === existing ? { ...t, subscribers, lastActivity: activity({ ...t, subscribers }) } : t));
	}
}

/** How long a session has been quiet now: since its last frame (online) or since it was last seen. */
export function idleFor(s: SessionView, now = Date.now()): number {
	return s.online && s.idleMs !== null ? s.idleMs + (now - s.idleAt) : now - s.lastSeen;
}

/** Mail waits for it and it has not been heard from for a while: the row stands out. */
export function isStuck(s: SessionView, now = Date.now()): boolean {
	return s.pending > 0 && idleFor(s, now) > STUCK_MS;
}
