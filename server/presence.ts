/**
 * Who holds which session on this hub: the live holder of each ID, the observers attached beside it (hooks),
 * each room's broadcast audience (every session it has seen), the claim lock that serializes hellos for one
 * ID, and the presence frames (`peer_joined` / `peer_left`) the room sees. Handlers reach it through their
 * context (server/handlers/context.ts); the Hub owns it and feeds it connections and fan-out events.
 */
import type { Connection, LeaveReason } from "./connection.js";
import { sessionKey } from "./connection.js";
import { CloseCode } from "./errors.js";
import type { Fanout } from "./fanout.js";
import type { Logger } from "./logger.js";
import type { Message, ReceiptPush } from "./protocol.js";
import type { PushedDelivery, Store } from "./store/store.js";

export class Presence {
	/** room\0session → the connection holding it. */
	readonly #online = new Map<string, Connection>();
	/** room\0session → observer connections attached to it (hooks). */
	readonly #observers = new Map<string, Set<Connection>>();
	/** Sessions ever seen per room (the broadcast audience), loaded from the store on first use of a room. */
	readonly #known = new Map<string, Set<string>>();
	/** room → sessions announced by other hubs while that room's audience was being loaded. */
	readonly #knownLoading = new Map<string, Set<string>>();
	/** Serializes claims of the same ID so two racing hellos cannot both win. */
	readonly #claims = new Map<string, Promise<unknown>>();

	constructor(
		private readonly store: Store,
		private readonly fanout: Pick<Fanout, "publish">,
		private readonly log: Logger,
	) {}

	/** Sessions held live on this hub (not observers). */
	get size(): number {
		return this.#online.size;
	}

	/** The connection holding this session now, if any. */
	holder(room: string, session: string): Connection | undefined {
		return this.#online.get(sessionKey(room, session));
	}

