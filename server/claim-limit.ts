/**
 * How many new session IDs (first claims) each peer address may mint: one token bucket per address holding
 * a minute's worth (`newSessionsPerMinute`), refilled continuously. Only first claims take a token: an ID
 * that exists reconnects freely. The buckets are bounded: past MAX_ADDRESSES the oldest is dropped, which
 * only ever gives that address a full bucket again.
 */
import { TokenBucket } from "./rate-limit.js";

const MAX_ADDRESSES = 10_000;

export class ClaimLimiter {
	readonly #buckets = new Map<string, TokenBucket>();

	constructor(
		private readonly perMinute: number,
		private readonly now: () => number = Date.now,
	) {}

	/** Takes one claim for `address`; false when it has minted its minute's worth (or more). */
	take(address: string): boolean {
		if (this.perMinute <= 0) return true;
		let bucket = this.#buckets.get(address);
		if (!bucket) {
			if (this.#buckets.size >= MAX_ADDRESSES) {
				const oldest = this.#buckets.keys().next().value;
				if (oldest !== undefined) this.#buckets.delete(oldest);
			}
			bucket = new TokenBucket(this.perMinute / 60, this.perMinute, this.now);
			this.#buckets.set(address, bucket);
		}
		return bucket.take();
	}

	/** Seconds until one more claim is allowed for an address that has none left (for the error message). */
	get refillSeconds(): number {
		return Math.max(1, Math.ceil(60 / Math.max(1, this.perMinute)));
	}
}
