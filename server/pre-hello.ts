/**
 * The pre-hello pool: connections that have neither presented the hub token at the upgrade nor completed
 * a hello. Anyone who can reach the port can open these, so they are bounded on their own (per peer
 * address and in total), apart from the connection cap, and never keep out a client that authenticated
 * at the upgrade: those are not in the pool, and at the connection cap a pool member makes room for them.
 *
 * When the pool (or a peer's share of it) is over its bound, the OLDEST idle members are evicted (closed
 * 1013, try again later); the newcomer is never refused for it. Refusing would hand the pool to whoever
 * fills it first: a flood that reconnects as fast as it is closed keeps every slot, and a well-behaved
 * client gets 503 until the flood stops. Evicting the oldest lets every newcomer in, and one that says
 * hello at once (ours do, in their first round trip) is bound before a flood can cycle through the pool;
 * the flood only churns its own sockets. That must hold on a loopback hub without a token too, where every
 * peer is 127.0.0.1 and no per-address bound can tell anyone apart, and under a flood fast enough to
 * replace the whole pool within one round trip. So evictions run at the end of an event-loop turn, not as
 * each newcomer arrives, and spare whoever arrived since the previous sweep: a newcomer has at least one
 * full turn (every frame that reaches the hub meanwhile is read, its hello included) before it can be
 * evicted, and the pool exceeds its bound by at most one turn's newcomers, within the connection cap.
 * A member with a frame being handled (a hello waiting for a liveness probe) is not evicted either.
 */
import { isIPv4, isIPv6 } from "node:net";

export interface PoolMember {
	/** True while a frame of this member is being handled (its hello may be about to bind it). */
	readonly busy: boolean;
}

/**
 * The key every loopback peer is counted under. Loopback peers (local processes and every SSH tunnel)
 * all share one address, so a per-address bound would only shrink the pool they share: they are counted
 * in the total only.
 */
export const LOOPBACK_KEY = "loopback";

/**
 * The key a peer is counted under: its IPv4 address (also when IPv4-mapped), the /64 of an IPv6 one
 * (one host usually holds a whole /64 and could otherwise take the pool with addresses from it), or
 * LOOPBACK_KEY.
 */
export function addressKey(remote: string | undefined): string {
	if (!remote) return "?";
	const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(remote);
	const address = mapped ? (mapped[1] as string) : remote;
	if (isIPv4(address)) return address.startsWith("127.") ? LOOPBACK_KEY : address;
	if (!isIPv6(address)) return address;
	const groups = expandIPv6(address.split("%")[0] as string);
	if (groups.join(":") === "0:0:0:0:0:0:0:1") return LOOPBACK_KEY;
	return `${groups.slice(0, 4).join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, as lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
	let text = address.toLowerCase();
	// An embedded IPv4 tail (64:ff9b::1.2.3.4 and the like; ::ffff:a.b.c.d was handled as IPv4).
	const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
	if (v4) {
		const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
		text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
	}
	const [head = "", tail] = text.split("::");
	const left = head ? head.split(":") : [];
	const right = tail ? tail.split(":") : [];
	const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill("0");
	return [...left, ...zeros, ...right].map((g) => Number.parseInt(g, 16).toString(16));
}

export interface PreHelloPoolOptions<T> {
	maxTotal: number;
	/** Not applied to LOOPBACK_KEY. */
	maxPerAddress: number;
	/** Called for each member a sweep evicts (it is already out of the pool). */
	onEvict: (member: T) => void;
	/** Runs the sweep at the end of this event-loop turn (setImmediate); tests pass their own. */
	schedule?: (fn: () => void) => void;
}

interface Entry {
	address: string;
	/** The sweep generation it arrived in: the next sweep spares it, the one after may evict it. */
	generation: number;
}

export class PreHelloPool<T extends PoolMember> {
	readonly maxTotal: number;
	readonly maxPerAddress: number;
	/** Every member, oldest first (a Map keeps insertion order). */
	readonly #all = new Map<T, Entry>();
	readonly #byAddress = new Map<string, Set<T>>();
	readonly #onEvict: (member: T) => void;
	readonly #schedule: (fn: () => void) => void;
	#generation = 0;
	#sweepPending = false;

	constructor(opts: PreHelloPoolOptions<T>) {
		this.maxTotal = opts.maxTotal;
		this.maxPerAddress = opts.maxPerAddress;
		this.#onEvict = opts.onEvict;
		this.#schedule = opts.schedule ?? ((fn) => setImmediate(fn));
	}

	get size(): number {
		return this.#all.size;
	}

	has(member: T): boolean {
		return this.#all.has(member);
	}

	/** How many members came from `address` (a key from addressKey). */
	countFrom(address: string): number {
		return this.#byAddress.get(address)?.size ?? 0;
	}

	/** Adds a newcomer; if that puts its address or the pool over the bound, a sweep is scheduled. */
	add(member: T, address: string): void {
		this.#all.set(member, { address, generation: this.#generation });
		let set = this.#byAddress.get(address);
		if (!set) {
			set = new Set();
			this.#byAddress.set(address, set);
		}
		set.add(member);
		if (this.#all.size > this.maxTotal || (address !== LOOPBACK_KEY && set.size > this.maxPerAddress)) this.#scheduleSweep();
	}

	/** A member leaves: it said hello, or closed. Safe to call for non-members. */
	remove(member: T): void {
		const entry = this.#all.get(member);
		if (!entry) return;
		this.#all.delete(member);
		const set = this.#byAddress.get(entry.address);
		set?.delete(member);
		if (set?.size === 0) this.#byAddress.delete(entry.address);
	}

	/**
	 * Removes and returns the oldest idle member, newcomers included, if any: the connection cap is a hard
	 * bound, so this does not wait for a sweep.
	 */
	evictOldest(): T | undefined {
		for (const m of this.#all.keys()) {
			if (!m.busy) {
				this.remove(m);
				return m;
			}
		}
		return undefined;
	}

	#scheduleSweep(): void {
		if (this.#sweepPending) return;
		this.#sweepPending = true;
		this.#schedule(() => this.sweep());
	}

	/**
	 * Evicts the oldest idle members that arrived before the previous sweep until every address and the
	 * total are within bounds (or nobody is left to evict; then the next turn tries again).
	 */
	sweep(): void {
		this.#sweepPending = false;
		const cutoff = this.#generation++;
		const evictable = (m: T) => !m.busy && (this.#all.get(m)?.generation ?? cutoff) < cutoff;
		const victims: T[] = [];
		for (const [address, set] of this.#byAddress) {
			if (address === LOOPBACK_KEY) continue;
			for (const m of set) {
				if (set.size <= this.maxPerAddress) break;
				if (!evictable(m)) continue;
				this.remove(m);
				victims.push(m);
			}
		}
		for (const m of this.#all.keys()) {
			if (this.#all.size <= this.maxTotal) break;
			if (!evictable(m)) continue;
			this.remove(m);
			victims.push(m);
		}
		for (const v of victims) this.#onEvict(v);
		const overAddress = [...this.#byAddress].some(([a, s]) => a !== LOOPBACK_KEY && s.size > this.maxPerAddress);
		if (this.#all.size > this.maxTotal || overAddress) this.#scheduleSweep();
	}
}
