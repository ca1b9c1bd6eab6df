/**
 * Who holds which session: the live holder of each ID on this hub, the observers attached beside it (hooks),
 * each room's broadcast audience (every session it has), the claim lock that serializes hellos (and forgets)
 * for one ID on this hub, and the presence frames (`peer_joined` / `peer_left`) the room sees. Handlers reach
 * it through their context (server/handlers/context.ts); the Hub owns it and feeds it connections and fan-out
 * events.
 *
 * Beyond this hub it asks the directory (server/directory.ts): a claim of an ID is made there, so that an ID
 * is held once across every hub sharing it; the holder of a contested ID is probed wherever it is; and who is
 * online elsewhere (peers, the live/queued split of a send, `sessions`) is read from the directory's mirror.
 * With one hub the directory is a map and all of this is local.
 *
 * It also ends sessions: an ephemeral one is forgotten when its connection ends, `forget` forgets one on
 * request, and retention forgets those not seen for a while (forgetStale). Forgetting takes the ID out of
 * the audience here and, through fan-out, on every other hub.
 */
import type { Connection, LeaveReason } from "./connection.js";
import { sessionKey } from "./connection.js";
import type { HubOptions } from "./defaults.js";
import { type ClaimRequest, type Directory, type DirectoryEntry, type DirectoryEvents, LocalDirectory, newClaimId } from "./directory.js";
import { CloseCode, ErrorCode, RelayError } from "./errors.js";
import type { Fanout, FanoutEvent } from "./fanout.js";
import { HubEvents } from "./events.js";
import { messageFrame } from "./message-json.js";
import type { Logger } from "./logger.js";
import type { Message, PeerInfo, ReceiptPush, SessionMeta } from "./protocol.js";
import type { ForgetResult, PushedDelivery, Store } from "./store/store.js";

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

/** A claim contested this many times in a row (each time by a newer holder that then died) gives up. */
const CLAIM_ATTEMPTS = 3;
/** Rooms' audiences are read from the store in pages of this many (a page of 1,000 was 18 ms in the storm's profile). */
const LOAD_PAGE = 250;
/** Retention refreshes the lastSeen of this many held sessions per turn of the event loop. */
const TOUCH_SLICE = 500;
/** Retention asks the store for this many stale sessions at a time. */
const STALE_BATCH = 500;
const DAY_MS = 86_400_000;

export class Presence {
	/** room\0session → the connection holding it. */
	readonly #online = new Map<string, Connection>();
	/**
	 * room → its holders on this hub, in the order they connected; and the subset that asked for presence
	 * frames (HelloRequest.presence). Kept beside #online so that a hello, a leave and a page of peers cost
	 * the same in a room of 10,000 as in a room of 2: nothing walks every connection of the hub, and a join
	 * is written only to those who listen.
	 */
	readonly #rooms = new Map<string, Set<Connection>>();
	readonly #listeners = new Map<string, Set<Connection>>();
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

	/** Claim ID → the connection that made it: holders, and hellos between their claim and their bind. */
	readonly #byClaim = new Map<string, Connection>();

	/** Ephemeral sessions whose connection ended without bye, waiting out ephemeralGraceMs. */
	readonly #graceTimers = new Set<NodeJS.Timeout>();

	constructor(
		private readonly store: Store,
		private readonly fanout: Pick<Fanout, "publish">,
		private readonly log: Logger,
		private readonly options: Pick<HubOptions, "ephemeralGraceMs" | "livenessProbeMs"> = { ephemeralGraceMs: 0, livenessProbeMs: 2_000 },
		/** Who holds what on every hub (LocalDirectory: this hub is the only one). */
		readonly directory: Directory = new LocalDirectory(),
		/** The dashboard's live stream hears joins, leaves and live pushes here (server/events.ts). */
		private readonly events: HubEvents = new HubEvents(),
	) {}

