import type { Server } from "node:http";
import type { Socket } from "node:net";

/**
 * How many accepted sockets may be read before their HTTP request has been heard.
 *
 * Why: Node's HTTP parser reads a socket's handle directly (not through the stream), so every socket that is
 * readable in one poll phase has its request parsed there, and in a reconnect storm that is thousands of
 * upgrade requests in one go: the restarted hub's profile showed single poll phases of 0.2-0.5 s spent
 * parsing them, before the turn budget (server/turn-budget.ts) can be asked. So sockets are accepted paused
 * (`pauseOnConnect`) and handed to HTTP in order, at most `size` at a time that have not yet sent their
 * request head. A socket leaves its place as soon as its head is parsed (an upgrade or a request); then the
 * next waiting socket starts reading, in the next poll. So one poll parses at most `size` requests.
 *
 * A socket that stays silent for `slotMs` while others wait gives its place up: it is paused again at its
 * handle (`readStop`: pausing the stream would not stop the parser) and goes to the back of the line, so no
 * number of silent sockets can keep a newcomer out for longer than it takes them to rotate (`size` per
 * `slotMs`). Node's header timeout runs from a socket's first hand-over, so a silent socket is still closed
 * by it. The line itself is bounded by `maxWaiting` (the hub's connection cap; plus at most `size` sockets
 * that gave their places up): past it a new socket is read at once, as if there were no window, so a burst
 * larger than the cap loses nothing but the pacing.
 *
 * It relies on two private parts of Node's net module, checked at install (else no window): the `connection`
 * listener that http.Server adds for itself, and the socket's `_handle` with `readStart`/`readStop`.
 * test/accept-window.test.ts fails if either stops working.
 */
export interface AcceptWindowOptions {
	/** Sockets that may be read at once before their request head is heard; 0: no window. */
	size: number;
	/** How long a silent socket keeps its place while others wait. */
	slotMs: number;
	/** Most sockets waiting for a place; past it a new socket is read at once (no pacing, nothing lost). */
	maxWaiting: number;
}

type Handle = { readStart(): number; readStop(): number };
type Held = Socket & { _handle: Handle | null };

export class AcceptWindow {
	/** Sockets with a place, oldest place first, and when they got it (performance.now()). */
	readonly #open = new Map<Held, number>();
	/** Sockets waiting for a place, in order (a Set: a closed one leaves in O(1)). */
	readonly #waiting = new Set<Held>();
	/** Sockets that gave their place up (given to HTTP once already: only started again when they get one). */
	readonly #paused = new Set<Held>();
	/**
	 * Each socket's close listener until it is heard. All of the window's state about a socket is here and in
	 * the sets above, and goes once it is heard: an idle connection carries nothing of it (no property, no
	 * listener, no WeakSet entry), since memory per idle session is one of the hub's targets.
	 */
	readonly #onClose = new Map<Held, () => void>();
	readonly #http: (socket: Socket) => void;
	#timer: NodeJS.Timeout | undefined;
	#closed = false;
	/** For /metrics and tests: places given up by silent sockets, sockets read at once past maxWaiting. */
	requeued = 0;
	overflowed = 0;

