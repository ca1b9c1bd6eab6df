/**
 * Which connections watch which state prefixes, and the `state_changed` pushes they get. A watch belongs to
 * the connection that asked (not to the session): it ends when the connection closes, and a client that
 * reconnects, possibly to another hub sharing Redis, says `watch` again (the bridge does, after every hello).
 * A change made while a client was away is not replayed: the push is a hint to read the key, and `version`
 * tells a reader what it missed. At most `max` prefixes per connection (E_LIMIT past it).
 *
 * A change made while this hub's fan-out was away (its Redis subscriber reconnecting) is hinted again when it
 * resumes: `resync` reads the watched prefixes and pushes every key changed since the last event before the
 * drop. A key deleted in that window leaves nothing to read, so the `resync` push (server/hub.ts) tells
 * clients that hints may be missing.
 */
import type { Connection } from "./connection.js";
import { ErrorCode, RelayError } from "./errors.js";
import type { StateEvent } from "./fanout.js";
import type { StateStore } from "./store/store.js";

/** Keys per list call while re-hinting. */
const RESYNC_PAGE = 500;
/**
 * How far before the drop the re-hint reaches: `updatedAt` is the writing hub's clock, the drop time this
 * one's, so hubs whose clocks are this close miss nothing. A change hinted twice costs a reader one read.
 */
export const RESYNC_CLOCK_MARGIN_MS = 5_000;

export class Watches {
	/** room → connection → its prefixes. */
	readonly #rooms = new Map<string, Map<Connection, Set<string>>>();
	/** How many pushes were dropped because the connection's send buffer was over its high-water mark. */
	dropped = 0;

	constructor(private readonly max: number) {}

	/** Adds a prefix ("" watches every key of the room); returns the connection's prefixes. */
	add(conn: Connection, room: string, prefix: string): string[] {
		const conns = this.#rooms.get(room) ?? new Map<Connection, Set<string>>();
		const prefixes = conns.get(conn) ?? new Set<string>();
		if (!prefixes.has(prefix) && prefixes.size >= this.max) {
			throw new RelayError(
				ErrorCode.LIMIT,
				`This connection watches ${prefixes.size} prefixes, the most this hub allows (${this.max}); unwatch one, or watch a shorter prefix that covers several.`,
			);
		}
		prefixes.add(prefix);
		conns.set(conn, prefixes);
		this.#rooms.set(room, conns);
		return [...prefixes].sort();
	}

	/** Removes one prefix, or all of them; returns the connection's remaining prefixes. */
	remove(conn: Connection, room: string, prefix?: string): string[] {
		const conns = this.#rooms.get(room);
		const prefixes = conns?.get(conn);
		if (!conns || !prefixes) return [];
		if (prefix === undefined) prefixes.clear();
		else prefixes.delete(prefix);
		if (prefixes.size === 0) {
			conns.delete(conn);
			if (conns.size === 0) this.#rooms.delete(room);
		}
		return [...prefixes].sort();
	}

	/** The connection closed. */
	drop(conn: Connection): void {
		const room = conn.session?.room;
		if (room !== undefined) this.remove(conn, room);
	}

	/**
	 * The fan-out was away since `since` (epoch ms): hints every watched key changed from then on (less the
	 * clock margin) to the connections watching it, as its `state_changed` would have. Reads each room's
	 * watched prefixes once (a prefix inside another watched one is covered by it); a room holds at most
	 * the hub's `--state-max-keys`. Returns how many keys were hinted.
	 */
	async resync(state: StateStore, since: number): Promise<number> {
		const cutoff = since - RESYNC_CLOCK_MARGIN_MS;
		let hinted = 0;
		for (const [room, conns] of [...this.#rooms]) {
			const all = new Set<string>();
			for (const prefixes of conns.values()) for (const p of prefixes) all.add(p);
			// Sorted, a prefix comes right after the nearest watched prefix of it (or after others it also extends).
			const roots: string[] = [];
			for (const p of [...all].sort()) if (roots.length === 0 || !p.startsWith(roots.at(-1) as string)) roots.push(p);
			for (const prefix of roots) {
				for (let after: string | undefined; ; ) {
					const page = await state.list(room, { prefix, limit: RESYNC_PAGE, ...(after !== undefined ? { after } : {}) });
					for (const r of page.records) {
						if (r.updatedAt < cutoff) continue;
						hinted++;
						this.notify({ kind: "state", room, key: r.key, version: r.version, updatedBy: r.updatedBy, updatedAt: r.updatedAt, deleted: false });
					}
					if (!page.hasMore || page.records.length === 0) break;
					after = page.records.at(-1)?.key;
				}
			}
		}
		return hinted;
	}

	/** Pushes a committed change to every connection on this hub watching a prefix of its key. */
	notify(event: StateEvent): void {
		const conns = this.#rooms.get(event.room);
		if (!conns) return;
		let text: string | undefined;
		for (const [conn, prefixes] of conns) {
			let match = false;
			for (const p of prefixes) if (event.key.startsWith(p)) match = true;
			if (!match) continue;
			text ??= JSON.stringify({
				type: "state_changed",
				room: event.room,
				key: event.key,
				version: event.version,
				updatedBy: event.updatedBy,
				updatedAt: event.updatedAt,
				deleted: event.deleted,
			});
			if (!conn.sendHint(text)) this.dropped++;
		}
	}
}
