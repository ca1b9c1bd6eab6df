/**
 * The inbound side of one connection: frames are handled in the order they arrived, and a connection that
 * sends faster than its budgets allow (the frame rate, the broadcast budget) or that stops reading its
 * answers is slowed down, never refused. While it is throttled its socket is paused, so TCP pushes back on
 * the sender, and the few frames `ws` had already read are held here, in order, until they may go.
 *
 * Why not refuse with E_RATE_LIMITED, as the hub used to: the client retries a refused send a moment
 * later, and by then a later send of the same connection may have been committed, so per-sender order
 * broke exactly when a sender was busiest. Holding keeps order, loses nothing and needs no retry.
 *
 * Bound: what is held is at most what `ws` had read from the socket when it was paused (one read, 64 KiB,
 * or one frame up to maxFrameBytes), since nothing more is read until the gate opens.
 */
import type { RawData, WebSocket } from "ws";
import type { TurnBudget } from "./turn-budget.js";

export type Dispatch = (data: RawData, isBinary: boolean) => void;

export class InboundGate {
	readonly #held: Array<{ data: RawData; isBinary: boolean }> = [];
	#timer: NodeJS.Timeout | undefined;
	/** A request whose answer may be large is being handled: nothing after it is read until it is answered. */
	#busy = false;
	/** Waiting for a later turn of the event loop (server/turn-budget.ts). */
	#waiting = false;
	#closed = false;
	/** How many times the gate closed (for logs and tests). */
	throttles = 0;

	constructor(
		private readonly ws: Pick<WebSocket, "pause" | "resume">,
		private readonly dispatch: Dispatch,
	) {}

	/** True while frames are held rather than handled. */
	get throttled(): boolean {
		return this.#timer !== undefined || this.#busy || this.#waiting;
	}

	/** Waiting for a turn of the event loop (not for the frame rate or the send buffer: those the peer controls). */
	get waitingTurn(): boolean {
		return this.#waiting;
	}

	/** Frames waiting for the gate to open. */
	get held(): number {
		return this.#held.length;
	}

	/**
	 * Keeps a frame for later: at the back (it arrived while throttled), or at the front (it is the one that
	 * found the budget empty, and goes first when the gate opens).
	 */
	hold(data: RawData, isBinary: boolean, front = false): void {
		if (this.#closed) return;
		if (front) this.#held.unshift({ data, isBinary });
		else this.#held.push({ data, isBinary });
	}

	/** Stops reading for `ms` (at least 1), then hands what is held to `dispatch`, oldest first. */
	throttle(ms: number): void {
		if (this.#closed || this.#timer) return;
		this.throttles++;
		this.ws.pause();
		this.#timer = setTimeout(() => this.#open(), Math.max(1, Math.ceil(ms)));
	}

	/**
	 * Stops reading until `turns` grants this connection a later turn of the event loop, then hands what is
	 * held to `dispatch`, oldest first (server/turn-budget.ts: the turn's budget for inbound work is spent).
	 */
	waitTurn(turns: TurnBudget): void {
		if (this.#closed || this.#waiting) return;
		this.#waiting = true;
		this.ws.pause();
		turns.wait(
			() => {
				this.#waiting = false;
				if (!this.#timer) this.#open();
			},
			() => this.#closed,
		);
	}

	/**
	 * Holds everything after this frame until `answered` settles: for requests whose answer can be large
	 * (an inbox or history page), so that a client pipelining them cannot make the hub build many such
	 * answers before the send buffer's mark is looked at again.
	 */
	until(answered: Promise<unknown>): void {
		if (this.#closed) return;
		this.#busy = true;
		const done = () => {
			this.#busy = false;
			if (!this.#timer && !this.#waiting) this.#open();
		};
		answered.then(done, done);
	}

	#open(): void {
		this.#timer = undefined;
		if (this.#busy || this.#waiting) return;
		// A dispatched frame may throttle again (synchronously): then the rest wait for the next opening.
		while (this.#held.length > 0 && !this.throttled && !this.#closed) {
			const next = this.#held.shift() as { data: RawData; isBinary: boolean };
			this.dispatch(next.data, next.isBinary);
		}
		if (!this.throttled && !this.#closed) this.ws.resume();
	}

	/** The connection closed: drop what is held (nothing of it was accepted) and stop the timer. */
	dispose(): void {
		this.#closed = true;
		clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#held.length = 0;
	}
}

/**
 * Thrown synchronously by a handler (before its first await) that called `throttle` because its budget is
 * spent: the router puts the frame back at the front of the gate, and it is handled again when the gate
 * opens. Nothing of it was applied.
 */
export class Deferred extends Error {
	override name = "Deferred";
	constructor() {
		super("deferred by the inbound gate");
	}
}