	/** Runs `fn` with no other claim of the same ID in flight. */
	async withClaimLock<T>(room: string, session: string, fn: () => Promise<T>): Promise<T> {
		const key = sessionKey(room, session);
		const previous = this.#claims.get(key) ?? Promise.resolve();
		const run = previous.then(fn, fn);
		const tail = run.catch(() => undefined);
		this.#claims.set(key, tail);
		try {
			return await run;
		} finally {
			if (this.#claims.get(key) === tail) this.#claims.delete(key);
		}
	}

	/** Sessions ever seen in a room (the audience of `*`). Loaded once per room, then kept current. */
	async knownSessions(room: string): Promise<Set<string>> {
		let known = this.#known.get(room);
		if (!known) {
			// Session events from other hubs that arrive while the store is read must not be lost.
			const early = this.#knownLoading.get(room) ?? new Set<string>();
			this.#knownLoading.set(room, early);
			const records = await this.store.listSessions(room);
			this.#knownLoading.delete(room);
			known = this.#known.get(room) ?? new Set([...early, ...records.map((r) => r.session)]);
			this.#known.set(room, known);
		}
		return known;
	}

	/** Synchronous view of a room's known sessions; the room must have been loaded by a hello first. */
	knownSessionsLoaded(room: string): Set<string> {
		return this.#known.get(room) ?? new Set();
	}

	/** Live holders in a room, in the order they connected. */
	online(room: string): Connection[] {
		const out: Connection[] = [];
		for (const conn of this.#online.values()) if (conn.session?.room === room && conn.open) out.push(conn);
		return out;
	}

	/** Binds a session to a connection that passed hello; the caller holds the claim lock. */
	register(conn: Connection): void {
		const key = conn.key;
		const s = conn.session;
		if (!key || !s) throw new Error("register without a session");
		if (s.observer) {
			const set = this.#observers.get(key) ?? new Set<Connection>();
			this.#observers.set(key, set);
			set.add(conn);
			return;
		}
		this.#online.set(key, conn);
		const known = this.knownSessionsLoaded(s.room);
		if (!known.has(s.session)) {
			known.add(s.session);
			// Other hubs sharing the store loaded this room's audience before this session existed: tell them.
			this.fanout
				.publish({ kind: "session", room: s.room, session: s.session })
				.catch((err) => this.log.warn({ err }, "fan-out of a new session failed"));
		}
	}

	/** After the hello reply went out: tell the room, and start replaying what waits for this session. */
	afterHello(conn: Connection): void {
		const s = conn.session;
		if (!s) return;
		if (s.observer) {
			conn.startLive();
			return;
		}
		// Serialized once: in a room of N sessions every join writes N-1 frames.
		const text = JSON.stringify({ type: "peer_joined", peer: conn.peerInfo() });
		for (const other of this.online(s.room)) if (other !== conn) other.sendText(text);
		conn.startCatchUp();
	}

	/** A connection is going away (bye, close, heartbeat timeout, replaced, slow, shutdown). Runs once. */
	leave(conn: Connection, reason: LeaveReason): void {
		if (conn.leaving === null) conn.leaving = reason;
		const s = conn.session;
		const key = conn.key;
		if (s?.observer && key) {
			const set = this.#observers.get(key);
			set?.delete(conn);
			if (set?.size === 0) this.#observers.delete(key);
			if (reason === "bye") conn.close(CloseCode.NORMAL, "bye");
			return;
		}
		if (!s || !key || this.#online.get(key) !== conn) {
			if (reason === "bye") conn.close(CloseCode.NORMAL, "bye");
			return;
		}
		this.#online.delete(key);
		this.store.touchSession(s.room, s.session, s.meta, Date.now()).catch((err) => this.log.warn({ err }, "touch failed"));
		this.log.info({ session: s.session, room: s.room, reason }, "session offline");
		const text = JSON.stringify({ type: "peer_left", session: s.session, room: s.room, reason });
		for (const other of this.online(s.room)) other.sendText(text);
		if (reason === "bye") conn.close(CloseCode.NORMAL, "bye");
	}

	/** Another hub (or this one) first saw a session: add it to the room's audience if that room is loaded. */
	sessionSeen(room: string, session: string): void {
		// A room not loaded yet reads the session from the store when it is (or from #knownLoading, if the read
		// is under way and might predate the session).
		(this.#known.get(room) ?? this.#knownLoading.get(room))?.add(session);
	}

	/**
	 * A committed message: push it to the recipients' connections on this hub, holders and observers. The
	 * holders it was written to live are marked pushed (their receipts), in one call, after the writes.
	 */
	deliver(message: Message, recipients: readonly string[]): void {
		// One serialization per message, however many recipients (a broadcast to 50 stringified it 50 times).
		let text: string | undefined;
		const frame = () => (text ??= JSON.stringify({ type: "message", message }));
		const pushed: string[] = [];
		for (const recipient of recipients) {
			const key = sessionKey(message.room, recipient);
			if (this.#online.get(key)?.deliver(message, frame)) pushed.push(recipient);
			const observers = this.#observers.get(key);
			if (observers) for (const o of observers) o.deliver(message, frame);
		}
		if (pushed.length > 0) this.#markPushed(message.room, { seq: message.seq, recipients: pushed, all: pushed.length === recipients.length });
	}

	/** Pushes written this turn of the event loop, per room: handed to the store once, not once per message. */
	readonly #pushed = new Map<string, PushedDelivery[]>();
	#pushedAt = 0;

	#markPushed(room: string, push: PushedDelivery): void {
		if (this.#pushed.size === 0) {
			this.#pushedAt = Date.now();
			queueMicrotask(() => {
				const at = this.#pushedAt;
				for (const [r, pushes] of this.#pushed) {
					this.store.markPushed(r, pushes, at).catch((err) => this.log.debug({ err }, "could not mark deliveries pushed"));
				}
				this.#pushed.clear();
			});
		}
		const list = this.#pushed.get(room);
		if (list) list.push(push);
		else this.#pushed.set(room, [push]);
	}

	/** A recipient saw a message: tell its sender's connections on this hub (holder and observers). */
	deliverReceipt(room: string, sender: string, receipt: Omit<ReceiptPush, "type">): void {
		const key = sessionKey(room, sender);
		const holder = this.#online.get(key);
		const observers = this.#observers.get(key);
		if (!holder && !observers) return;
		const text = JSON.stringify({ type: "receipt", ...receipt });
		holder?.sendText(text);
		if (observers) for (const o of observers) o.sendText(text);
	}
}
