/**
 * One client WebSocket: its session (after hello), its rate limit, liveness, and the outbound pump that
 * delivers its messages in order without letting a slow reader stall the hub.
 *
 * Delivery has two modes. LIVE: a committed message is written to the socket at once. CATCH-UP: the
 * connection reads its unacked messages from the store, page by page, after its push cursor. A connection
 * starts in catch-up (right after hello, to replay what waited), and falls back to it whenever its send
 * buffer is over the high-water mark; it returns to live only when a page comes back short and nothing
 * arrived meanwhile. Because catch-up reads the store, a message is never lost by being skipped live; at
 * worst it is pushed twice, and clients dedupe by message id.
 *
 * Memory: the high-water mark is checked before every message frame, live or catch-up, so a reader that
 * stops reading makes the hub hold at most sendBufferHighBytes plus one frame of pushes for it. Message
 * frames are written as Buffers: a string write that cannot complete keeps the string and a copy Node
 * sizes at three bytes per character, four times what the mark counts. Catch-up pages are sized to what
 * fits under the mark and are not kept while the pump waits for the reader.
 */
import type { WebSocket } from "ws";
import { CloseCode, type ErrorCode } from "./errors.js";
import type { HandlerContext } from "./handlers/context.js";
import type { Message, PeerInfo, RequestId, SessionMeta } from "./protocol.js";
import type { InboundGate } from "./inbound.js";
import { messageFrame } from "./message-json.js";
import { TokenBucket } from "./rate-limit.js";

export interface BoundSession {
	room: string;
	session: string;
	meta: SessionMeta;
	connectedAt: number;
	/** Attached beside the holder (see HelloRequest.observer): no presence, no contest, no replay. */
	observer: boolean;
	/** Writes this connection peer_joined / peer_left frames (HelloRequest.presence). */
	presence: boolean;
	/** Forgotten when this connection ends (see HelloRequest.ephemeral). */
	ephemeral: boolean;
	/** When this hub last wrote the session's lastSeen for this connection (hello, then each retention run). */
	touchedAt: number;
}

/**
 * Why a session left. "renamed" is only what other hubs are told when a session on this hub took another ID
 * (its connection stays; see Presence.renamed); a connection never leaves with it.
 */
export type LeaveReason = "bye" | "closed" | "timeout" | "replaced" | "slow" | "shutdown" | "renamed";

let nextConnectionId = 1;

export class Connection {
	readonly cid = nextConnectionId++;
	readonly bucket: TokenBucket;
	/** Whether the hub token was accepted (at the upgrade or in hello). */
	authenticated: boolean;
	session: BoundSession | null = null;
	/** This connection's hold on its session ID in the directory (server/directory.ts), from hello on. */
	claim: string | null = null;
	/** Set once the connection is on its way out, so presence and cleanup run once. */
	leaving: LeaveReason | null = null;
	lastActive = Date.now();
	/** Heartbeat: cleared at each ping, set by pong or any inbound frame. */
	alive = true;
	/** Holds this connection's frames, in order, while it is throttled (server/inbound.ts); set by the hub. */
	gate!: InboundGate;

	/** Highest seq written to this socket. */
	#cursor = 0;
	/** idle until hello; empty: the hello counted nothing pending after registering, and no catch-up started since. */
	#mode: "idle" | "empty" | "live" | "catchup" = "idle";
	#pumping = false;
	/** A message arrived while a catch-up page was being read: read again before going live. */
	#dirty = false;
	/** Mean size of the message frames of the last catch-up page, to size the next one (pessimistic at first). */
	#meanFrameBytes: number;
	/** Since when the send buffer has been over the high-water mark (0: it is not). */
	slowSince = 0;
	#helloTimer: NodeJS.Timeout | undefined;
	/** Frames received before a session was bound whose handling has not finished (a hello, usually). */
	#inFlight = 0;
	/** The hello deadline passed while a hello was being handled: close if that one does not bind. */
	#helloOverdue = false;
	#onBind: (() => void) | undefined;

