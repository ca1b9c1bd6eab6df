/**
 * The hub: one HTTP server that answers /healthz and upgrades WebSocket connections, the set of live
 * connections and which session each holds, presence, heartbeat, retention, and graceful shutdown.
 * What each request does lives in server/handlers/; how frames are read, in server/router.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { type RawData, WebSocketServer, type WebSocket } from "ws";
import { safeEqual, tokenFromUpgrade } from "./auth.js";
import { AcceptWindow } from "./accept-window.js";
import { AddressLimiter } from "./address-limit.js";
import { Connection } from "./connection.js";
import { InboundGate } from "./inbound.js";
import { TurnBudget } from "./turn-budget.js";
import { DEFAULTS, type HubOptions, isLoopback } from "./defaults.js";
import { CloseCode } from "./errors.js";
import type { HandlerContext } from "./handlers/context.js";
import type { Directory } from "./directory.js";
import { HubEvents, isRoomEvent } from "./events.js";
import { type Fanout, type FanoutEvent, LocalFanout } from "./fanout.js";
import type { Health, HttpContext } from "./http/context.js";
import { DashboardFiles } from "./http/dashboard.js";
import { LiveStream } from "./http/live.js";
import { HttpRouter } from "./http/router.js";
import { ROUTES } from "./http/routes.js";
import { HubMetrics } from "./metrics.js";
import { TokenBucket } from "./rate-limit.js";
import { type Logger, silentLogger } from "./logger.js";
import { Presence } from "./presence.js";
import { normalizeAllowedHost, normalizeOrigin, type Refusal, RequestGuard } from "./origin.js";
import { addressKey, PreHelloPool } from "./pre-hello.js";
import { checkName, PROTOCOL_VERSION, type ResyncPush } from "./protocol.js";
import { routeFrame } from "./router.js";
import type { Store } from "./store/store.js";
import { Watches } from "./watches.js";
import { VERSION } from "./version.js";

/**
 * A socket's error handler for its whole life. Not a closure in #onUpgrade: that one kept the upgrade's
 * scope alive, and with it the request and its headers, about 1 KiB per idle connection.
 */
function destroySocket(this: Duplex): void {
	this.destroy();
}

/** Writes to every connection (heartbeat pings, resync pushes) per turn of the event loop. */
const WRITE_SLICE = 1_000;

/**
 * Runs `fn` on each connection, WRITE_SLICE per turn of the event loop: one write per connection to 10,000
 * of them in one turn blocked the loop for tens of milliseconds.
 */
function inSlices(conns: readonly Connection[], fn: (conn: Connection) => void, from = 0): void {
	const end = Math.min(conns.length, from + WRITE_SLICE);
	for (let i = from; i < end; i++) fn(conns[i] as Connection);
	if (end < conns.length) setImmediate(() => inSlices(conns, fn, end));
}

