/**
 * Token bucket (per connection for frames; per address in address-limit.ts). Cheap enough to run on every frame: no timers, refill computed on demand.
 */
export class TokenBucket {
	#tokens: number;
	#last: number;
	constructor(
		private readonly perSecond: number,
		private readonly burst: number,
		private readonly now: () => number = Date.now,
	) {
		this.#tokens = burst;
		this.#last = now();
	}

	/** Milliseconds until `n` tokens will be there (0: now). */
	waitMs(n = 1): number {
		const t = this.now();
		const tokens = Math.min(this.burst, this.#tokens + ((t - this.#last) / 1000) * this.perSecond);
		return tokens >= n ? 0 : ((n - tokens) / this.perSecond) * 1000;
	}

	/** Takes `n` tokens (one frame, by default); false, taking none, when fewer are left (refuse it). */
	take(n = 1): boolean {
		const t = this.now();
		this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#last) / 1000) * this.perSecond);
		this.#last = t;
		if (this.#tokens < n) return false;
		this.#tokens -= n;
		return true;
	}
}