	/** Registers this hub in the directory and learns what the others hold. */
	async open(): Promise<void> {
		await this.directory.open(this.#directoryEvents());
	}

	/**
	 * Stops the pending ends of ephemeral sessions (the hub is stopping; retention of the next one covers
	 * them) and leaves the directory, releasing whatever this hub still holds.
	 */
	async close(): Promise<void> {
		for (const t of this.#graceTimers) clearTimeout(t);
		this.#graceTimers.clear();
		await this.directory.close();
	}

	/** Sessions held live on this hub (not observers). */
	get size(): number {
		return this.#online.size;
	}

	/** Sessions held live on every hub sharing the directory (this one's included). */
	get globalSize(): number {
		return this.#online.size + this.directory.stats.remoteSessions;
	}

	/** Whether a session is online on any hub: held here by an open connection, or on another hub. */
	isOnline(room: string, session: string): boolean {
		return Boolean(this.holder(room, session)?.open) || this.directory.remote(room, session) !== undefined;
	}

	/** What a session online on another hub told its hub about itself; undefined if it is not online elsewhere. */
	remoteMeta(room: string, session: string): SessionMeta | undefined {
		return this.directory.remote(room, session)?.meta;
	}

	/**
	 * Who is online in a room, on every hub, but `except` (the asker): at most `limit` of them (in the order
	 * they connected, this hub's first), and how many there are in all. Costs O(limit), not O(room).
	 */
	peers(room: string, except?: Connection, now = Date.now(), limit = Number.POSITIVE_INFINITY): { peers: PeerInfo[]; total: number } {
		const out: PeerInfo[] = [];
		const here = this.#rooms.get(room);
		let total = 0;
		let full = false;
		for (const c of here ?? []) {
			if (c === except || !c.open) continue;
			if (out.length >= limit) {
				full = true;
				break;
			}
			out.push(c.peerInfo(now));
			total++;
		}
		// Past the page the rest is counted, not walked: every connection in the set holds its ID until leave()
		// takes it out (one on its way out may be counted a moment too long).
		if (full && here) total = here.size - (except && here.has(except) ? 1 : 0);
		// Other hubs' sessions, from the directory's mirror: listed up to the page, counted past it.
		let remote = 0;
		for (const e of this.directory.remoteIn(room)) {
			if (out.length >= limit) {
				remote = this.directory.remoteCountIn(room);
				break;
			}
			if (this.holder(room, e.session)) continue;
			out.push(remotePeerInfo(e, now));
			remote++;
		}
		total += remote;
		return { peers: out, total };
	}

	/**
	 * One page of who is online in a room, on every hub, but `except`, in session ID order after `cursor`.
	 * Sorting is O(n log n) in the room's online count: it serves an explicit `peers` request, never a hello.
	 */
	peerPage(room: string, except: Connection | undefined, limit: number, cursor?: string, now = Date.now()): { peers: PeerInfo[]; total: number; hasMore: boolean } {
		const all: PeerInfo[] = [];
		for (const c of this.#rooms.get(room) ?? []) if (c !== except && c.open) all.push(c.peerInfo(now));
		for (const e of this.directory.remoteIn(room)) if (!this.holder(room, e.session)) all.push(remotePeerInfo(e, now));
		all.sort((a, b) => (a.session < b.session ? -1 : a.session > b.session ? 1 : 0));
		let start = 0;
		if (cursor !== undefined) while (start < all.length && (all[start] as PeerInfo).session <= cursor) start++;
		const peers = all.slice(start, start + limit);
		return { peers, total: all.length, hasMore: start + limit < all.length };
	}

	/**
	 * Makes `conn` the holder of its ID on every hub, or throws E_ID_TAKEN. The caller holds the claim lock and
	 * binds the session next (or calls abandonClaim). If the ID is held (here or on another hub), the holder
	 * is probed: if it answers within livenessProbeMs the newcomer is refused; if not, it is replaced (closed
	 * 4002 by its hub) and the newcomer takes the ID. The directory's claim is atomic, so two hubs racing for
	 * a free ID cannot both win: the loser finds the winner holding it, and the winner answers the probe.
	 */
	async takeOver(conn: Connection, request: Omit<ClaimRequest, "claim">): Promise<void> {
		const claim = newClaimId();
		conn.claim = claim;
		this.#byClaim.set(claim, conn);
		const { room, session } = request;
		try {
			let over: string | undefined;
			for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
				const holder = await this.directory.claim({ ...request, claim }, over);
				if (!holder) return;
				const local = holder.hub === this.directory.hubId ? this.#byClaim.get(holder.claim) : undefined;
				const alive = local ? local.open && (await local.probe(this.options.livenessProbeMs)) : holder.hub !== this.directory.hubId && (await this.directory.probe(holder, this.options.livenessProbeMs));
				if (alive) {
					const meta = local?.session?.meta ?? holder.meta;
					const where = [meta.host, meta.pid && `pid ${meta.pid}`].filter(Boolean).join(", ");
					const elsewhere = local ? "" : " on another hub";
					// Who holds it, as it said at hello: a nested run (`claude -p` from a session's shell) sees that the
					// holder is the session that started it, and takes <ID>-bg<n> instead of waiting for this ID.
					const who = {
						...(meta.host !== undefined ? { host: meta.host } : {}),
						...(meta.pid !== undefined ? { pid: meta.pid } : {}),
						...(meta.ppid !== undefined ? { ppid: meta.ppid } : {}),
					};
					throw new RelayError(
						ErrorCode.ID_TAKEN,
						`${session} is in use by a live connection${where ? ` (${where})` : ""}${elsewhere}. Pick another ID for this session.`,
						{ holder: who },
					);
				}
				this.log.info({ session, room, hub: holder.hub }, "previous holder did not answer the liveness ping; replacing it");
				if (local) {
					local.leaving = "replaced";
					this.leave(local, "replaced");
					local.close(CloseCode.REPLACED, "replaced by a new connection for this ID");
					local.ws.terminate();
				} else if (this.directory.dropRemote(room, session, holder.claim)) {
					// Said now, before the newcomer's peer_joined, as when the holder is on this hub; the directory's
					// own event for it, later, finds nothing left to announce.
					this.#announceLeft(room, session, "replaced");
				}
				over = holder.claim;
			}
			throw new RelayError(ErrorCode.ID_TAKEN, `${session} was claimed by another client a moment ago; choose another ID.`);
		} catch (err) {
			this.#byClaim.delete(claim);
			conn.claim = null;
			throw err;
		}
	}

	/**
	 * A rename, step one: claims `to` for this connection by the same contest as a hello (a live holder, here
	 * or on another hub, refuses it; a dead one is replaced), keeping the claim on the old ID until
	 * `commitRename` (the store moved the session) or `revertRename` (it did not).
	 */
	async claimForRename(conn: Connection, to: string): Promise<{ old: string | null }> {
		const s = conn.session;
		if (!s) throw new Error("rename without a session");
		const old = conn.claim;
		try {
			await this.takeOver(conn, { room: s.room, session: to, meta: s.meta, connectedAt: s.connectedAt, lastActive: conn.lastActive });
		} catch (err) {
			conn.claim = old;
			if (old) this.#byClaim.set(old, conn);
			throw err;
		}
		return { old };
	}

	/** The store renamed the session: the old ID's claim goes, and the other hubs see it leave (renamed). */
	commitRename(conn: Connection, from: string, old: string | null): void {
		const s = conn.session;
		if (!s || !old) return;
		this.#byClaim.delete(old);
		void this.directory.release(s.room, from, old, "renamed");
	}

	/** The store did not rename: give `to` back and hold the old ID's claim again. */
	revertRename(conn: Connection, to: string, old: string | null): void {
		const s = conn.session;
		const claim = conn.claim;
		if (!s) return;
		if (claim && claim !== old) {
			this.#byClaim.delete(claim);
			void this.directory.release(s.room, to, claim, "bye");
		}
		conn.claim = old;
		if (old) this.#byClaim.set(old, conn);
	}

	/** A hello that took the ID but could not finish (its socket closed): give the ID back. */
	abandonClaim(conn: Connection, room: string, session: string): void {
		const claim = conn.claim;
		if (!claim || conn.session) return;
		conn.claim = null;
		this.#byClaim.delete(claim);
		void this.directory.release(room, session, claim, "closed");
	}

	/**
	 * Whether a live connection holds the ID on any hub: probed as hello probes one. Its meta if it answered,
	 * null if nobody holds it or the holder did not answer.
	 */
	async liveHolder(room: string, session: string): Promise<{ meta: SessionMeta; remote: boolean } | null> {
		const ms = this.options.livenessProbeMs;
		const local = this.holder(room, session);
		if (local?.open && local.session) return (await local.probe(ms)) ? { meta: local.session.meta, remote: false } : null;
		const remote = this.directory.remote(room, session);
		if (remote) return (await this.directory.probe(remote, ms)) ? { meta: remote.meta, remote: true } : null;
		return null;
	}

	/** A presence or probe event from the fan-out: the directory's. */
	receive(event: FanoutEvent): void {
		this.directory.receive(event);
	}

	#announceLeft(room: string, session: string, reason: LeaveReason): void {
		const listeners = this.#listeners.get(room);
		if (listeners && listeners.size > 0) {
			const text = JSON.stringify({ type: "peer_left", session, room, reason });
			for (const other of listeners) if (other.open) other.sendText(text);
		}
		this.events.sink?.({ kind: "left", room, session, reason });
	}

	/** What the directory tells this hub, and asks it. */
	#directoryEvents(): DirectoryEvents {
		return {
			joined: (entry) => {
				// Held here too: this hub's own holder was replaced by that one, and its leave was already said.
				if (this.holder(entry.room, entry.session)) return;
				const listeners = this.#listeners.get(entry.room);
				if (!listeners || listeners.size === 0) return;
				const text = JSON.stringify({ type: "peer_joined", peer: remotePeerInfo(entry, Date.now()) });
				for (const other of listeners) if (other.open) other.sendText(text);
			},
			left: (entry, reason) => {
				if (this.holder(entry.room, entry.session)) return;
				this.#announceLeft(entry.room, entry.session, reason);
			},
			replaced: (claim) => {
				const conn = this.#byClaim.get(claim);
				if (!conn) return;
				this.log.info({ session: conn.session?.session, room: conn.session?.room }, "another hub took over this session (its connection here did not answer a probe)");
				conn.leaving ??= "replaced";
				this.leave(conn, "replaced");
				conn.close(CloseCode.REPLACED, "replaced by a new connection for this ID");
				conn.ws.terminate();
			},
			probe: async (claim, ms) => {
				const conn = this.#byClaim.get(claim);
				return conn?.open ? conn.probe(ms) : false;
			},
			held: () => {
				const out: ClaimRequest[] = [];
				for (const conn of this.#online.values()) {
					const s = conn.session;
					if (s && conn.claim) out.push({ room: s.room, session: s.session, claim: conn.claim, meta: s.meta, connectedAt: s.connectedAt, lastActive: conn.lastActive });
				}
				return out;
			},
		};
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
				// A page of 1,000 was 10-18 ms of SQLite on the bench's VM; read in one microtask drain, a 5,000-session room
				// was a 35-55 ms block inside a reconnect storm's busiest turn. Timers go between pages.
				await new Promise<void>((resolve) => setImmediate(resolve));
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
		for (const conn of this.#rooms.get(room) ?? []) if (conn.open) out.push(conn);
		return out;
	}

	/** How many sessions a room has online on this hub (without listing them). */
	onlineCount(room: string): number {
		return this.#rooms.get(room)?.size ?? 0;
	}

	#index(conn: Connection, room: string, listens: boolean): void {
		const set = this.#rooms.get(room);
		if (set) set.add(conn);
		else this.#rooms.set(room, new Set([conn]));
		if (!listens) return;
		const l = this.#listeners.get(room);
		if (l) l.add(conn);
		else this.#listeners.set(room, new Set([conn]));
	}