	constructor(
		readonly ws: WebSocket,
		private readonly hub: Pick<HandlerContext, "options" | "store" | "log" | "metrics" | "events">,
		authenticated: boolean,
		readonly remote: string,
		/** How long it has to complete a hello: helloTimeoutMs, or preHelloTimeoutMs in the pre-hello pool. */
		helloTimeoutMs = hub.options.helloTimeoutMs,
	) {
		this.authenticated = authenticated;
		this.#meanFrameBytes = Math.max(256, hub.options.maxBodyBytes);
		this.bucket = new TokenBucket(hub.options.rateLimitPerSecond, hub.options.rateLimitBurst);
		this.#helloTimer = setTimeout(() => {
			if (this.session) return;
			if (this.busy) this.#helloOverdue = true;
			else this.shut(CloseCode.HELLO_TIMEOUT, "no hello in time");
		}, helloTimeoutMs);
		this.#helloTimer.unref();
	}

	/**
	 * True while a frame received before hello is being handled, or waits for a later turn of the event loop
	 * (server/turn-budget.ts): such a connection is not evicted, and its hello is let finish. Not while its
	 * frames are held for its frame rate: a peer flooding frames before hello would never be evicted or timed out.
	 */
	get busy(): boolean {
		return this.#inFlight > 0 || this.gate?.waitingTurn === true;
	}

	/** The hub calls these around the handling of each frame received before a session is bound. */
	frameStarted(): void {
		this.#inFlight++;
	}

	frameSettled(): void {
		this.#inFlight--;
		if (!this.busy && this.#helloOverdue && !this.session) this.shut(CloseCode.HELLO_TIMEOUT, "no hello in time");
	}

	/** Runs `fn` once, when a hello binds a session to this connection (it leaves the pre-hello pool). */
	whenBound(fn: () => void): void {
		this.#onBind = fn;
	}

	get key(): string | null {
		return this.session ? sessionKey(this.session.room, this.session.session) : null;
	}

	get open(): boolean {
		return this.ws.readyState === this.ws.OPEN && this.leaving === null;
	}

	bind(session: BoundSession): void {
		this.session = session;
		clearTimeout(this.#helloTimer);
		// Not kept for the life of the connection: thousands of idle sessions each held a spent Timeout.
		this.#helloTimer = undefined;
		const onBind = this.#onBind;
		this.#onBind = undefined;
		onBind?.();
	}

	peerInfo(now = Date.now()): PeerInfo {
		const s = this.session;
		if (!s) throw new Error("peerInfo of a connection without a session");
		return { session: s.session, room: s.room, meta: s.meta, connectedAt: s.connectedAt, idleMs: now - this.lastActive };
	}

	// ----- writing frames -------------------------------------------------------------------------------

	/** Writes one frame. Returns false if the socket is not open (the frame is dropped: pushes are re-read from the store). */
	send(frame: object, cb?: (err?: Error) => void): boolean {
		return this.sendText(JSON.stringify(frame), cb);
	}

	/** Writes a frame already serialized (a text frame, even from a Buffer): for one frame going to many connections. */
	sendText(text: string | Buffer, cb?: (err?: Error) => void): boolean {
		if (this.ws.readyState !== this.ws.OPEN) return false;
		this.#cork();
		this.ws.send(text, { binary: false }, cb);
		return true;
	}

	#corked = false;
	/**
	 * Frames written in the same tick (a group commit answers and pushes many at once) leave in one writev
	 * instead of one syscall each: cork the socket on the first, uncork once the tick's work is done.
	 * Profiling showed one writev per frame at 19% of hub time. `_socket` is ws's (undocumented but stable
	 * in ws 8) net.Socket; without it we simply do not cork.
	 */
	#cork(): void {
		if (this.#corked) return;
		const socket = (this.ws as unknown as { _socket?: import("node:net").Socket })._socket;
		if (!socket) return;
		this.#corked = true;
		socket.cork();
		// A microtask, not process.nextTick: the pushes of a group commit are all written by then (their
		// continuations were queued first), and a push leaves before the hub builds its sender's result.
		queueMicrotask(() => {
			this.#corked = false;
			socket.uncork();
		});
	}

	/**
	 * Writes a push that is only a hint (state_changed), unless the send buffer is over the high-water mark:
	 * then it is dropped rather than let it grow the buffer of a reader that is behind. Returns whether sent.
	 */
	sendHint(text: string): boolean {
		if (this.#overHighWater()) return false;
		return this.sendText(text);
	}

	reply(id: RequestId, result: unknown): void {
		this.send({ type: "result", id, result });
	}

	error(id: RequestId | null, code: ErrorCode, message: string, details?: unknown): void {
		this.hub.metrics.error(code);
		this.send(details === undefined ? { type: "error", id, code, message } : { type: "error", id, code, message, details });
	}

	close(code: number, reason: string): void {
		if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
	}

	/**
	 * Closes with `code` without waiting for the peer's answer (ws would wait up to 30 s): for peers that may
	 * never answer, such as sockets that never said hello. The close frame is flushed first (after this
	 * tick's uncork), then the socket is destroyed.
	 */
	shut(code: number, reason: string): void {
		this.close(code, reason);
		setImmediate(() => this.ws.terminate());
	}

	// ----- delivery ----------------------------------------------------------------------------------------

	/**
	 * A message for this session was committed. True when it was written to the socket now (the caller marks
	 * it pushed); false when it was not (already written, or it will be, by catch-up, which marks it then).
	 */
	deliver(message: Message, frame?: () => string): boolean {
		if (!this.open || message.seq <= this.#cursor) return false;
		if (this.#mode === "live" && !this.#overHighWater()) {
			this.#cursor = message.seq;
			this.sendText(Buffer.from(frame ? frame() : messageFrame(message)));
			return true;
		}
		this.#dirty = true;
		if (this.#mode === "live") this.#mode = "catchup";
		this.startCatchUp();
		return false;
	}

	/**
	 * Pushes the backlog again from its start: after a rename the inbox also holds what waited for the new
	 * ID, below this connection's cursor. Clients dedupe by id, so what they had comes to nothing.
	 */
	replayFromStart(): void {
		this.#cursor = 0;
		this.#dirty = true;
		this.#mode = "catchup";
		this.startCatchUp();
	}

	/** Observers get live pushes only, from now on: no replay of the backlog. */
	startLive(): void {
		this.#mode = "live";
	}

	/**
	 * The store held nothing pending for this session when its hello counted, after the session was registered:
	 * anything committed since reaches deliver(), which starts a catch-up (and so leaves this state), as does
	 * any other request for one (a fan-out resync). So the catch-up after hello, if none started meanwhile, can
	 * go live without reading an empty page (a read transaction per hello).
	 */
	noBacklog(): void {
		if (this.#mode === "idle") this.#mode = "empty";
	}

	/** After the hello's answer: its catch-up, unless noBacklog said there is nothing to read and none started since. */
	startAfterHello(): void {
		if (this.#mode === "empty") this.#mode = "live";
		else this.startCatchUp();
	}

	/**
	 * Starts (or continues) reading unacked messages from the store: after hello (startAfterHello), when a push
	 * cannot be written now (deliver), and when the fan-out may have dropped events (Presence.catchUpAll).
	 */
	startCatchUp(): void {
		if (this.#mode !== "catchup") this.#mode = "catchup";
		if (this.#pumping) return;
		this.#pumping = true;
		this.#pump()
			.catch((err) => {
				this.hub.log.error({ err, cid: this.cid }, "catch-up failed; closing so the client retries");
				this.close(CloseCode.GOING_AWAY, "internal error");
			})
			.finally(() => {
				this.#pumping = false;
			});
	}

	async #pump(): Promise<void> {
		const s = this.session;
		if (!s) return;
		for (;;) {
			if (!this.open) return;
			if (this.#overHighWater()) {
				// Wait until the socket has written what is queued; a reader that never drains is dropped by
				// the hub's slow-consumer check, and its messages stay in the store for its reconnect.
				await this.#drained();
				continue;
			}
			this.#dirty = false;
			// In a function of its own, so the page is garbage once written, not kept while we wait.
			if (await this.#pushPage(s)) {
				this.#mode = "live";
				return;
			}
		}
	}

	/** Reads one page after the cursor and writes what fits under the mark. True when nothing is left. */
	async #pushPage(s: BoundSession): Promise<boolean> {
		const page = await this.hub.store.pending(s.room, s.session, { afterSeq: this.#cursor, limit: this.#pageLimit() });
		let stopped = false;
		let bytes = 0;
		let frames = 0;
		const pushed: { seq: number; recipients: string[] }[] = [];
		for (const message of page.messages) {
			if (message.seq <= this.#cursor) continue;
			// Per message, not per page: a page of 200 × 60 KiB written whole made a paused reader cost
			// 12 MiB instead of the documented 1 MiB. What is not written now is read again from the cursor.
			if (!this.open || this.#overHighWater()) {
				stopped = true;
				break;
			}
			this.#cursor = message.seq;
			const frame = Buffer.from(messageFrame(message));
			bytes += frame.length;
			frames++;
			if (this.sendText(frame)) pushed.push({ seq: message.seq, recipients: [s.session] });
		}
		if (frames > 0) this.#meanFrameBytes = Math.max(64, bytes / frames);
		// An observer's pushes are not the session's: only the holder's connection makes a receipt `pushed`.
		if (pushed.length > 0 && !s.observer) {
			const at = Date.now();
			this.hub.store.markPushed(s.room, pushed, at).catch((err) => this.hub.log.debug({ err }, "could not mark deliveries pushed"));
			this.hub.events.sink?.({ kind: "pushed", room: s.room, pushes: pushed, at });
		}
		return !stopped && page.remaining === 0 && !this.#dirty && !this.#overHighWater();
	}

	/**
	 * How many messages to read next: about as many as fit under the high-water mark (at least one, at most
	 * replayBatch), so a page of large messages is not read into memory only to be dropped at the mark.
	 */
	#pageLimit(): number {
		const room = Math.max(0, this.hub.options.sendBufferHighBytes - this.ws.bufferedAmount);
		return Math.min(this.hub.options.replayBatch, Math.max(1, Math.ceil(room / this.#meanFrameBytes) + 1));
	}

	#overHighWater(): boolean {
		const over = this.ws.bufferedAmount > this.hub.options.sendBufferHighBytes;
		if (over && this.slowSince === 0) this.slowSince = Date.now();
		else if (!over) this.slowSince = 0;
		return over;
	}

	/**
	 * Waits a little for the send buffer to drain. Polling bufferedAmount keeps this independent of ws
	 * internals; the delay is short next to the time a reader needs to drain a megabyte.
	 */
	#drained(): Promise<void> {
		return new Promise((resolve) => setTimeout(resolve, 25));
	}

	/** True when the send buffer has been over the high-water mark for longer than `limitMs`. */
	isStalled(now: number, limitMs: number): boolean {
		this.#overHighWater();
		return this.slowSince !== 0 && now - this.slowSince > limitMs;
	}

	// ----- liveness ----------------------------------------------------------------------------------------

	/** Pings this connection and resolves true if it pongs within `ms`. Used when another client claims its ID. */
	probe(ms: number): Promise<boolean> {
		return new Promise((resolve) => {
			if (this.ws.readyState !== this.ws.OPEN) return resolve(false);
			const timer = setTimeout(() => {
				this.ws.off("pong", onPong);
				resolve(false);
			}, ms);
			const onPong = () => {
				clearTimeout(timer);
				resolve(true);
			};
			this.ws.once("pong", onPong);
			try {
				this.ws.ping();
			} catch {
				clearTimeout(timer);
				resolve(false);
			}
		});
	}

	dispose(): void {
		clearTimeout(this.#helloTimer);
		this.gate?.dispose();
	}
}

export function sessionKey(room: string, session: string): string {
	return `${room}\u0000${session}`;
}
