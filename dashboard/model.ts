/**
 * What the page knows, kept current by the live stream: one object, changed only here, so that every panel
 * renders from the same state. Bounded: at most MAX_MESSAGES messages are kept (older ones are paged in
 * from the hub on request), and everything else is per room and replaced when the room changes.
 */
import type { ClaimInfo, Health, LiveEvents, MessageDetail, MessagePreview, SessionRow, StateInfo } from "./types.js";

export const MAX_MESSAGES = 500;
/** A session with mail waiting that has not been heard from for this long stands out. */
export const STUCK_MS = 5 * 60_000;

export interface SessionView extends SessionRow {
	/** When idleMs was measured (epoch ms), so the idle time can go on counting. */
	idleAt: number;
}

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
	/** Only messages from or directly to this session (null: all). */
	filter: string | null;
	selected: string | null;
	detail: MessageDetail | null;
	state: StateInfo[];
	claims: ClaimInfo[];
	health: Health | null;
	/** Where replies go: the message the composer answers. */
	replyTo: MessagePreview | null;
}

type Listener = () => void;

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
		filter: null,
		selected: null,
		detail: null,
		state: [],
		claims: [],
		health: null,
		replyTo: null,
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
	matches(m: { from: string; to: string }): boolean {
		const f = this.model.filter;
		return f === null || m.from === f || m.to === f;
	}

	setSessions(rows: SessionRow[], at = Date.now()): void {
		this.set({ sessions: rows.map((r) => ({ ...r, idleAt: at })) });
	}

	setMessages(messages: MessagePreview[], older: boolean): void {
		this.set({ messages: messages.slice(-MAX_MESSAGES), older: older || messages.length > MAX_MESSAGES });
	}

	/** Older messages paged in at the top (the newest are kept when over the bound). */
	prependMessages(page: MessagePreview[], older: boolean): void {
		const seen = new Set(this.model.messages.map((m) => m.id));
		const merged = [...page.filter((m) => !seen.has(m.id)), ...this.model.messages];
		this.set({ messages: merged.slice(0, MAX_MESSAGES), older });
	}

	#session(name: string, fn: (s: SessionView) => SessionView): void {
		this.set({ sessions: this.model.sessions.map((s) => (s.session === name ? fn(s) : s)) });
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
				const add = this.matches(d.message) && !(last && last.seq >= d.message.seq);
				const messages = add ? [...m.messages, d.message] : m.messages;
				// The hub's counts until its next health tick says them again.
				const h = m.health;
				const health = h && {
					...h,
					messagesStored: h.messagesStored + 1,
					pendingDeliveries: h.pendingDeliveries + d.recipients.length,
					messagesPerMinute: [...h.messagesPerMinute.slice(0, -1), (h.messagesPerMinute.at(-1) ?? 0) + 1],
				};
				this.set({ sessions, health, messages: messages.slice(-MAX_MESSAGES), older: m.older || messages.length > MAX_MESSAGES });
				return;
			}
			case "joined": {
				const d = data as LiveEvents["joined"];
				if (!m.sessions.some((s) => s.session === d.session)) return; // a new ID: the page asks for the sessions again
				this.#session(d.session, (s) => ({ ...s, online: true, meta: d.meta, idleMs: 0, idleAt: now, lastSeen: now }));
				return;
			}
			case "left": {
				const d = data as LiveEvents["left"];
				this.#session(d.session, (s) => ({ ...s, online: false, idleMs: null, lastSeen: d.at }));
				return;
			}
			case "acked": {
				const d = data as LiveEvents["acked"];
				this.#session(d.session, (s) => ({ ...s, pending: d.pending ?? s.pending, idleMs: 0, idleAt: now }));
				const detail = m.detail;
				if (detail && d.ids.includes(detail.message.id)) {
					this.set({ detail: { ...detail, recipients: detail.recipients.map((r) => (r.session === d.session ? { ...r, acked: true } : r)) } });
				}
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
				this.set({ sessions: m.sessions.filter((s) => s.session !== d.session) });
				return;
			}
			default:
		}
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
