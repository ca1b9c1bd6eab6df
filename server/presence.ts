/**
 * Who holds which session on this hub: the live holder of each ID, the observers attached beside it (hooks),
 * each room's broadcast audience (every session it has), the claim lock that serializes hellos (and forgets)
 * for one ID, and the presence frames (`peer_joined` / `peer_left`) the room sees. Handlers reach it through
 * their context (server/handlers/context.ts); the Hub owns it and feeds it connections and fan-out events.
 *
 * It also ends sessions: an ephemeral one is forgotten when its connection ends, `forget` forgets one on
 * request, and retention forgets those not seen for a while (forgetStale). Forgetting takes the ID out of
 * the audience here and, through fan-out, on every other hub.
 */
import type { Connection, LeaveReason } from "./connection.js";
import { sessionKey } from "./connection.js";
import type { HubOptions } from "./defaults.js";
import { CloseCode } from "./errors.js";
import { HubEvents } from "./events.js";
import type { Fanout } from "./fanout.js";
import type { Logger } from "./logger.js";
import type { Message } from "./protocol.js";
import type { ForgetResult, Store } from "./store/store.js";

export interface ForgetOutcome extends ForgetResult {
	/** Connections (holder, observers) closed with 4009 because their session was forgotten. */
	closed: number;
}

export interface StaleOutcome {
	/** Named sessions forgotten for not being seen for --forget-after-days. */
	named: number;
	/** Ephemeral sessions whose record outlived their connection (a hub that stopped without cleaning up). */
	ephemeral: number;
	/** Unread messages dropped with them. */
	pending: number;
	/** Up to 20 of the forgotten sessions that had unread mail, for the log. */
	withMail: { room: string; session: string; pending: number }[];
}

/** Rooms' audiences are read from the store in pages of this many. */
const LOAD_PAGE = 1_000;
/** Retention asks the store for this many stale sessions at a time. */
const STALE_BATCH = 500;
const DAY_MS = 86_400_000;

export class Presence {
	/** room\0session → the connection holding it. */
	readonly #online = new Map<string, Connection>();
	/** room\0session → observer connections attached to it (hooks). */
	readonly #observers = new Map<string, Set<Connection>>();
	/** Sessions ever seen per room (the broadcast audience), loaded from the store on first use of a room. */
	readonly #known = new Map<string, Set<string>>();
	/** room → sessions announced by other hubs while that room's audience was being loaded. */
	readonly #knownLoading = new Map<string, Set<string>>();
	/** room → sessions forgotten (by any hub) while that room's audience was being loaded. */
	readonly #forgetsLoading = new Map<string, string[]>();
	/** room → the load of its audience in progress, so that concurrent hellos share one read. */
	readonly #loads = new Map<string, Promise<Set<string>>>();
	/** Serializes claims of the same ID so two racing hellos cannot both win. */
	readonly #claims = new Map<string, Promise<unknown>>();

	/** Ephemeral sessions whose connection ended without bye, waiting out ephemeralGraceMs. */
	readonly #graceTimers = new Set<NodeJS.Timeout>();

	constructor(
		private readonly store: Store,
		private readonly fanout: Pick<Fanout, "publish">,
		private readonly log: Logger,
		private readonly options: Pick<HubOptions, "ephemeralGraceMs"> = { ephemeralGraceMs: 0 },
		/** The dashboard's live stream hears joins and leaves here (server/events.ts). */
		private readonly events: HubEvents = new HubEvents(),
	) {}

