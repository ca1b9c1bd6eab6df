/**
 * How much inbound work one turn of the event loop may do before the rest waits for the next turn.
 *
 * Why: in a reconnect storm libuv hands the hub up to 1,024 readable sockets per poll, and each hello
 * (claim, session row, the backlog's first page, its pushes) costs a few hundred microseconds. Handled as
 * they came, one poll phase ran for 100–470 ms (measured: server CPU profile of `npm run bench -- storm`),
 * and every timer (heartbeats, the liveness probe, /metrics) waited that long.
 *
 * A turn is the span from the first frame handled after a timers phase until the next timers phase. Once the
 * turn has used `budgetMs`, a frame that arrives waits: its connection's socket
 * is paused (its later frames stay in the kernel) and the connection joins a FIFO. Each waiter gets its own
 * `setImmediate`, so Node drains the microtasks of one waiter's handlers before it looks at the next one's,
 * and the time checked there includes them. In the next turns waiters go first, in arrival order; new
 * frames queue behind them. Nothing is dropped or reordered: a connection's frames still go in the order
 * they came (server/inbound.ts holds them).
 *
 * What a turn can still overrun by: up to one more budget (see #turnTimer), one waiter's handler work after
 * its last check, and the work that is not a frame and not an upgrade handshake (accepting sockets,
 * parsing the upgrade requests, closes), which this does not pace. The handshakes wait here too (hub.ts):
 * the 101, the WebSocket and its Connection. The parsing is bounded apart: at most 64 requests a poll
 * (server/accept-window.ts).
 */
export class TurnBudget {
	/** performance.now() when this turn's first frame was handled; 0: no turn open. */
	#start = 0;
	/** Waiters not yet granted (each has one pending setImmediate; they run oldest first). */
	#waiting = 0;
	/** A grant is running: its frames are checked against time only, not sent behind the queue. */
	#granting = false;
	/**
	 * Fires in the next timers phase and closes the turn. Armed only once a span of `budgetMs` is seen, not at
	 * each turn: a timer per turn cost 8% of the router's time when every frame is a turn of its own (one
	 * send at a time). Until it is armed, `#start` may be from an earlier turn, so the frame that finds the span
	 * spent starts a turn and arms it. (Making that frame wait instead put a 1 ms wait, the timer's least, on
	 * one send in a hundred: the p99 went from 0.7-0.8 to 1.1 ms.)
	 */
	#turnTimer: NodeJS.Timeout | undefined;
	#armed = false;
	/** Turns that ran out of budget, and waits queued (for /metrics and tests). */
	exhaustedTurns = 0;
	deferred = 0;
	#exhaustedAt = -1;

	constructor(private readonly budgetMs: number) {}

	/** Waiters in the queue now. */
	get waiting(): number {
		return this.#waiting;
	}

	/**
	 * True when a frame arriving now must wait (call `wait`); false when it may be handled now, which also
	 * opens a turn if none is open.
	 */
	mustWait(): boolean {
		if (this.budgetMs <= 0) return false;
		// FIFO: behind those already waiting, unless this is a waiter's own grant.
		if (this.#waiting > 0 && !this.#granting) return true;
		return !this.#hasBudget();
	}

	/**
	 * Queues `grant` for a later turn: it runs once this waiter's turn comes and the turn has budget left;
	 * frames it hands on are checked with `mustWait` as usual (and may wait again, then at the back).
	 * `cancelled` is asked first: a connection that closed meanwhile gives up its place.
	 */
	wait(grant: () => void, cancelled: () => boolean): void {
		this.#waiting++;
		this.deferred++;
		const attempt = () => {
			if (cancelled()) {
				this.#waiting--;
				return;
			}
			if (!this.#hasBudget()) {
				// Immediates added while immediates run go to the next turn, in the order they were added.
				setImmediate(attempt);
				return;
			}
			this.#waiting--;
			this.#granting = true;
			try {
				grant();
			} finally {
				this.#granting = false;
			}
		};
		setImmediate(attempt);
	}

	/**
	 * For work that resumes after a wait many share: undefined when it may go on now (the turn has budget and
	 * nobody waits), else a promise granted at its place in the FIFO. In a reconnect storm thousands of hellos
	 * await one room's audience load (or one turn's batched session touches): resumed together, their
	 * continuations ran in one microtask drain, outside any frame's check (a 0.5–1 s block, profiled). Always
	 * granted, even if the connection closed: the caller may hold a lock it must get to release.
	 */
	pace(): Promise<void> | undefined {
		if (!this.mustWait()) return undefined;
		return new Promise<void>((resolve) => this.wait(resolve, () => false));
	}

	/** Whether this turn has budget left (opening one if none is open): for arriving frames and waiters alike. */
	#hasBudget(): boolean {
		const now = performance.now();
		if (this.#start === 0) {
			this.#start = now;
			return true;
		}
		if (now - this.#start < this.budgetMs) return true;
		if (!this.#armed) {
			// Nothing marked the turns since #start, so it may be from an earlier one: a turn begins now, and the
			// timer marks its end. (So a turn can run for up to twice the budget.)
			this.#armed = true;
			if (this.#turnTimer) this.#turnTimer.refresh();
			else
				this.#turnTimer = setTimeout(() => {
					this.#armed = false;
					this.#start = 0;
				}, 0).unref();
			this.#start = now;
			return true;
		}
		if (this.#exhaustedAt !== this.#start) {
			this.#exhaustedAt = this.#start;
			this.exhaustedTurns++;
		}
		return false;
	}

	/** Stops the turn timer (the hub is closing). Waiters still get their grants. */
	close(): void {
		clearTimeout(this.#turnTimer);
		this.#armed = false;
		this.#start = 0;
	}
}