	#unindex(conn: Connection, room: string): void {
		const set = this.#rooms.get(room);
		if (set?.delete(conn) && set.size === 0) this.#rooms.delete(room);
		const l = this.#listeners.get(room);
		if (l?.delete(conn) && l.size === 0) this.#listeners.delete(room);
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
		this.#index(conn, s.room, s.presence);
		const known = this.knownSessionsLoaded(s.room);
		if (!known.has(s.session)) {
			this.#know(s.room, s.session);
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
		// Serialized once, written to those who asked for presence (the bridge does not: it asks `peers` when
		// its model wants to know), so a join costs O(listeners), not O(room).
		const listeners = this.#listeners.get(s.room);
		if (listeners && listeners.size > 0) {
			const text = JSON.stringify({ type: "peer_joined", peer: conn.peerInfo() });
			for (const other of listeners) if (other !== conn && other.open) other.sendText(text);
		}
		this.events.sink?.({ kind: "joined", room: s.room, session: s.session, meta: s.meta, connectedAt: s.connectedAt });
		conn.startAfterHello();
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
		this.#unindex(conn, s.room);
		if (conn.claim) {
			this.#byClaim.delete(conn.claim);
			void this.directory.release(s.room, s.session, conn.claim, reason);
		}
		// A replaced holder's ID lives on in the connection that took it over; a hub that is stopping leaves its
		// bridges to reconnect to the next one (retention forgets those that never do).
		if (s.ephemeral && reason !== "replaced" && reason !== "shutdown") this.#endEphemeral(s.room, s.session, s.touchedAt, reason === "bye");
		else this.store.touchSession(s.room, s.session, s.meta, Date.now()).catch((err) => this.log.warn({ err }, "touch failed"));
		this.log.info({ session: s.session, room: s.room, reason }, "session offline");
		this.#announceLeft(s.room, s.session, reason);
		if (reason === "bye") conn.close(CloseCode.NORMAL, "bye");
	}

