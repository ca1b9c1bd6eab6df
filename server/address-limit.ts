/**
 * Budgets per peer address, each a token bucket refilled continuously: how many new session IDs an address
 * may mint (hello's first claims: `newSessionsPerMinute`) and how many broadcast deliveries it may make
 * (`broadcastDeliveriesPerSecond`: a broadcast costs one per recipient). Every local process, and
 * everything through an SSH tunnel, is one address (127.0.0.1), so on loopback each budget is the hub's.
 * The buckets are bounded: past MAX_ADDRESSES the oldest is dropped, which only ever gives that address a
 * full bucket again.
 */
import { TokenBucket } from "./rate-limit.js";

const MAX_ADDRESSES = 10_000;

export class AddressLimiter {
	readonly #buckets = new Map<string, TokenBucket>();

	/** `perSecond` 0 or less: no limit. */
	constructor(
		private readonly perSecond: number,
		private readonly burst: number,
		private readonly now: () => number = Date.now,
	) {}

	/**
	 * Takes `n` tokens for `address`; false (and takes none) when it has fewer. A cost above the burst is
	 * charged as the whole burst, so that it can go once the bucket is full instead of never.
	 */
	take(address: string, n = 1): boolean {
		if (this.perSecond <= 0) return true;
		return this.#bucket(address).take(Math.min(n, this.burst));
	}

	/** Milliseconds until `take(address, n)` would succeed (0: now). */
	waitMs(address: string, n = 1): number {
		if (this.perSecond <= 0) return 0;
		return this.#bucket(address).waitMs(Math.min(n, this.burst));
	}

	#bucket(address: string): TokenBucket {
		let bucket = this.#buckets.get(address);
		if (!bucket) {
			if (this.#buckets.size >= MAX_ADDRESSES) {
				const oldest = this.#buckets.keys().next().value;
				if (oldest !== undefined) this.#buckets.delete(oldest);
			}
			bucket = new TokenBucket(this.perSecond, this.burst, this.now);
			this.#buckets.set(address, bucket);
		}
		return bucket;
	}

	/** Seconds until `n` more tokens are allowed for an address that has none left (for error messages). */
	refillSeconds(n = 1): number {
		return this.perSecond <= 0 ? 0 : Math.max(1, Math.ceil(n / this.perSecond));
	}
}
