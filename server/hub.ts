/**
 * The hub: one HTTP server that answers /healthz and upgrades WebSocket connections, the set of live
 * connections and which session each holds, presence, heartbeat, retention, and graceful shutdown.
 * What each request does lives in server/handlers/; how frames are read, in server/router.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { safeEqual, tokenFromUpgrade } from "./auth.js";
import { Connection } from "./connection.js";
import { DEFAULTS, type HubOptions, isLoopback } from "./defaults.js";
import { CloseCode, ErrorCode } from "./errors.js";
import { DEFAULT_ROOM } from "./handlers/hello.js";
import type { HandlerContext } from "./handlers/context.js";
import { sessionInfos } from "./handlers/presence.js";
import { type Fanout, type FanoutEvent, LocalFanout } from "./fanout.js";
import { type Logger, silentLogger } from "./logger.js";
import { Presence } from "./presence.js";
import { checkName, PROTOCOL_VERSION } from "./protocol.js";
import { routeFrame } from "./router.js";
import { StorageError, type Store } from "./store/store.js";
import { VERSION } from "./version.js";

export interface HubDeps {
	store: Store;
	fanout?: Fanout;
	log?: Logger;
}

export class HubConfigError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "HubConfigError";
	}
}

export class Hub {
	readonly options: HubOptions;
	readonly store: Store;
	readonly fanout: Fanout;
	readonly log: Logger;
	readonly startedAt = Date.now();
	closing = false;

	readonly #http: Server;
	readonly #wss: WebSocketServer;
	readonly #connections = new Set<Connection>();
	/** Who holds which session on this hub, and each room's audience. */
	readonly presence: Presence;
	/** What request handlers get (server/handlers/context.ts): not the Hub itself. */
	readonly context: HandlerContext;
	#timers: NodeJS.Timeout[] = [];
	#unsubscribe: (() => void) | undefined;

	constructor(options: Partial<HubOptions>, deps: HubDeps) {
		this.options = { ...DEFAULTS, ...stripUndefined(options) };
		if (!isLoopback(this.options.host) && !this.options.token) {
			throw new HubConfigError(
				`Refusing to listen on ${this.options.host} without a token: any machine that can reach it could read and send messages. ` +
					"Set RELAY_TOKEN or --token-file, or bind 127.0.0.1 and use an SSH tunnel.",
			);
		}
		if (this.options.token !== undefined && this.options.token.length < 16) {
			throw new HubConfigError("The hub token must be at least 16 characters (e.g. `openssl rand -hex 32`).");
		}
		this.store = deps.store;
		this.fanout = deps.fanout ?? new LocalFanout();
		this.log = deps.log ?? silentLogger();
		this.presence = new Presence(this.store, this.fanout, this.log);
		this.context = { options: this.options, store: this.store, fanout: this.fanout, presence: this.presence, log: this.log };
		this.#http = createServer((req, res) => this.#onHttp(req, res));
		this.#wss = new WebSocketServer({
			noServer: true,
			maxPayload: Math.max(this.options.hardMaxPayloadBytes, this.options.maxFrameBytes + 1),
			perMessageDeflate: false,
			clientTracking: false,
		});
		this.#http.on("upgrade", (req, socket, head) => this.#onUpgrade(req, socket, head));
	}

	/** Opens the store and starts listening. Resolves with the bound address. */
	async listen(): Promise<{ host: string; port: number; url: string }> {
		await this.store.open();
		// A distributed fan-out must be receiving before the first client can connect, or a push could be missed.
		await this.fanout.open?.();
		this.#unsubscribe = this.fanout.subscribe((event) => this.#onFanout(event));
		await new Promise<void>((resolve, reject) => {
			this.#http.once("error", reject);
			this.#http.listen(this.options.port, this.options.host, () => {
				this.#http.off("error", reject);
				resolve();
			});
		});
		this.#startTimers();
		const addr = this.#http.address() as AddressInfo;
		const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
		return { host: addr.address, port: addr.port, url: `ws://${host}:${addr.port}` };
	}

	/** The connection holding this session on this hub, if any (presence's answer; for tests and tools). */
	holder(room: string, session: string) {
		return this.presence.holder(room, session);
	}

	get port(): number {
		return (this.#http.address() as AddressInfo).port;
	}

	// ----- HTTP and upgrade ------------------------------------------------------------------------------

	#onHttp(req: IncomingMessage, res: ServerResponse): void {
		const path = (req.url ?? "/").split("?")[0];
		if (req.method === "GET" && path === "/healthz") {
			this.health().then(
				(body) => {
					// 503 when not ok (stopping, or storage failing), so `curl -f` and service monitors notice.
					res.writeHead(body.ok ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
					res.end(JSON.stringify(body));
				},
				(err) => {
					this.log.error({ err }, "health check failed");
					res.writeHead(503, { "content-type": "application/json", "cache-control": "no-store" });
					res.end(JSON.stringify({ ok: false, error: "store unavailable", store: this.store.kind, storage: this.#storage() }));
				},
			);
			return;
		}
		if (req.method === "GET" && path === "/sessions") {
			this.#sessionsOverHttp(req, res);
			return;
		}
		res.writeHead(426, { "content-type": "text/plain" });
		res.end("claude-relay hub: connect with a WebSocket client (see docs/PROTOCOL.md), or GET /healthz.\n");
	}

	/**
	 * GET /sessions?room=NAME: the `sessions` answer for tools that must not claim an ID to ask
	 * (`claude-relay sessions`). Behind the hub token when there is one, like the WebSocket.
	 */
	#sessionsOverHttp(req: IncomingMessage, res: ServerResponse): void {
		const send = (status: number, body: unknown) => {
			res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
			res.end(JSON.stringify(body));
		};
		if (this.options.token !== undefined) {
			const offered = tokenFromUpgrade(req);
			if (offered === undefined || !safeEqual(offered, this.options.token)) {
				send(401, { error: { code: ErrorCode.AUTH, message: "This hub requires a token." } });
				return;
			}
		}
		const room = new URL(req.url ?? "/", "http://hub").searchParams.get("room") ?? DEFAULT_ROOM;
		const check = checkName(room, "room name");
		if (!check.ok) {
			send(400, { error: { code: ErrorCode.BAD_ID, message: check.reason } });
			return;
		}
		sessionInfos(this.context, room).then(
			(sessions) => send(200, { room, sessions }),
			(err) => {
				this.log.error({ err }, "GET /sessions failed");
				if (err instanceof StorageError) send(503, { error: { code: ErrorCode.STORAGE, message: `The hub's storage failed: ${err.message}.` } });
				else send(500, { error: { code: ErrorCode.INTERNAL, message: "store unavailable" } });
			},
		);
	}

	/** /healthz's `storage`: whether the store works, and its last failure (kept after it recovers). */
	#storage() {
		const { ok, lastError } = this.store.health;
		return lastError ? { ok, lastError: { ...lastError } } : { ok };
	}

	async health() {
		const stats = await this.store.stats();
		const storage = this.#storage();
		return {
			ok: !this.closing && storage.ok,
			version: VERSION,
			protocol: PROTOCOL_VERSION,
			uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
			sessionsOnline: this.presence.size,
			connections: this.#connections.size,
			messagesStored: stats.messages,
			pendingDeliveries: stats.pendingDeliveries,
			store: this.store.kind,
			storage,
		};
	}

	#reject(socket: Duplex, status: number, text: string): void {
		socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
	}

	#onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
		socket.on("error", () => socket.destroy());
		if (this.closing) {
			this.#reject(socket, 503, "Service Unavailable");
			return;
		}
		if (this.#connections.size >= this.options.maxConnections) {
			this.log.warn({ max: this.options.maxConnections }, "connection cap reached; refusing upgrade");
			this.#reject(socket, 503, "Service Unavailable");
			return;
		}
		let authenticated = this.options.token === undefined;
		const offered = tokenFromUpgrade(req);
		if (!authenticated && offered !== undefined) {
			if (!safeEqual(offered, this.options.token as string)) {
				this.log.warn({ remote: req.socket.remoteAddress }, "wrong token at upgrade");
				this.#reject(socket, 401, "Unauthorized");
				return;
			}
			authenticated = true;
		}
		this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, req, authenticated));
	}

	#onConnection(ws: WebSocket, req: IncomingMessage, authenticated: boolean): void {
		const conn = new Connection(ws, this.context, authenticated, req.socket.remoteAddress ?? "?");
		this.#connections.add(conn);
		ws.on("message", (data, isBinary) => {
			routeFrame(this.context, conn, data, isBinary, () => this.closing).catch((err) => this.log.error({ err }, "router failed"));
		});
		ws.on("pong", () => {
			conn.alive = true;
		});
		ws.on("error", (err) => {
			// ws reports protocol errors (e.g. a frame over maxPayload: 1009) here and closes the socket itself.
			this.log.debug({ err: err.message, cid: conn.cid }, "socket error");
		});
		ws.on("close", () => {
			this.#connections.delete(conn);
			conn.dispose();
			this.presence.leave(conn, conn.leaving ?? "closed");
		});
	}

	// ----- fan-out ---------------------------------------------------------------------------------------

	#onFanout(event: FanoutEvent): void {
		if (event.kind === "session") this.presence.sessionSeen(event.room, event.session);
		else if (event.kind === "receipt") this.presence.deliverReceipt(event.room, event.to, event.receipt);
		else this.presence.deliver(event.message, event.recipients);
	}

	// ----- timers ----------------------------------------------------------------------------------------

	#startTimers(): void {
		const o = this.options;
		// The ws README heartbeat: whoever did not answer the last ping is gone.
		const heartbeat = setInterval(() => {
			for (const conn of this.#connections) {
				if (!conn.alive) {
					conn.leaving ??= "timeout";
					conn.ws.terminate();
					continue;
				}
				conn.alive = false;
				try {
					conn.ws.ping();
				} catch {
					// closed meanwhile
				}
			}
		}, o.heartbeatMs);
		// A reader that stopped reading must not hold memory forever: drop it; its messages stay queued.
		const slow = setInterval(
			() => {
				const now = Date.now();
				for (const conn of this.#connections) {
					if (conn.isStalled(now, o.slowConsumerMs)) {
						this.log.warn({ cid: conn.cid, session: conn.session?.session, buffered: conn.ws.bufferedAmount }, "dropping slow consumer");
						conn.leaving ??= "slow";
						conn.ws.terminate();
					}
				}
			},
			Math.min(1000, o.slowConsumerMs),
		);
		const retention = setInterval(() => void this.runRetention(), o.retentionIntervalMs);
		this.#timers = [heartbeat, slow, retention];
		for (const t of this.#timers) t.unref();
		void this.runRetention();
	}

	async runRetention(now = Date.now()) {
		const o = this.options;
		if (o.retentionDays <= 0 && o.retentionMaxMessages <= 0) return { deletedMessages: 0, lostDeliveries: 0 };
		try {
			const result = await this.store.applyRetention({
				olderThan: o.retentionDays > 0 ? now - o.retentionDays * 86_400_000 : undefined,
				maxPerRoom: o.retentionMaxMessages > 0 ? o.retentionMaxMessages : undefined,
			});
			if (result.deletedMessages > 0) this.log.info(result, "retention deleted old messages");
			return result;
		} catch (err) {
			this.log.error({ err }, "retention failed");
			return { deletedMessages: 0, lostDeliveries: 0 };
		}
	}

	// ----- shutdown --------------------------------------------------------------------------------------

	/**
	 * Graceful stop: refuse new connections and requests, tell every client (a `shutdown` push, then close
	 * 1001), give them a moment, cut whoever is left, then close the store (which flushes it).
	 */
	async close(): Promise<void> {
		if (this.closing) return;
		this.closing = true;
		for (const t of this.#timers) clearInterval(t);
		const httpClosed = new Promise<void>((resolve) => this.#http.close(() => resolve()));
		const conns = [...this.#connections];
		for (const conn of conns) {
			conn.leaving ??= "shutdown";
			conn.send({ type: "shutdown", reason: "hub stopping", retryAfterMs: this.options.shutdownRetryAfterMs });
			conn.close(CloseCode.GOING_AWAY, "hub stopping");
		}
		const deadline = Date.now() + this.options.shutdownGraceMs;
		while (this.#connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
		for (const conn of this.#connections) conn.ws.terminate();
		this.#http.closeAllConnections?.();
		await httpClosed;
		this.#unsubscribe?.();
		await this.fanout.close();
		await this.store.close();
	}
}

function stripUndefined<T extends object>(o: T): Partial<T> {
	return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