	/** Stops the pending ends of ephemeral sessions (the hub is stopping; retention of the next one covers them). */
	close(): void {
		for (const t of this.#graceTimers) clearTimeout(t);
		this.#graceTimers.clear();
	}

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

	/** The sessions a room has (the audience of `*`). Loaded once per room, then kept current. */
	async knownSessions(room: string): Promise<Set<string>> {
		const known = this.#known.get(room);
		if (known) return known;
		let load = this.#loads.get(room);
		if (!load) {
			load = this.#load(room);
			this.#loads.set(room, load);
			const done = () => this.#loads.delete(room);
			load.then(done, done);
		}
		return load;
	}

	async #load(room: string): Promise<Set<string>> {
		// Session and forget events from other hubs that arrive while the store is read must not be lost.
		const early = new Set<string>();
		const forgets: string[] = [];
		this.#knownLoading.set(room, early);
		this.#forgetsLoading.set(room, forgets);
		const ids: string[] = [];
		try {
			for (let after: string | undefined; ; ) {
				const page = await this.store.listSessions(room, { limit: LOAD_PAGE, ...(after !== undefined ? { after } : {}) });
				for (const r of page) ids.push(r.session);
				if (page.length < LOAD_PAGE) break;
				after = page.at(-1)?.session;
			}
		} finally {
			this.#knownLoading.delete(room);
			this.#forgetsLoading.delete(room);
		}
		const known = new Set([...ids, ...early]);
		this.#known.set(room, known);
		for (const session of forgets) this.sessionForgotten(room, session, false);
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
		this.events.sink?.({ kind: "joined", room: s.room, session: s.session, meta: s.meta, connectedAt: s.connectedAt });
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
		// A replaced holder's ID lives on in the connection that took it over; a hub that is stopping leaves its
		// bridges to reconnect to the next one (retention forgets those that never do).
		if (s.ephemeral && reason !== "replaced" && reason !== "shutdown") this.#endEphemeral(s.room, s.session, s.touchedAt, reason === "bye");
		else this.store.touchSession(s.room, s.session, s.meta, Date.now()).catch((err) => this.log.warn({ err }, "touch failed"));
		this.log.info({ session: s.session, room: s.room, reason }, "session offline");
		const text = JSON.stringify({ type: "peer_left", session: s.session, room: s.room, reason });
		for (const other of this.online(s.room)) other.sendText(text);
		this.events.sink?.({ kind: "left", room: s.room, session: s.session, reason });
		if (reason === "bye") conn.close(CloseCode.NORMAL, "bye");
	}