	private constructor(
		private readonly server: Server,
		listener: (socket: Socket) => void,
		private readonly options: AcceptWindowOptions,
	) {
		this.#http = listener;
		// A head was parsed: the socket's place is free. Only these two events: a listener for `connect`,
		// `checkContinue` or `checkExpectation` would change what Node does with such requests (with none it
		// closes a CONNECT, answers 100-continue itself and then emits `request`, or answers 417). A socket that
		// gets none of them closes or gives up its place after slotMs.
		server.prependListener("request", (req) => this.#heard(req.socket as Held));
		server.prependListener("upgrade", (_req, socket) => this.#heard(socket as Held));
		server.on("connection", (socket: Socket) => this.#accept(socket as Held));
	}

	/**
	 * Puts a window in front of `server`'s HTTP parsing; undefined (and nothing changed) when `size` is 0 or
	 * Node's private parts it needs are not there. Call before `listen`.
	 */
	static install(server: Server, options: AcceptWindowOptions): AcceptWindow | undefined {
		if (options.size <= 0) return undefined;
		const listeners = server.listeners("connection");
		if (listeners.length !== 1 || typeof listeners[0] !== "function") return undefined;
		const listener = listeners[0] as (socket: Socket) => void;
		server.removeListener("connection", listener);
		(server as Server & { pauseOnConnect: boolean }).pauseOnConnect = true;
		return new AcceptWindow(server, listener, options);
	}

	/** Sockets waiting for a place now. */
	get waiting(): number {
		return this.#waiting.size;
	}

	/** Sockets with a place now (read, request not yet heard). */
	get open(): number {
		return this.#open.size;
	}

	/** Closes every socket still waiting (HTTP's own close handles those it was given). */
	close(): void {
		this.#closed = true;
		clearTimeout(this.#timer);
		this.#timer = undefined;
		for (const socket of this.#waiting) socket.destroy();
		this.#waiting.clear();
		this.#paused.clear();
	}

	#accept(socket: Held): void {
		if (this.#closed) {
			socket.destroy();
			return;
		}
		if (!socket._handle || typeof socket._handle.readStart !== "function") {
			// Not a handle this can pause (never so for TCP on the Node versions tested): no window for it.
			this.#give(socket);
			return;
		}
		const room = this.#open.size < this.options.size && this.#waiting.size === 0;
		if (!room && this.#waiting.size >= this.options.maxWaiting) {
			// Past the line's bound the newcomer is read at once, as with no window: never closed for being new.
			// Its request then meets the connection cap and the pre-hello pool, which bound it as before.
			this.overflowed++;
			this.#give(socket);
			return;
		}
		const onClose = () => this.#gone(socket);
		this.#onClose.set(socket, onClose);
		socket.once("close", onClose);
		if (room) {
			this.#admit(socket);
			return;
		}
		this.#waiting.add(socket);
		this.#arm();
	}

	#admit(socket: Held): void {
		this.#open.set(socket, performance.now());
		if (this.#paused.delete(socket)) socket._handle?.readStart();
		else this.#give(socket);
	}

	/** First hand-over: HTTP's own connection listener (it consumes the handle), then start reading. */
	#give(socket: Held): void {
		this.#http.call(this.server, socket);
		socket.resume();
	}

	#heard(socket: Held): void {
		const onClose = this.#onClose.get(socket);
		if (!onClose) return; // a later request on a kept-alive socket, or one given to HTTP without a window
		this.#onClose.delete(socket);
		socket.removeListener("close", onClose);
		if (this.#open.delete(socket)) this.#fill();
	}

	/** A socket closed before it was heard (from its place or from the line). */
	#gone(socket: Held): void {
		this.#onClose.delete(socket);
		this.#paused.delete(socket);
		if (this.#open.delete(socket)) this.#fill();
		else this.#waiting.delete(socket);
	}

	#fill(): void {
		while (this.#open.size < this.options.size && this.#waiting.size > 0) {
			const next = this.#waiting.values().next().value as Held;
			this.#waiting.delete(next);
			this.#admit(next);
		}
	}

	/** A timer for the oldest place's expiry, while anyone waits. */
	#arm(): void {
		if (this.#timer || this.#waiting.size === 0 || this.#open.size === 0) return;
		const oldest = this.#open.values().next().value as number;
		const delay = Math.max(1, oldest + this.options.slotMs - performance.now());
		this.#timer = setTimeout(() => this.#expire(), delay);
		this.#timer.unref();
	}

	/** Silent sockets past slotMs give their places to those waiting, and go to the back of the line. */
	#expire(): void {
		this.#timer = undefined;
		const now = performance.now();
		for (const [socket, since] of this.#open) {
			if (this.#waiting.size === 0 || now - since < this.options.slotMs) break;
			this.#open.delete(socket);
			socket._handle?.readStop();
			this.#paused.add(socket);
			this.#waiting.add(socket);
			this.requeued++;
			this.#fill();
		}
		this.#arm();
	}
}
