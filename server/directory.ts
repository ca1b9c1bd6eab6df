/**
 * The directory: which hub holds which session ID. Presence (server/presence.ts) owns the connections of its
 * own hub; the directory is what it asks about everyone else, and where a claim of an ID becomes exclusive.
 * With one hub that is `LocalDirectory` (a map); with several hubs on one Redis it is `RedisDirectory`
 * (server/directory-redis.ts): the claims live in Redis, every hub keeps a mirror of the other hubs' claims
 * (fed by fan-out events), a hub that stops beating is taken for dead and its claims are swept.
 *
 * Presence has one code path whichever directory it has:
 *   hello      claim(request)         → null: the ID is ours, on every hub
 *                                     → the holder's entry: presence probes it (its own connection, or
 *                                       `probe(holder)` across hubs), refuses the newcomer if it answers,
 *                                       else claims again with `over: holder.claim`, which replaces it
 *   goes away  release(claim, reason) → the other hubs see it leave
 *   reads      remote(room, session), remoteIn(room), remoteCount: the mirror, synchronous (send's
 *              live/queued split, peers, sessions, /healthz)
 * and answers the directory's callbacks (DirectoryEvents): who joined or left elsewhere, which of its
 * holders another hub took over, whether a holder of its own answers a probe, and what it holds.
 *
 * Whatever changes the ID a connection holds (a rename, say) is a release of the old claim and a claim of
 * the new one. A claim is one connection's hold on one ID: a claim ID unique across hubs, so that a late
 * release or a late "replaced" never touches a newer hold of the same ID.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { randomBytesPooled } from "./random.js";
import type { LeaveReason } from "./connection.js";
import type { FanoutEvent } from "./fanout.js";
import type { SessionMeta } from "./protocol.js";

/** One live hold of a session ID, on some hub. */
export interface DirectoryEntry {
	room: string;
	session: string;
	/** The hub holding it (that hub's Directory.hubId). */
	hub: string;
	/** This hold: unique across hubs and time. A newer hold of the same ID has another. */
	claim: string;
	meta: SessionMeta;
	connectedAt: number;
	/** When the holder last sent a frame, as its hub last reported it (epoch ms, that hub's clock). */
	lastActive: number;
}

/** What a hub claims: an entry without the hub, which the directory fills in. */
export type ClaimRequest = Omit<DirectoryEntry, "hub">;

/** How a directory reaches presence. Every callback is about other hubs, except `replaced`, `probe`, `held`. */
export interface DirectoryEvents {
	/** A session came online on another hub. */
	joined(entry: DirectoryEntry): void;
	/** A session held on another hub went offline: it left, it was replaced, or its hub was taken for dead ("timeout"). */
	left(entry: DirectoryEntry, reason: LeaveReason): void;
	/** Another hub took over one of this hub's claims (its holder did not answer a probe): close it (4002). */
	replaced(claim: string): void;
	/** Another hub asks whether the holder of one of this hub's claims is alive: ping it within `ms`. */
	probe(claim: string, ms: number): Promise<boolean>;
	/** The claims this hub holds now, to claim again after its registration was lost, and to report activity. */
	held(): ClaimRequest[];
}

export interface DirectoryStats {
	/** Hubs sharing the directory that are alive (1 for a local one). */
	hubs: number;
	/** Sessions held on the other hubs. */
	remoteSessions: number;
}

export interface Directory {
	readonly kind: "local" | "redis";
	/** This hub's ID: unique per hub process. */
	readonly hubId: string;
	/** Registers this hub and loads what the others hold; events flow from then on. */
	open(events: DirectoryEvents): Promise<void>;
	/** Releases what this hub still holds and unregisters it (a graceful stop). */
	close(): Promise<void>;
	/**
	 * Makes this hub the holder of request's ID, atomically across hubs: if nobody holds it, or its holder's
	 * claim is `over` (presence found that holder dead), the ID is ours (null). Otherwise returns the holder,
	 * which presence then probes. Rejects with a StorageError when the directory cannot be reached.
	 */
	claim(request: ClaimRequest, over?: string): Promise<DirectoryEntry | null>;
	/** Gives up a claim (only if it is still the current one). Never rejects: a failure is retried by the directory. */
	release(room: string, session: string, claim: string, reason: LeaveReason): Promise<void>;
	/** Asks the holder's hub whether it answers (another hub's holder; false when its hub does not reply in time). */
	probe(holder: DirectoryEntry, ms: number): Promise<boolean>;
	/** The holder of an ID on another hub, from the mirror. */
	remote(room: string, session: string): DirectoryEntry | undefined;
	/** The sessions of a room held on other hubs, from the mirror (a live view: not copied, read it at once). */
	remoteIn(room: string): Iterable<DirectoryEntry>;
	/** How many sessions of a room other hubs hold, from the mirror, without listing them. */
	remoteCountIn(room: string): number;
	/** Takes a remote holder out of the mirror now (presence replaced it); true if it was there. */
	dropRemote(room: string, session: string, claim: string): boolean;
	readonly stats: DirectoryStats;
	/** A fan-out event that concerns the directory (presence and probe kinds); others are ignored. */
	receive(event: FanoutEvent): void;
}

/** A hub ID: host, pid and a random tail, in characters that are safe in keys and logs. */
export function newHubId(): string {
	const host = hostname().replace(/[^A-Za-z0-9-]/g, "-").slice(0, 32) || "hub";
	return `${host}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

/** A claim ID: unique across hubs (random, 96 bits). */
export function newClaimId(): string {
	return randomBytesPooled(12).toString("base64url");
}

const key = (room: string, session: string) => `${room}\u0000${session}`;

/**
 * One hub on its own: the claims are a map, nobody else holds anything, and there is nothing to sweep. Its
 * claim answers as the Redis one does (the current holder, or null), so presence contests a local holder
 * through the same path.
 */
export class LocalDirectory implements Directory {
	readonly kind = "local";
	readonly hubId = newHubId();
	readonly #claims = new Map<string, DirectoryEntry>();

	async open(): Promise<void> {}

	async close(): Promise<void> {
		this.#claims.clear();
	}

	async claim(request: ClaimRequest, over?: string): Promise<DirectoryEntry | null> {
		const k = key(request.room, request.session);
		const current = this.#claims.get(k);
		if (current && current.claim !== request.claim && current.claim !== over) return current;
		this.#claims.set(k, { ...request, hub: this.hubId });
		return null;
	}

	async release(room: string, session: string, claim: string): Promise<void> {
		const k = key(room, session);
		if (this.#claims.get(k)?.claim === claim) this.#claims.delete(k);
	}

	async probe(): Promise<boolean> {
		return false; // every holder is this hub's own; presence probes those itself
	}

	remote(): DirectoryEntry | undefined {
		return undefined;
	}

	remoteIn(): DirectoryEntry[] {
		return [];
	}

	remoteCountIn(): number {
		return 0;
	}

	dropRemote(): boolean {
		return false;
	}

	get stats(): DirectoryStats {
		return { hubs: 1, remoteSessions: 0 };
	}

	receive(): void {}
}