	/**
	 * An ephemeral session's connection ended: forget it, at once after bye (its process is ending), else
	 * after ephemeralGraceMs, so that a bridge whose link dropped for a moment comes back to its unread mail.
	 * Not if it was claimed again meanwhile (here: it has a holder once we hold the lock; on another hub: its
	 * lastSeen moved past what this hub wrote).
	 */
	#endEphemeral(room: string, session: string, touchedAt: number, now: boolean): void {
		const forget = () =>
			this.withClaimLock(room, session, async () => {
				if (this.holder(room, session)) return;
				const r = await this.forgetLocked(room, session, { seenBefore: touchedAt + 1 });
				if (r.session) this.log.info({ session, room, pending: r.pending }, "ephemeral session forgotten");
			}).catch((err) => this.log.warn({ err, session, room }, "forgetting an ephemeral session failed"));
		if (now || this.options.ephemeralGraceMs <= 0) {
			void forget();
			return;
		}
		const timer = setTimeout(() => {
			this.#graceTimers.delete(timer);
			void forget();
		}, this.options.ephemeralGraceMs);
		timer.unref();
		this.#graceTimers.add(timer);
	}

	/**
	 * Forgets a session: closes whoever holds or observes it here (with `close`), deletes it from the store,
	 * takes it out of the room's audience, and tells the other hubs. The caller holds the claim lock. With
	 * `seenBefore`, only a session not seen since is forgotten (see ForgetOptions).
	 */
	async forgetLocked(room: string, session: string, opts: { seenBefore?: number; close?: boolean } = {}): Promise<ForgetOutcome> {
		const closed = opts.close ? this.#closeAll(room, session) : 0;
		const r = await this.store.forgetSession(room, session, opts.seenBefore !== undefined ? { seenBefore: opts.seenBefore } : {});
		if (opts.seenBefore !== undefined && !r.session) return { ...r, closed };
		this.#known.get(room)?.delete(session);
		this.fanout
			.publish({ kind: "forget", room, session, close: opts.close === true })
			.catch((err) => this.log.warn({ err }, "fan-out of a forgotten session failed"));
		return { ...r, closed };
	}

	/** Closes the holder and the observers of a session on this hub (4009); returns how many. */
	#closeAll(room: string, session: string): number {
		const key = sessionKey(room, session);
		const conns = [...(this.#observers.get(key) ?? [])];
		const holder = this.#online.get(key);
		if (holder) conns.push(holder);
		for (const conn of conns) {
			this.leave(conn, "closed");
			conn.close(CloseCode.FORGOTTEN, "session forgotten");
		}
		return conns.length;
	}

	/**
	 * A forget event (from any hub, this one included): out of the room's audience, and with `close`, its
	 * connections here are closed.
	 */
	sessionForgotten(room: string, session: string, close: boolean): void {
		if (close) this.#closeAll(room, session);
		this.#forgetsLoading.get(room)?.push(session);
		const known = this.#known.get(room);
		// Held here: it was claimed again (on this hub) after the forget.
		if (!known || this.holder(room, session) || !known.delete(session)) return;
		// The event may also arrive after the ID was claimed again on another hub (events of two hubs are not
		// ordered): the store says which is current.
		this.store.getSession(room, session).then(
			(record) => {
				if (record) this.sessionSeen(room, session);
			},
			(err) => this.log.warn({ err, session, room }, "checking a forgotten session failed"),
		);
	}

	/**
	 * Retention of sessions: refreshes lastSeen of every session held here (so that no hub's retention takes
	 * a live one for stale), then forgets named sessions not seen for `forgetAfterDays` and ephemeral records
	 * older than `staleEphemeralMs`, each under its claim lock and only if still not seen since the cutoff.
	 */
	async forgetStale(now: number, o: Pick<HubOptions, "forgetAfterDays" | "staleEphemeralMs">): Promise<StaleOutcome> {
		await Promise.all(
			[...this.#online.values()].map((conn) => {
				const s = conn.session;
				if (!s) return undefined;
				s.touchedAt = now;
				return this.store.touchSession(s.room, s.session, s.meta, now);
			}),
		);
		const namedBefore = o.forgetAfterDays > 0 ? now - o.forgetAfterDays * DAY_MS : undefined;
		const ephemeralBefore = now - o.staleEphemeralMs;
		const out: StaleOutcome = { named: 0, ephemeral: 0, pending: 0, withMail: [] };
		const tried = new Set<string>();
		for (;;) {
			const batch = await this.store.staleSessions({ namedBefore, ephemeralBefore, limit: STALE_BATCH });
			let fresh = 0;
			for (const stale of batch) {
				const key = sessionKey(stale.room, stale.session);
				if (tried.has(key)) continue;
				tried.add(key);
				fresh++;
				const seenBefore = stale.ephemeral ? ephemeralBefore : (namedBefore ?? 0);
				const r = await this.withClaimLock(stale.room, stale.session, () =>
					this.holder(stale.room, stale.session) ? Promise.resolve(null) : this.forgetLocked(stale.room, stale.session, { seenBefore }),
				);
				if (!r?.session) continue;
				if (stale.ephemeral) out.ephemeral++;
				else out.named++;
				out.pending += r.pending;
				if (r.pending > 0 && out.withMail.length < 20) out.withMail.push({ room: stale.room, session: stale.session, pending: r.pending });
			}
			// A short batch was the last; one with nothing new means what is left cannot be forgotten now.
			if (batch.length < STALE_BATCH || fresh === 0) return out;
		}
	}

	/** Another hub (or this one) first saw a session: add it to the room's audience if that room is loaded. */
	sessionSeen(room: string, session: string): void {
		// A room not loaded yet reads the session from the store when it is (or from #knownLoading, if the read
		// is under way and might predate the session).
		(this.#known.get(room) ?? this.#knownLoading.get(room))?.add(session);
	}

	/** A committed message: push it to the recipients' connections on this hub, holders and observers. */
	deliver(message: Message, recipients: readonly string[]): void {
		// One serialization per message, however many recipients (a broadcast to 50 stringified it 50 times).
		let text: string | undefined;
		const frame = () => (text ??= JSON.stringify({ type: "message", message }));
		for (const recipient of recipients) {
			const key = sessionKey(message.room, recipient);
			this.#online.get(key)?.deliver(message, frame);
			const observers = this.#observers.get(key);
			if (observers) for (const o of observers) o.deliver(message, frame);
		}
	}
}
