/**
 * Per-connection token bucket. Cheap enough to run on every frame: no timers, refill computed on demand.
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

	/** Takes one token; false when the bucket is empty (the frame should be refused). */
	take(): boolean {
		const t = this.now();
		this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#last) / 1000) * this.perSecond);
		this.#last = t;
		if (this.#tokens < 1) return false;
		this.#tokens -= 1;
		return true;
	}
}
