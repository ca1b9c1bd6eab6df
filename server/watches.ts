/**
 * Which connections watch which state prefixes, and the `state_changed` pushes they get. A watch belongs to
 * the connection that asked (not to the session): it ends when the connection closes, and a client that
 * reconnects, possibly to another hub sharing Redis, says `watch` again (the bridge does, after every hello).
 * A change made while a client was away is not replayed: the push is a hint to read the key, and `version`
 * tells a reader what it missed. At most `max` prefixes per connection (E_LIMIT past it).
 */
import type { Connection } from "./connection.js";
import { ErrorCode, RelayError } from "./errors.js";
import type { StateEvent } from "./fanout.js";

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
