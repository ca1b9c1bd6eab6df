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
 */
import type { WebSocket } from "ws";
import { CloseCode, type ErrorCode } from "./errors.js";
import type { HandlerContext } from "./handlers/context.js";
import type { Message, PeerInfo, RequestId, SessionMeta } from "./protocol.js";
import { TokenBucket } from "./rate-limit.js";

export interface BoundSession {
	room: string;
	session: string;
	meta: SessionMeta;
	connectedAt: number;
	/** Attached beside the holder (see HelloRequest.observer): no presence, no contest, no replay. */
	observer: boolean;
}

export type LeaveReason = "bye" | "closed" | "timeout" | "replaced" | "slow" | "shutdown";

let nextConnectionId = 1;

export class Connection {
	readonly cid = nextConnectionId++;
	readonly bucket: TokenBucket;
	/** Whether the hub token was accepted (at the upgrade or in hello). */
	authenticated: boolean;
	session: BoundSession | null = null;
	/** Set once the connection is on its way out, so presence and cleanup run once. */
	leaving: LeaveReason | null = null;
	lastActive = Date.now();
	/** Heartbeat: cleared at each ping, set by pong or any inbound frame. */
	alive = true;
	strikes = 0;

	/** Highest seq written to this socket. */
	#cursor = 0;
	#mode: "idle" | "live" | "catchup" = "idle";
	#pumping = false;
	/** A message arrived while a catch-up page was being read: read again before going live. */
	#dirty = false;
	/** Since when the send buffer has been over the high-water mark (0: it is not). */
	slowSince = 0;
	#helloTimer: NodeJS.Timeout | undefined;

	constructor(
		readonly ws: WebSocket,
		private readonly hub: Pick<HandlerContext, "options" | "store" | "log">,
		authenticated: boolean,
		readonly remote: string,
	) {
		this.authenticated = authenticated;
		this.bucket = new TokenBucket(hub.options.rateLimitPerSecond, hub.options.rateLimitBurst);
		this.#helloTimer = setTimeout(() => {
			if (!this.session) this.close(CloseCode.HELLO_TIMEOUT, "no hello in time");
		}, hub.options.helloTimeoutMs);
		this.#helloTimer.unref();
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

	/** Writes a frame already serialized: for one frame going to many connections (presence, broadcasts). */
	sendText(text: string, cb?: (err?: Error) => void): boolean {
		if (this.ws.readyState !== this.ws.OPEN) return false;
		this.#cork();
		this.ws.send(text, cb);
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
		process.nextTick(() => {
			this.#corked = false;
			socket.uncork();
		});
	}

	reply(id: RequestId, result: unknown): void {
		this.send({ type: "result", id, result });
	}

	error(id: RequestId | null, code: ErrorCode, message: string): void {
		this.send({ type: "error", id, code, message });
	}

	close(code: number, reason: string): void {
		if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
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
			if (frame) this.sendText(frame());
			else this.send({ type: "message", message });
			return true;
		}
		this.#dirty = true;
		if (this.#mode === "live") this.#mode = "catchup";
		this.startCatchUp();
		return false;
	}

	/** Observers get live pushes only, from now on: no replay of the backlog. */
	startLive(): void {
		this.#mode = "live";
	}

	/** Starts (or continues) reading unacked messages from the store; called after hello and on backpressure. */
	startCatchUp(): void {
		if (this.#mode === "idle" || this.#mode === "live") this.#mode = "catchup";
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
		const batch = this.hub.options.replayBatch;
		for (;;) {
			if (!this.open) return;
			if (this.#overHighWater()) {
				// Wait until the socket has written what is queued; a reader that never drains is dropped by
				// the hub's slow-consumer check, and its messages stay in the store for its reconnect.
				await this.#drained();
				continue;
			}
			this.#dirty = false;
			const page = await this.hub.store.pending(s.room, s.session, { afterSeq: this.#cursor, limit: batch });
			const pushed: { seq: number; recipients: string[] }[] = [];
			const me = [s.session];
			for (const message of page.messages) {
				if (message.seq <= this.#cursor) continue;
				this.#cursor = message.seq;
				if (this.send({ type: "message", message })) pushed.push({ seq: message.seq, recipients: me });
			}
			// An observer's pushes are not the session's: only the holder's connection makes a receipt `pushed`.
			if (pushed.length > 0 && !s.observer) {
				this.hub.store.markPushed(s.room, pushed, Date.now()).catch((err) => this.hub.log.debug({ err }, "could not mark deliveries pushed"));
			}
			if (page.remaining === 0 && !this.#dirty && !this.#overHighWater()) {
				this.#mode = "live";
				return;
			}
		}
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
	}
}

export function sessionKey(room: string, session: string): string {
	return `${room}\u0000${session}`;
}