export interface HubDeps {
	store: Store;
	fanout?: Fanout;
	/** Who holds which ID on every hub (default: this hub alone). Hubs sharing a RedisStore share a RedisDirectory. */
	directory?: Directory;
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
	/** Connections neither authenticated at the upgrade nor past hello (server/pre-hello.ts). */
	readonly #preHello: PreHelloPool<Connection>;
	/** Pre-hello evictions since the last log line about them (logged at most every 10 s). */
	#evictions = { count: 0, loggedAt: 0 };
	/** Upgrades whose handshake waits for a later turn (server/turn-budget.ts); they count against the cap. */
	#upgrading = 0;
	/** Who holds which session on this hub, and each room's audience. */
	readonly presence: Presence;
	/** Which connections on this hub watch which state prefixes. */
	readonly watches: Watches;
	/** Inbound work per event-loop turn (server/turn-budget.ts). */
	readonly turns: TurnBudget;
	/** What request handlers get (server/handlers/context.ts): not the Hub itself. */
	readonly context: HandlerContext;
	/** Counts for GET /metrics (server/metrics.ts). */
	readonly metrics: HubMetrics;
	/** The dashboard's live stream (GET /api/live), and the sink it sets while someone watches. */
	readonly events = new HubEvents();
	readonly live: LiveStream;
	readonly #router = new HttpRouter(ROUTES);
	readonly #httpContext: HttpContext;
	/** Host and Origin checks (server/origin.ts); set once the port is known, before the first request. */
	#guard: RequestGuard | undefined;
	/** Sockets read before their request is heard, at most acceptWindow (server/accept-window.ts). */
	readonly #accepts: AcceptWindow | undefined;
	#timers: NodeJS.Timeout[] = [];
	#unsubscribe: (() => void) | undefined;
	#unresume: (() => void) | undefined;

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
		const counts = {
			maxConnections: "--max-connections",
			maxPreHello: "--max-pre-hello",
			maxPreHelloPerAddress: "--max-pre-hello-per-address",
			preHelloTimeoutMs: "--pre-hello-timeout",
			helloTimeoutMs: "helloTimeoutMs",
		} as const;
		for (const [key, flag] of Object.entries(counts) as [keyof typeof counts, string][]) {
			const v = this.options[key];
			if (!Number.isInteger(v) || v < 1) throw new HubConfigError(`${flag} must be a positive integer, not ${v}.`);
		}
		const budget = this.options.turnBudgetMs;
		if (!Number.isFinite(budget) || budget < 0) throw new HubConfigError(`--turn-budget must be a number of ms, 0 or more, not ${budget}.`);
		for (const [key, flag] of [
			["acceptWindow", "--accept-window"],
			["acceptSlotMs", "acceptSlotMs"],
		] as const) {
			const v = this.options[key];
			if (!Number.isInteger(v) || v < 0) throw new HubConfigError(`${flag} must be an integer, 0 or more, not ${v}.`);
		}
		for (const [list, check] of [
			[this.options.allowOrigins, normalizeOrigin],
			[this.options.allowHosts, normalizeAllowedHost],
		] as const) {
			for (const value of list) {
				try {
					check(value);
				} catch (err) {
					throw new HubConfigError((err as Error).message);
				}
			}
		}
		const operator = checkName(this.options.operatorName, "--operator-name");
		if (!operator.ok) throw new HubConfigError(`${operator.reason}: the dashboard writes under this name, which must be a valid session ID.`);
		for (const [key, flag] of [
			["maxViewers", "--max-viewers"],
			["viewerBufferBytes", "viewerBufferBytes"],
			["liveTickMs", "liveTickMs"],
			["apiPageMax", "apiPageMax"],
		] as const) {
			const v = this.options[key];
			if (!Number.isInteger(v) || v < 1) throw new HubConfigError(`${flag} must be a positive integer, not ${v}.`);
		}
		this.store = deps.store;
		this.fanout = deps.fanout ?? new LocalFanout();
		this.log = deps.log ?? silentLogger();
		this.presence = new Presence(this.store, this.fanout, this.log, this.options, deps.directory, this.events);
		this.watches = new Watches(this.options.maxWatches);
		this.turns = new TurnBudget(this.options.turnBudgetMs);
		this.metrics = new HubMetrics({
			connections: () => this.#connections.size,
			preHello: () => this.#preHello.size,
			sessionsOnline: () => this.presence.size,
			viewers: () => this.live.size,
			storeStats: () => this.store.stats(),
			storeBytes: () => this.store.operator.sizeBytes(),
			storeKind: this.store.kind,
			turns: () => this.turns,
			accepts: () => this.accepts,
		});
		this.context = {
			options: this.options,
			store: this.store,
			fanout: this.fanout,
			presence: this.presence,
			// A minute's worth of new IDs at once; two seconds' worth of broadcast deliveries, and never less than
			// one broadcast to a full room.
			newIds: new AddressLimiter(this.options.newSessionsPerMinute / 60, this.options.newSessionsPerMinute),
			broadcasts: new AddressLimiter(
				this.options.broadcastDeliveriesPerSecond,
				Math.max(2 * this.options.broadcastDeliveriesPerSecond, this.options.maxSessionsPerRoom),
			),
			watches: this.watches,
			turns: this.turns,
			metrics: this.metrics,
			events: this.events,
			log: this.log,
		};
		this.live = new LiveStream({ hub: this.context, health: () => this.health() });
		this.#httpContext = {
			hub: this.context,
			health: () => this.health(),
			startedAt: this.startedAt,
			live: this.live,
			dashboard: new DashboardFiles(),
			// One operator: the frame rate of one connection.
			apiSends: new TokenBucket(this.options.rateLimitPerSecond, this.options.rateLimitBurst),
			closing: () => this.closing,
		};
		this.#preHello = new PreHelloPool<Connection>({
			maxTotal: this.options.maxPreHello,
			maxPerAddress: this.options.maxPreHelloPerAddress,
			onEvict: (conn) => this.#evict(conn),
		});
		// A peer that connects and sends no request (or half a head) holds a socket outside every cap until
		// Node times it out (60 s by default): give it the pre-hello deadline instead.
		const headMs = Math.max(1_000, this.options.preHelloTimeoutMs);
		this.#http = createServer(
			{ headersTimeout: headMs, requestTimeout: headMs + 1_000, connectionsCheckingInterval: Math.min(1_000, headMs / 2) },
			(req, res) => this.#onHttp(req, res),
		);
		this.#wss = new WebSocketServer({
			noServer: true,
			maxPayload: Math.max(this.options.hardMaxPayloadBytes, this.options.maxFrameBytes + 1),
			perMessageDeflate: false,
			clientTracking: false,
		});
		this.#http.on("upgrade", (req, socket, head) => this.#onUpgrade(req, socket, head));
		// Waiting sockets are bounded by the connection cap: a storm's clients all fit, and past it a socket is read at once.
		this.#accepts = AcceptWindow.install(this.#http, {
			size: this.options.acceptWindow,
			slotMs: Math.max(1, this.options.acceptSlotMs),
			maxWaiting: this.options.maxConnections,
		});
	}

	/** Opens the store and starts listening. Resolves with the bound address. */
	async listen(): Promise<{ host: string; port: number; url: string }> {
		await this.store.open();
		// A distributed fan-out must be receiving before the first client can connect, or a push could be missed.
		await this.fanout.open?.();
		this.#unsubscribe = this.fanout.subscribe((event) => this.#onFanout(event));
		this.#unresume = this.fanout.onResume?.((since) => this.#onFanoutResume(since));
		// After the subscription, so that no presence event between the directory's snapshot and now is missed.
		await this.presence.open();
		this.metrics.start();
		await new Promise<void>((resolve, reject) => {
			this.#http.once("error", reject);
			this.#http.listen(this.options.port, this.options.host, () => {
				this.#http.off("error", reject);
				const bound = this.#http.address() as AddressInfo;
				// Before the listen callback returns, so no request is ever served without the checks.
				this.#guard = new RequestGuard({
					bindHost: this.options.host,
					boundAddress: bound.address,
					port: bound.port,
					allowOrigins: this.options.allowOrigins,
					allowHosts: this.options.allowHosts,
				});
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

	/** The accept window's counts (server/accept-window.ts): for tests and metrics; zeros without one. */
	get accepts(): { readonly waiting: number; readonly open: number; readonly requeued: number; readonly overflowed: number } {
		return this.#accepts ?? NO_ACCEPTS;
	}

	/** The open connections, read-only: for tests and metrics (send buffers, pre-hello counts). */
	get connections(): ReadonlySet<Connection> {
		return this.#connections;
	}

	// ----- HTTP and upgrade ------------------------------------------------------------------------------

	/**
	 * Host and Origin (server/origin.ts): null if the request may go on, else the refusal, logged once per
	 * refused value.
	 */
	#checkRequest(req: IncomingMessage): Refusal | null {
		const refusal = this.#guard ? this.#guard.check(req.headers) : null;
		if (refusal && this.#guard?.firstRefusal(refusal)) {
			this.log.warn(
				{ header: refusal.header, value: refusal.value, remote: req.socket.remoteAddress, url: (req.url ?? "").slice(0, 100), logFull: this.#guard.refusalLogFull },
				`refused a request with a foreign ${refusal.header} (logged once per value)`,
			);
		}
		return refusal;
	}

	#onHttp(req: IncomingMessage, res: ServerResponse): void {
		const refusal = this.#checkRequest(req);
		if (refusal) {
			this.metrics.error(refusal.code);
			res.writeHead(403, { "content-type": "application/json", "cache-control": "no-store" });
			res.end(JSON.stringify({ error: { code: refusal.code, message: refusal.message } }));
			return;
		}
		this.#router.handle(this.#httpContext, req, res);
	}

	/** /healthz's `storage`: whether the store works, and its last failure (kept after it recovers). */
	#storage() {
		const { ok, lastError } = this.store.health;
		return lastError ? { ok, lastError: { ...lastError } } : { ok };
	}

	async health(): Promise<Health> {
		const stats = await this.store.stats();
		const storage = this.#storage();
		return {
			ok: !this.closing && storage.ok,
			version: VERSION,
			protocol: PROTOCOL_VERSION,
			uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
			/** Held on this hub; `presence.sessionsOnline` counts every hub sharing the store. */
			sessionsOnline: this.presence.size,
			presence: {
				directory: this.presence.directory.kind,
				hub: this.presence.directory.hubId,
				hubs: this.presence.directory.stats.hubs,
				sessionsOnline: this.presence.globalSize,
			},
			connections: this.#connections.size,
			preHello: this.#preHello.size,
			messagesStored: stats.messages,
			pendingDeliveries: stats.pendingDeliveries,
			store: this.store.kind,
			storage,
		};
	}

	#reject(socket: Duplex, status: number, text: string): void {
		socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
	}

	/** A refusal of an upgrade, with the same JSON body the HTTP endpoints answer. */
	#rejectJson(socket: Duplex, status: number, reason: string, body: unknown): void {
		const json = JSON.stringify(body);
		socket.end(
			`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
		);
	}

	#onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
		socket.on("error", destroySocket);
		const refusal = this.#checkRequest(req);
		if (refusal) {
			this.#rejectJson(socket, 403, "Forbidden", { error: { code: refusal.code, message: refusal.message } });
			return;
		}
		if (this.closing) {
			this.#reject(socket, 503, "Service Unavailable");
			return;
		}
		let authenticated = this.options.token === undefined;
		// Only a token checked here keeps a connection out of the pre-hello pool: without a hub token there
		// is nothing to tell a client from a flood before its hello.
		let tokenAtUpgrade = false;
		const offered = tokenFromUpgrade(req);
		if (!authenticated && offered !== undefined) {
			if (!safeEqual(offered, this.options.token as string)) {
				this.log.warn({ remote: req.socket.remoteAddress }, "wrong token at upgrade");
				this.#reject(socket, 401, "Unauthorized");
				return;
			}
			authenticated = true;
			tokenAtUpgrade = true;
		}
		if (!this.#roomForOne(socket)) return;
		if (this.turns.mustWait()) {
			// The handshake (the 101, a WebSocket, its Connection) waits for a turn with budget, like a frame: in a
			// reconnect storm thousands of upgrades landed in one poll phase, and handled there they blocked every
			// timer for 0.8-1.7 s (bench storm, the restarted hub's profile). The accept window now brings at most
			// 64 a poll, which still overrun a turn, and all of them when it is off or overflowing. The socket stays unread meanwhile
			// (Node leaves an upgraded socket unread until someone listens), and it counts against the connection
			// cap, so waiting upgrades are bounded by it.
			this.#upgrading++;
			this.turns.wait(
				() => {
					this.#upgrading--;
					if (this.closing) this.#reject(socket, 503, "Service Unavailable");
					else this.#upgrade(req, socket, head, authenticated, tokenAtUpgrade);
				},
				() => {
					if (!socket.destroyed) return false;
					this.#upgrading--;
					return true;
				},
			);
			return;
		}
		this.#upgrade(req, socket, head, authenticated, tokenAtUpgrade);
	}

	/**
	 * Whether the connection cap leaves room for one more (evicting the oldest pre-hello connection if that
	 * makes room); false when it refused the socket.
	 */
	#roomForOne(socket: Duplex): boolean {
		if (this.#connections.size + this.#upgrading < this.options.maxConnections) return true;
		// Pre-hello sockets never keep a newcomer out; only connections that authenticated or said hello do.
		const victim = this.#preHello.evictOldest();
		if (!victim) {
			this.log.warn({ max: this.options.maxConnections }, "connection cap reached; refusing upgrade");
			this.#reject(socket, 503, "Service Unavailable");
			return false;
		}
		this.#evict(victim);
		return true;
	}

	#upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, authenticated: boolean, tokenAtUpgrade: boolean): void {
		// Past its bound the pool evicts its oldest at the end of this turn (server/pre-hello.ts): never the newcomer.
		const address = tokenAtUpgrade ? undefined : addressKey(req.socket.remoteAddress);
		this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, req, authenticated, address));
	}

	/** Closes a pre-hello connection (1013, try again) to make room for newer ones; it leaves the count now. */
	#evict(conn: Connection): void {
		this.#connections.delete(conn);
		conn.shut(CloseCode.TRY_AGAIN, "too many connections waiting for hello; reconnect and say hello at once");
		const e = this.#evictions;
		e.count++;
		const now = Date.now();
		if (now - e.loggedAt >= 10_000) {
			this.log.warn(
				{ evicted: e.count, preHello: this.#preHello.size, max: this.options.maxPreHello, perAddress: this.options.maxPreHelloPerAddress },
				"pre-hello pool full: evicting the oldest connections that have not said hello",
			);
			e.count = 0;
			e.loggedAt = now;
		}
	}

	/** `preHelloAddress`: the pool key when the connection starts in the pre-hello pool. */
	#onConnection(ws: WebSocket, req: IncomingMessage, authenticated: boolean, preHelloAddress: string | undefined): void {
		const o = this.options;
		const remote = req.socket.remoteAddress ?? "?";
		const conn = new Connection(ws, this.context, authenticated, remote, preHelloAddress === undefined ? o.helloTimeoutMs : o.preHelloTimeoutMs);
		this.#connections.add(conn);
		if (preHelloAddress !== undefined) {
			this.#preHello.add(conn, preHelloAddress);
			conn.whenBound(() => this.#preHello.remove(conn));
		}
		const onFrame = (data: RawData, isBinary: boolean) => {
			// A hello being handled must not be evicted or timed out under it (see Connection.busy).
			const early = conn.session === null;
			if (early) conn.frameStarted();
			const routed = routeFrame(this.context, conn, data, isBinary, () => this.closing).catch((err) => this.log.error({ err }, "router failed"));
			if (early) void routed.finally(() => conn.frameSettled());
		};
		// Frames held while the connection is throttled come back through the same path, in order.
		conn.gate = new InboundGate(ws, onFrame);
		ws.on("message", onFrame);
		ws.on("pong", () => {
			conn.alive = true;
		});
		ws.on("error", (err) => {
			// ws reports protocol errors (e.g. a frame over maxPayload: 1009) here and closes the socket itself.
			this.log.debug({ err: err.message, cid: conn.cid }, "socket error");
		});
		ws.on("close", () => {
			this.#connections.delete(conn);
			this.#preHello.remove(conn);
			conn.dispose();
			this.watches.drop(conn);
			this.presence.leave(conn, conn.leaving ?? "closed");
		});
	}

	// ----- fan-out ---------------------------------------------------------------------------------------

	#onFanout(event: FanoutEvent): void {
		if (event.kind === "session") this.presence.sessionSeen(event.room, event.session);
		else if (event.kind === "forget") this.presence.sessionForgotten(event.room, event.session, event.close);
		else if (event.kind === "state") this.watches.notify(event);
		else if (event.kind === "receipt") this.presence.deliverReceipt(event.room, event.to, event.receipt);
		else if (event.kind === "message") this.presence.deliver(event.message, event.recipients);
		else this.presence.receive(event);
		// The dashboard's live stream, only while someone watches (server/events.ts).
		if (this.events.sink && isRoomEvent(event)) this.events.sink(event);
	}

	/**
	 * A distributed fan-out reconnected: the events since `since` are gone, so what each stood for is made
	 * up. Every holder here reads the messages it missed; each room's audience is read again (sessions that
	 * joined or were forgotten on other hubs meanwhile); a holder forgotten on another hub is closed; watched
	 * state keys changed meanwhile are hinted again. Receipts and deletes leave nothing to read again: the
	 * resync push tells clients to ask, and the dashboard's stream to read its snapshot.
	 */
	#onFanoutResume(since: number): void {
		this.log.info({ since }, "fan-out resumed; connections catch up from the store");
		this.presence.catchUpAll();
		this.presence.reloadKnown();
		this.presence.closeForgotten().catch((err) => this.log.warn({ err }, "could not check the holders' records after the fan-out resumed"));
		this.watches.resync(this.store.state, since).then(
			(hinted) => this.log.debug({ hinted }, "state changes hinted again after the fan-out resumed"),
			(err) => this.log.warn({ err }, "could not hint state changes again after the fan-out resumed"),
		);
		this.events.sink?.({ kind: "resync", since });
		const resync = JSON.stringify({ type: "resync", since } satisfies ResyncPush);
		inSlices([...this.#connections], (conn) => {
			if (conn.session && conn.open) conn.sendText(resync);
		});
	}

	// ----- timers ----------------------------------------------------------------------------------------

	#startTimers(): void {
		const o = this.options;
		// The ws README heartbeat: whoever did not answer the last ping is gone. Pings go out in slices.
		const beat = (conn: Connection) => {
			if (!conn.alive) {
				conn.leaving ??= "timeout";
				conn.ws.terminate();
				return;
			}
			conn.alive = false;
			try {
				conn.ws.ping();
			} catch {
				// closed meanwhile
			}
		};
		const heartbeat = setInterval(() => inSlices([...this.#connections], beat), o.heartbeatMs);
		// A reader that stopped reading must not hold memory forever: drop it; its messages stay queued.
		const slow = setInterval(
			() => {
				const now = Date.now();
				for (const conn of this.#connections) {
					if (conn.isStalled(now, o.slowConsumerMs)) {
						this.log.warn({ cid: conn.cid, session: conn.session?.session, buffered: conn.ws.bufferedAmount }, "dropping slow consumer");
						this.metrics.slowConsumerDrops++;
						conn.leaving ??= "slow";
						conn.ws.terminate();
					}
				}
			},
			Math.min(1000, o.slowConsumerMs),
		);
		const retention = setInterval(() => void this.runRetention(), o.retentionIntervalMs);
		// Expired claims already count for nothing; this only frees their rows.
		const sweep = setInterval(() => {
			this.store.claims.sweep(Date.now()).catch((err) => this.log.warn({ err }, "claim sweep failed"));
		}, o.claimSweepIntervalMs);
		this.#timers = [heartbeat, slow, retention, sweep];
		for (const t of this.#timers) t.unref();
		void this.runRetention();
	}

	/**
	 * Deletes old messages (counting unread ones as lost for their recipients), then forgets sessions: named
	 * ones not seen for --forget-after-days, and ephemeral records a stopped hub left behind. Both are logged
	 * with the unread mail they took.
	 */
	async runRetention(now = Date.now()) {
		const o = this.options;
		const result = { deletedMessages: 0, lostDeliveries: 0, forgottenSessions: 0, forgottenDeliveries: 0 };
		if (o.retentionDays > 0 || o.retentionMaxMessages > 0) {
			try {
				const r = await this.store.applyRetention({
					olderThan: o.retentionDays > 0 ? now - o.retentionDays * 86_400_000 : undefined,
					maxPerRoom: o.retentionMaxMessages > 0 ? o.retentionMaxMessages : undefined,
				});
				Object.assign(result, r);
				if (r.deletedMessages > 0) this.log.info(r, "retention deleted old messages");
			} catch (err) {
				this.log.error({ err }, "retention failed");
			}
		}
		try {
			const r = await this.presence.forgetStale(now, o);
			result.forgottenSessions = r.named + r.ephemeral;
			result.forgottenDeliveries = r.pending;
			if (result.forgottenSessions > 0) {
				this.log.info(
					{ named: r.named, ephemeral: r.ephemeral, lostDeliveries: r.pending, withMail: r.withMail, forgetAfterDays: o.forgetAfterDays },
					"retention forgot sessions not seen for a while",
				);
			}
		} catch (err) {
			this.log.error({ err }, "session retention failed");
		}
		return result;
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
		this.turns.close();
		this.metrics.close();
		this.live.close();
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
		this.#accepts?.close();
		this.#http.closeAllConnections?.();
		await httpClosed;
		// Releases what is still held here (a graceful stop: the other hubs see these sessions leave at once).
		await this.presence.close().catch((err) => this.log.warn({ err }, "leaving the directory failed"));
		this.#unsubscribe?.();
		this.#unresume?.();
		await this.fanout.close();
		await this.store.close();
	}
}

const NO_ACCEPTS = Object.freeze({ waiting: 0, open: 0, requeued: 0, overflowed: 0 });

function stripUndefined<T extends object>(o: T): Partial<T> {
	return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