	/**
	 * A live session took another ID (the rename handler, holding both claim locks, after the store moved its
	 * record): its holder and observers now hold `to`, the room's audience swaps the IDs (here and, through
	 * fan-out, on every hub), and the room sees it leave and join with reason "renamed".
	 */
	renamed(conn: Connection, from: string, to: string): void {
		const s = conn.session;
		if (!s) return;
		const room = s.room;
		const oldKey = sessionKey(room, from);
		const newKey = sessionKey(room, to);
		if (this.#online.get(oldKey) === conn) this.#online.delete(oldKey);
		s.session = to;
		s.ephemeral = false;
		this.#online.set(newKey, conn);
		const observers = this.#observers.get(oldKey);
		if (observers) {
			this.#observers.delete(oldKey);
			const set = this.#observers.get(newKey) ?? new Set<Connection>();
			for (const o of observers) {
				if (o.session) o.session.session = to;
				set.add(o);
			}
			this.#observers.set(newKey, set);
		}
		this.knownSessionsLoaded(room).delete(from);
		this.#know(room, to);
		// Other hubs: `from` leaves the audience (nothing to close: it has moved) and `to` joins it.
		for (const event of [
			{ kind: "forget", room, session: from, close: false },
			{ kind: "session", room, session: to },
		] as const)
			this.fanout.publish(event).catch((err) => this.log.warn({ err }, "fan-out of a rename failed"));
		const left = JSON.stringify({ type: "peer_left", session: from, room, reason: "renamed", to });
		const joined = JSON.stringify({ type: "peer_joined", peer: conn.peerInfo(), reason: "renamed", from });
		for (const other of this.#listeners.get(room) ?? []) {
			if (!other.open) continue;
			if (other === conn) continue;
			other.sendText(left);
			other.sendText(joined);
		}
		this.events.sink?.({ kind: "left", room, session: from, reason: "renamed" });
		this.events.sink?.({ kind: "joined", room, session: to, meta: s.meta, connectedAt: s.connectedAt });
		this.log.info({ from, to, room }, "session renamed");
		// The new ID's inbox may hold mail that waited for it, below this connection's push cursor.
		conn.replayFromStart();
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
		// What the session held beside its record goes with it: its topic subscriptions (its ID is nobody's now,
		// so nothing may queue for it) and its file claims (nobody can release them any more).
		await Promise.all([
			this.store.topics.forgetSession(room, session),
			this.store.claims.release({ room, session, now: Date.now() }),
		]);
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
		// In slices, a turn of the event loop each: a write per session, 10,000 of them in one turn blocked the
		// hub for hundreds of milliseconds at every retention run.
		const held = [...this.#online.values()];
		for (let i = 0; i < held.length; i += TOUCH_SLICE) {
			if (i > 0) await new Promise((r) => setImmediate(r));
			await Promise.all(
				held.slice(i, i + TOUCH_SLICE).map((conn) => {
					const s = conn.session;
					if (!s || conn.leaving !== null) return undefined;
					s.touchedAt = now;
					return this.store.touchSession(s.room, s.session, s.meta, now);
				}),
			);
		}
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
		// A room not loaded yet reads the session from the store when it is.
		this.#know(room, session);
	}

	/**
	 * Into the room's audience, and into the read of it under way (#knownLoading: the read may predate the
	 * session, and its result replaces the set), when there is one.
	 */
	#know(room: string, session: string): void {
		this.#known.get(room)?.add(session);
		this.#knownLoading.get(room)?.add(session);
	}

	/**
	 * Fan-out may have dropped events: each loaded room's audience is read again from the store, or a session
	 * that joined (or was forgotten) on another hub meanwhile would stay out of (or in) this hub's broadcasts
	 * for good. The set in use serves until the read is done; a read that fails leaves it.
	 */
	reloadKnown(): void {
		for (const room of this.#known.keys()) {
			if (this.#loads.has(room)) continue;
			const load = this.#load(room);
			this.#loads.set(room, load);
			load.then(
				() => this.#loads.delete(room),
				(err) => {
					this.#loads.delete(room);
					this.log.warn({ err, room }, "could not read a room's sessions again after the fan-out resumed");
				},
			);
		}
	}

	/**
	 * Fan-out may have dropped a forget event: a holder here whose record the store no longer has was forgotten
	 * on another hub meanwhile (a forget closes whatever holds the ID), so it is closed now (4009) as the event
	 * would have. A holder's record is written before it registers, so only a forget removes it. Reads in
	 * slices of TOUCH_SLICE; a read that fails leaves its holder. Returns how many were closed.
	 */
	async closeForgotten(): Promise<number> {
		const held = [...this.#online.values()];
		let closed = 0;
		for (let i = 0; i < held.length; i += TOUCH_SLICE) {
			// The ID each was read for: one renamed meanwhile is another ID's holder now, not a forgotten one.
			const ids = held.slice(i, i + TOUCH_SLICE).flatMap((conn) => (conn.session ? [{ conn, room: conn.session.room, session: conn.session.session }] : []));
			const gone = await Promise.all(
				ids.map(({ room, session }) =>
					this.store.getSession(room, session).then(
						(record) => record === null,
						() => false,
					),
				),
			);
			ids.forEach(({ conn, room, session }, j) => {
				if (!gone[j] || this.#online.get(sessionKey(room, session)) !== conn || conn.session?.session !== session) return;
				this.log.info({ session, room }, "closing a holder forgotten on another hub while the fan-out was away");
				this.sessionForgotten(room, session, true);
				closed++;
			});
		}
		return closed;
	}

	/**
	 * Fan-out may have dropped events (its connection came back): every holder here reads what waits for it
	 * after what it was pushed, from the store. Observers (hooks) get live pushes only, and are left alone.
	 */
	catchUpAll(): void {
		for (const conn of this.#online.values()) if (conn.open) conn.startCatchUp();
	}

	/**
	 * A committed message: push it to the recipients' connections on this hub, holders and observers. The
	 * holders it was written to live are marked pushed (their receipts), in one call, after the writes.
	 */
	deliver(message: Message, recipients: readonly string[]): void {
		// One serialization per message, however many recipients (a broadcast to 50 stringified it 50 times).
		let text: string | undefined;
		const frame = () => (text ??= messageFrame(message));
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
					this.events.sink?.({ kind: "pushed", room: r, pushes, at });
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

/** A session held on another hub, as `peers` shows it (its idle time as of its hub's last report). */
function remotePeerInfo(e: DirectoryEntry, now: number): PeerInfo {
	return { session: e.session, room: e.room, meta: e.meta, connectedAt: e.connectedAt, idleMs: Math.max(0, now - e.lastActive) };
}
