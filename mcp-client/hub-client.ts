/**
 * The client side of the wire protocol, shared by the bridge, the test client, `claude-relay send`, the
 * hooks and the benchmark. It owns one WebSocket to the hub (through partysocket, the maintained fork of
 * reconnecting-websocket), says hello on every (re)connect, correlates replies to requests by id, and turns
 * every failure into a RelayError with a stable code and a sentence that says how to fix it.
 *
 * Reliability rules:
 * - No frame is ever written before hello succeeds on the current socket (partysocket's own send queue is
 *   disabled, since it would replay frames ahead of hello).
 * - Requests made while disconnected wait for the next hello, bounded by their timeout.
 * - Requests in flight when the socket drops are re-sent after the next hello if they are safe to repeat
 *   (everything but a consuming `inbox`); `send` carries an idempotency key so the hub stores it once.
 * - Pushed messages are deduplicated by id (the hub may replay a message it pushed before a reconnect).
 * - A silent dead link (a tunnel that stopped forwarding) is found by an application ping and reconnected.
 * - Several hubs (sharing one Redis) may be listed: the client talks to one at a time, and every new attempt
 *   after a lost connection or a failed one goes to the next URL in the list, at the same backoff and jitter.
 *   Moving loses nothing: in-flight requests are re-sent after the next hello (sends with their idempotency
 *   key, acks as they are), and the new hub replays what is unacked.
 */
import { EventEmitter } from "node:events";
import ReconnectingWebSocket from "partysocket/ws";
import WebSocket from "ws";
import { CloseCode, ErrorCode, RelayError } from "../server/errors.js";
import {
	HubFrame,
	type Message,
	newIdempotencyKey,
	type ParamsOf,
	type PeerInfo,
	type ReceiptPush,
	type RequestType,
	type ResultOf,
	type SessionMeta,
	type StateChangedPush,
} from "../server/protocol.js";

export interface SecretStore {
	load(room: string, session: string): string | undefined;
	save(room: string, session: string, secret: string): void;
	/** Deletes it (an ID this client released by renaming away from it). */
	remove?(room: string, session: string): void;
}

export interface HubClientOptions {
	/** The hub, or several hubs sharing one store: a list, or one string of comma-separated URLs. */
	url: string | readonly string[];
	session: string;
	room?: string;
	token?: string;
	meta?: SessionMeta;
	/** Attach beside the session's holder (hooks); see HelloRequest.observer. */
	observer?: boolean;
	/** The ID is this process's own (`<host>-<pid>`): the hub forgets it when the connection ends; see HelloRequest.ephemeral. */
	ephemeral?: boolean;
	/**
	 * Ask the hub for peer_joined / peer_left frames (HelloRequest.presence). Off unless set: only a client
	 * that shows joins live (the interactive test client) wants them; each listener costs the hub a frame per
	 * join and leave in its room.
	 */
	presence?: boolean;
	/** How many online peers the hello answer lists (HelloRequest.peers); absent: the hub's default. */
	helloPeers?: number;
	secrets?: SecretStore;
	/** Keep reconnecting (the bridge); false: one attempt per listed hub until one answers, then fail (CLI one-shots, hooks). */
	reconnect?: boolean;
	/** Bound on every request, including the wait for a connection. */
	requestTimeoutMs?: number;
	/** Bound on opening the socket. */
	connectTimeoutMs?: number;
	/** Application ping interval used to detect a dead link; 0 disables. */
	keepaliveMs?: number;
	/** Reconnect backoff: first retry is immediate, then min × 1.6^n, capped, plus up to 30% jitter. */
	minReconnectDelayMs?: number;
	maxReconnectDelayMs?: number;
	/** After a hello refused because the ID is held by a live session, wait this long before claiming again. */
	idTakenRetryMs?: number;
	/** This client's RELAY_HOME, only to name `<home>/token` in the sentence for a refused token. */
	home?: string;
}

export interface HubClientEvents {
	ready: [hello: ResultOf<"hello">];
	message: [message: Message];
	/** A recipient saw a message this session sent (the hub pushes `seen` receipts to the sender). */
	receipt: [receipt: Omit<ReceiptPush, "type">];
	/** `info.reason` is "renamed" (with `from`) when a live session took this ID. */
	peer_joined: [peer: PeerInfo, info: { reason?: string; from?: string }];
	/** `to`: the new ID, when `reason` is "renamed". */
	peer_left: [info: { session: string; room: string; reason: string; to?: string }];
	/** This client's session took another ID (rename): every later hello claims `to`. */
	renamed: [info: { from: string; to: string }];
	/** A key under a prefix this connection watches changed (watches end with the connection: re-send them). */
	state_changed: [change: StateChangedPush];
	/** The hub's fan-out from other hubs was away since `since`: a receipt or state push may be missing. */
	resync: [info: { since: number }];
	disconnected: [info: { code: number; reason: string }];
	/** Hello was refused for a reason retrying cannot fix (bad ID, bad token); the client stopped. */
	fatal: [error: RelayError];
	/** Hello was refused for now (the ID is held by a live session); the client retries every few seconds. */
	refused: [error: RelayError];
}

interface Pending {
	type: RequestType;
	frame: Record<string, unknown>;
	resolve: (value: unknown) => void;
	reject: (err: RelayError) => void;
	timer: NodeJS.Timeout;
	/** Safe to send again after a reconnect. */
	repeatable: boolean;
	/** Written on the current socket (false: waiting for hello). */
	sent: boolean;
	/** Written on some socket at least once: the hub may have applied it. */
	written: boolean;
}

const DEDUPE_WINDOW = 10_000;
/**
 * State writes are not sent again after a reconnect: one that was applied before the connection dropped
 * would be applied twice (an append) or fail its compare-and-set against itself (a set), which a retry loop
 * would take for another writer's change. The caller gets E_TIMEOUT ("may have been applied") instead.
 */
const NOT_REPEATABLE: ReadonlySet<RequestType> = new Set(["state_set", "state_append", "state_delete", "rename"]);
/** Pause before re-sending a request the hub refused with E_RATE_LIMITED. */
const RATE_LIMIT_BACKOFF_MS = 250;


/**
 * The sentence for a hub that refused this client's token (HTTP 401 at the upgrade, or E_AUTH / close 4001
 * at hello): what happened, and where the client reads a token from, so the fix is one step.
 */
export function authHint(url: string, hadToken: boolean, home?: string): string {
	const file = home ? `${home.replace(/\/+$/, "")}/token` : "$RELAY_HOME/token";
	const what = hadToken ? `The hub at ${url} refused the token: it is not the hub's token.` : `The hub at ${url} requires a token and none was given.`;
	return `${what} Use the token the hub was started with (its --token-file or RELAY_TOKEN): set RELAY_TOKEN, pass --token-file FILE, or put it in ${file} (mode 600).`;
}

/** The HTTP status of a refused upgrade, from ws's error ("Unexpected server response: 401"). */
function upgradeStatus(message: string): number | undefined {
	const m = /Unexpected server response: (\d{3})/.exec(message);
	return m ? Number(m[1]) : undefined;
}

export function unreachableHint(url: string | readonly string[]): string {
	const urls = typeof url === "string" ? url.split(",").map((u) => u.trim()).filter(Boolean) : [...url];
	const first = urls[0] ?? "";
	const where = urls.length > 1 ? `any of the relay hubs at ${urls.join(", ")}` : `the relay hub at ${first}`;
	return `Cannot reach ${where}. Is the hub running (\`claude-relay hub\`, or \`curl ${first.replace(/^ws/, "http")}/healthz\`)? If it runs on another machine, is the SSH tunnel up (\`claude-relay tunnel user@host\`)?`;
}

export class HubClient extends EventEmitter<HubClientEvents> {
	/** Every hub this client may use, in the order it tries them. */
	readonly urls: readonly string[];
	/** The ID this client claims (changed by rename and switchSession). */
	session: string;
	readonly room: string;
	/** The last hello reply on the current connection (null while not ready). */
	hello: ResultOf<"hello"> | null = null;
	/** Last failure, with the sentence a person needs; cleared on the next successful hello. */
	lastError: RelayError | null = null;
	/** Round-trip time of the last keepalive ping, ms. */
	rttMs: number | null = null;
	connectedSince: number | null = null;

	readonly #opts: Required<Omit<HubClientOptions, "token" | "meta" | "secrets" | "room" | "home" | "presence" | "helloPeers">> & HubClientOptions;
	readonly #socket: ReconnectingWebSocket;
	readonly #pending = new Map<string, Pending>();
	readonly #seen = new Set<string>();
	#nextId = 1;
	#closed = false;
	#keepalive: NodeJS.Timeout | undefined;
	#everReady = false;
	#retryTimer: NodeJS.Timeout | undefined;
	/** The URL of the current (or last) connection attempt, in `urls`. */
	#urlIndex = 0;
	#attempts = 0;
	/** Connection attempts that ended without a hello since the last hello. */
	#failedAttempts = 0;

	constructor(options: HubClientOptions) {
		super();
		this.#opts = {
			room: "default",
			observer: false,
			ephemeral: false,
			reconnect: true,
			requestTimeoutMs: 10_000,
			connectTimeoutMs: 4_000,
			keepaliveMs: 15_000,
			minReconnectDelayMs: 250,
			maxReconnectDelayMs: 10_000,
			idTakenRetryMs: 5_000,
			...options,
		};
		const list = typeof options.url === "string" ? options.url.split(",") : options.url;
		this.urls = list.map((u) => u.trim()).filter(Boolean);
		if (this.urls.length === 0) throw new RelayError(ErrorCode.UNREACHABLE, "No hub URL given.");
		this.session = options.session;
		this.room = options.room ?? "default";
		const o = this.#opts;
		const client = this;
		// partysocket reports a refused upgrade as a close (1000) first and the error after it, so the close
		// handler could not tell "401: wrong token" from "hub down". A listener added here, in the socket's
		// constructor, runs before partysocket's own (added after construction) and records why.
		const Socket = class extends WebSocket {
			constructor(address: string | URL, protocols?: string | string[]) {
				super(address, protocols);
				this.on("error", (err: Error) => {
					client.#upgradeStatus = upgradeStatus(err.message);
				});
			}
		};
		this.#socket = new ReconnectingWebSocket(() => this.#nextUrl(), undefined, {
			WebSocket: Socket,
			minReconnectionDelay: o.minReconnectDelayMs,
			maxReconnectionDelay: o.maxReconnectDelayMs,
			reconnectionDelayGrowFactor: 1.6,
			connectionTimeout: o.connectTimeoutMs,
			maxRetries: o.reconnect ? Number.POSITIVE_INFINITY : this.urls.length - 1,
			maxEnqueuedMessages: 0,
			minUptime: 2_000,
		});
		this.#socket.addEventListener("open", () => this.#onOpen());
		this.#socket.addEventListener("message", (ev) => this.#onFrame(String(ev.data)));
		this.#socket.addEventListener("close", (ev) => this.#onClose(ev.code, ev.reason));
		this.#socket.addEventListener("error", (ev) => {
			if (this.#fatal) return;
			const msg = (ev as { message?: string }).message ?? "socket error";
			this.lastError = new RelayError(ErrorCode.UNREACHABLE, `${unreachableHint(this.urls)} (${this.urls.length > 1 ? `${this.url}: ` : ""}${msg})`);
			if (!o.reconnect && this.#triedAll) this.#failAll(this.lastError);
		});
	}

	get ready(): boolean {
		return this.hello !== null;
	}

	/**
	 * Connection attempts that ended without a hello since the last one succeeded: once it reaches
	 * `urls.length`, every listed hub has been tried and none let this client in.
	 */
	get failedAttempts(): number {
		return this.#failedAttempts;
	}

	/** Every listed hub has had an attempt (what ends a one-shot client's tries). */
	get #triedAll(): boolean {
		return this.#attempts >= this.urls.length;
	}

	/** The hub of the current connection (or of the last attempt). */
	get url(): string {
		return this.urls[this.#urlIndex] ?? this.urls[0] ?? "";
	}

	/** Resolves with the hello reply once connected (at once if already), or rejects after the bound. */
	waitReady(timeoutMs = this.#opts.requestTimeoutMs): Promise<ResultOf<"hello">> {
		if (this.hello) return Promise.resolve(this.hello);
		if (this.#closed) return Promise.reject(this.lastError ?? new RelayError(ErrorCode.UNREACHABLE, "The relay client is closed."));
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				cleanup();
				reject(this.lastError?.code === ErrorCode.UNREACHABLE || !this.lastError ? new RelayError(ErrorCode.UNREACHABLE, unreachableHint(this.urls)) : this.lastError);
			}, timeoutMs);
			const onReady = (h: ResultOf<"hello">) => {
				cleanup();
				resolve(h);
			};
			const onFatal = (e: RelayError) => {
				cleanup();
				reject(e);
			};
			const onRefused = onFatal;
			const onClosedOnce = () => {
				if (!this.#opts.reconnect && !this.hello && this.#triedAll) {
					cleanup();
					reject(this.lastError ?? new RelayError(ErrorCode.UNREACHABLE, unreachableHint(this.urls)));
				}
			};
			const cleanup = () => {
				clearTimeout(timer);
				this.off("ready", onReady);
				this.off("fatal", onFatal);
				this.off("refused", onRefused);
				this.off("disconnected", onClosedOnce);
			};
			this.on("ready", onReady);
			this.on("fatal", onFatal);
			this.on("refused", onRefused);
			this.on("disconnected", onClosedOnce);
		});
	}

	/** One request, answered or failed within `timeoutMs` (a RelayError with a stable code). */
	request<T extends RequestType>(type: T, params: ParamsOf<T>, opts: { timeoutMs?: number } = {}): Promise<ResultOf<T>> {
		if (this.#closed) return Promise.reject(new RelayError(ErrorCode.UNREACHABLE, "The relay client is closed."));
		const id = `${this.#nextId++}`;
		const frame = { type, id, ...params } as Record<string, unknown>;
		// A consuming inbox may have acked what it read, a state write may have been applied (a second append
		// doubles, a second compare-and-set conflicts with itself), and a rename's answer carries the new ID's
		// only copy of its secret: none is sent again after a reconnect (the caller is told it may have been applied).
		const repeatable = !(type === "inbox" && !(params as ParamsOf<"inbox">).peek) && !NOT_REPEATABLE.has(type);
		const timeoutMs = opts.timeoutMs ?? this.#opts.requestTimeoutMs;
		return new Promise<ResultOf<T>>((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				const seconds = Math.round(timeoutMs / 1000);
				// Once a request has been written, the hub may have applied it even if its answer never came
				// back (e.g. the connection dropped right after): say so, rather than "never reached".
				reject(
					entry.written
						? new RelayError(ErrorCode.TIMEOUT, `The hub did not answer ${type} within ${seconds} s; it may or may not have been applied.`)
						: new RelayError(ErrorCode.UNREACHABLE, `${unreachableHint(this.urls)} (no connection within ${seconds} s)`),
				);
			}, timeoutMs);
			const entry: Pending = { type, frame, resolve: resolve as (v: unknown) => void, reject, timer, repeatable, sent: false, written: false };
			this.#pending.set(id, entry);
			if (this.ready) this.#write(entry);
		});
	}

	/** Sends a message; the idempotency key makes a retry after a reconnect safe. `to`: an ID, `*`, `#topic` or a list. */
	send(to: string | string[], body: string, opts: { replyTo?: string; key?: string; timeoutMs?: number } = {}): Promise<ResultOf<"send">> {
		const params: ParamsOf<"send"> = { to, body, key: opts.key ?? newIdempotencyKey() };
		if (opts.replyTo) params.replyTo = opts.replyTo;
		return this.request("send", params, opts);
	}

	ack(ids: string[]): Promise<ResultOf<"ack">> {
		return this.request("ack", { ids });
	}

	/** Stops reconnecting, says bye if connected (bounded), and closes the socket. */
	async close(opts: { bye?: boolean; timeoutMs?: number } = {}): Promise<void> {
		if (this.#closed) return;
		if (opts.bye !== false && this.ready) {
			await this.request("bye", {}, { timeoutMs: opts.timeoutMs ?? 1_000 }).catch(() => undefined);
		}
		this.#closed = true;
		this.#stopKeepalive();
		clearTimeout(this.#retryTimer);
		this.#failAll(new RelayError(ErrorCode.UNREACHABLE, "The relay client is closed."));
		this.#socket.close(1000, "client closing");
		this.hello = null;
	}

	/**
	 * Claims another ID from now on (a nested run taking `<ID>-bg<n>`): reconnects at once with it. Only
	 * while not ready (a refused hello); a session that holds its ID renames instead.
	 */
	switchSession(session: string, opts: { ephemeral: boolean; secrets?: SecretStore }): void {
		if (this.#closed) return;
		this.session = session;
		this.#opts.ephemeral = opts.ephemeral;
		if (opts.secrets) this.#opts.secrets = opts.secrets;
		clearTimeout(this.#retryTimer);
		this.reconnect();
	}

	/**
	 * The live session takes the ID `to` (the `rename` request): its new secret is stored, and every later
	 * hello claims `to`. `secret`: the stored secret of `to`, if this client owned that ID before.
	 */
	async rename(to: string, opts: { secrets?: SecretStore } = {}): Promise<ResultOf<"rename">> {
		const secrets = opts.secrets ?? this.#opts.secrets;
		const secret = secrets?.load(this.room, to);
		const result = await this.request("rename", { to, ...(secret ? { secret } : {}) });
		const from = this.session;
		if (opts.secrets) this.#opts.secrets = opts.secrets;
		if (result.secret) this.#opts.secrets?.save(this.room, result.session, result.secret);
		this.session = result.session;
		// A renamed session is named (the hub decided so): later hellos must not ask for an ephemeral one.
		this.#opts.ephemeral = false;
		if (this.hello) this.hello = { ...this.hello, session: result.session, ephemeral: false };
		this.emit("renamed", { from, to: result.session });
		return result;
	}

	/** Forces a reconnect (e.g. after a keepalive timeout). */
	reconnect(): void {
		if (!this.#closed) this.#socket.reconnect(4000, "client reconnecting");
	}

	// ----- internals -------------------------------------------------------------------------------------

	async #nextUrl(): Promise<string> {
		// partysocket has no jitter: add up to 30% of the current backoff here, so that many bridges
		// restarting with the hub do not reconnect in lockstep.
		const retry = this.#socket?.retryCount ?? 0;
		if (retry > 1) {
			const base = Math.min(this.#opts.maxReconnectDelayMs, this.#opts.minReconnectDelayMs * 1.6 ** (retry - 1));
			await new Promise((r) => setTimeout(r, Math.random() * 0.3 * base));
		}
		// Every attempt after the first goes to the next hub: the one before died, refused the upgrade, or
		// closed (a hub stopping, a dead link), and another hub sharing the store serves the same session.
		if (this.#attempts++ > 0) this.#urlIndex = (this.#urlIndex + 1) % this.urls.length;
		if (!this.#opts.token) return this.url;
		const u = new URL(this.url);
		u.searchParams.set("token", this.#opts.token);
		return u.toString();
	}

	#write(entry: Pending): void {
		const text = JSON.stringify(entry.frame);
		const refused = this.#overLimits(entry, text);
		if (refused) {
			// Never written: the hub would answer E_TOO_LARGE, or close the socket (1009) past its hard ceiling.
			clearTimeout(entry.timer);
			this.#pending.delete(String(entry.frame.id));
			entry.reject(refused);
			return;
		}
		entry.sent = true;
		entry.written = true;
		this.#socket.send(text);
	}

	/** The hub's own limits (from hello), checked before a frame goes out; null when it is within them. */
	#overLimits(entry: Pending, text: string): RelayError | null {
		const hub = this.hello?.hub;
		if (!hub) return null;
		// A UTF-16 code unit is at most 3 bytes of UTF-8: only long strings need counting.
		const body = entry.type === "send" ? String(entry.frame.body ?? "") : "";
		if (body.length * 3 > hub.maxBodyBytes) {
			const bytes = Buffer.byteLength(body, "utf8");
			if (bytes > hub.maxBodyBytes)
				return new RelayError(
					ErrorCode.TOO_LARGE,
					`Message body of ${bytes} bytes is over the hub's ${hub.maxBodyBytes}-byte limit; split it or send a file path.`,
				);
		}
		if (text.length * 3 > hub.maxFrameBytes) {
			const bytes = Buffer.byteLength(text, "utf8");
			if (bytes > hub.maxFrameBytes)
				return new RelayError(
					ErrorCode.TOO_LARGE,
					`The ${entry.type} request is ${bytes} bytes as a frame (escaped JSON), over the hub's ${hub.maxFrameBytes}-byte limit; ${entry.type === "send" ? "split the message or send a file path" : "make it smaller"}.`,
				);
		}
		return null;
	}

	#onOpen(): void {
		const o = this.#opts;
		const secret = o.secrets?.load(this.room, this.session);
		const hello: Record<string, unknown> = { type: "hello", id: `hello-${this.#nextId++}`, session: this.session, room: this.room };
		if (o.token) hello.token = o.token;
		if (secret) hello.secret = secret;
		if (o.meta) hello.meta = o.meta;
		if (o.observer) hello.observer = true;
		if (o.ephemeral) hello.ephemeral = true;
		hello.presence = o.presence === true;
		if (o.helloPeers !== undefined) hello.peers = o.helloPeers;
		const timer = setTimeout(() => {
			this.#pending.delete(hello.id as string);
			this.lastError = new RelayError(ErrorCode.TIMEOUT, "The hub accepted the connection but did not answer hello.");
			this.reconnect();
		}, o.requestTimeoutMs);
		const entry: Pending = {
			type: "hello",
			frame: hello,
			timer,
			repeatable: false,
			sent: true,
			written: true,
			resolve: (value) => this.#onHello(value as ResultOf<"hello">),
			reject: (err) => this.#onHelloRefused(err),
		};
		this.#pending.set(hello.id as string, entry);
		this.#socket.send(JSON.stringify(hello));
	}

	#onHello(hello: ResultOf<"hello">): void {
		if (hello.secret) this.#opts.secrets?.save(this.room, this.session, hello.secret);
		this.hello = hello;
		this.lastError = null;
		this.connectedSince = Date.now();
		this.#everReady = true;
		this.#failedAttempts = 0;
		// Requests that were in flight on the old socket, or made while disconnected, go out now.
		for (const entry of this.#pending.values()) if (!entry.sent) this.#write(entry);
		this.#startKeepalive();
		this.emit("ready", hello);
	}

	#onHelloRefused(refusal: RelayError): void {
		// The hub's own words ("This hub requires a token.") say what, not how to fix it: say both.
		const err = refusal.code === ErrorCode.AUTH ? new RelayError(ErrorCode.AUTH, authHint(this.url, this.#opts.token !== undefined, this.#opts.home)) : refusal;
		this.lastError = err;
		// A wrong token or an invalid ID will not fix itself: stop. An ID held by a live session may free up
		// (the other session ends), so keep retrying at the backoff's pace.
		// A full room does not empty by itself either (until someone forgets sessions there).
		if (
			err.code === ErrorCode.AUTH ||
			err.code === ErrorCode.BAD_ID ||
			err.code === ErrorCode.NOT_REGISTERED ||
			err.code === ErrorCode.ROOM_FULL ||
			!this.#opts.reconnect
		) {
			this.#stopFatally(err);
			return;
		}
		// The socket is open but useless without a session: try again later on a fresh connection. The timer is
		// set before the event, so a listener that switches the ID (switchSession) can clear it.
		clearTimeout(this.#retryTimer);
		this.#retryTimer = setTimeout(() => this.reconnect(), this.#opts.idTakenRetryMs);
		this.#retryTimer.unref();
		this.emit("refused", err);
	}

	#onFrame(text: string): void {
		let frame: HubFrame;
		try {
			const parsed = HubFrame.safeParse(JSON.parse(text));
			if (!parsed.success) return;
			frame = parsed.data;
		} catch {
			return;
		}
		switch (frame.type) {
			case "result":
			case "error": {
				if (frame.id === null) {
					if (frame.type === "error") this.lastError = new RelayError(frame.code as ErrorCode, frame.message);
					return;
				}
				const entry = this.#pending.get(String(frame.id));
				if (!entry) return;
				if (frame.type === "error" && frame.code === ErrorCode.RATE_LIMITED && entry.repeatable) {
					// The hub did not apply it: slow down and send it again, still within the request's own
					// bound (its timer keeps running and ends the wait if the hub stays busy).
					setTimeout(() => {
						if (this.#pending.get(String(frame.id)) === entry && this.ready) this.#write(entry);
					}, RATE_LIMIT_BACKOFF_MS).unref();
					return;
				}
				this.#pending.delete(String(frame.id));
				clearTimeout(entry.timer);
				if (frame.type === "result") entry.resolve(frame.result);
				else entry.reject(new RelayError(frame.code as ErrorCode, frame.message, frame.details));
				return;
			}
			case "message": {
				const id = frame.message.id;
				if (this.#seen.has(id)) return;
				this.#seen.add(id);
				if (this.#seen.size > DEDUPE_WINDOW) {
					const oldest = this.#seen.values().next().value;
					if (oldest !== undefined) this.#seen.delete(oldest);
				}
				this.emit("message", frame.message);
				return;
			}
			case "receipt": {
				const { type: _type, ...receipt } = frame;
				this.emit("receipt", receipt);
				return;
			}
			case "peer_joined":
				this.emit("peer_joined", frame.peer, { ...(frame.reason ? { reason: frame.reason } : {}), ...(frame.from ? { from: frame.from } : {}) });
				return;
			case "peer_left":
				this.emit("peer_left", frame);
				return;
			case "state_changed":
				this.emit("state_changed", frame);
				return;
			case "resync":
				this.emit("resync", { since: frame.since });
				return;
			case "shutdown":
				this.lastError = new RelayError(ErrorCode.SHUTTING_DOWN, `The hub is shutting down (${frame.reason}); reconnecting.`);
				return;
		}
	}

	#onClose(code: number, reason: string): void {
		const wasReady = this.hello !== null;
		if (!wasReady) this.#failedAttempts++;
		this.hello = null;
		this.connectedSince = null;
		this.#stopKeepalive();
		const refusedWith = this.#upgradeStatus;
		this.#upgradeStatus = undefined;
		if (refusedWith === 401) {
			// The hub is there and refused the token at the upgrade. Retrying with the same token cannot help,
			// and "is the hub running?" would send the person the wrong way.
			this.#stopFatally(new RelayError(ErrorCode.AUTH, authHint(this.url, this.#opts.token !== undefined, this.#opts.home)));
		} else if (code === CloseCode.AUTH) {
			// Normally the hello's E_AUTH came first and already stopped the client; a close alone says the same.
			if (!this.#fatal) this.#stopFatally(new RelayError(ErrorCode.AUTH, authHint(this.url, this.#opts.token !== undefined, this.#opts.home)));
		} else if (refusedWith === 403) {
			// The hub's Host/Origin check (server/origin.ts): the same URL will be refused again.
			this.#stopFatally(
				new RelayError(
					ErrorCode.AUTH,
					`The hub at ${this.url} refused this connection (HTTP 403): the host name in the URL is not one it answers to. Use localhost or 127.0.0.1 (through a tunnel: its local end), or start the hub with --allow-host NAME.`,
				),
			);
		} else if (code === CloseCode.FORGOTTEN) {
			// Claiming the ID again would make a new session of it, which is what forgetting it was meant to end.
			this.#stopFatally(
				new RelayError(
					ErrorCode.NOT_REGISTERED,
					`The hub forgot session ${this.session} (claude-relay sessions forget); this client stopped. Start the session again to claim the ID anew.`,
				),
			);
		} else if (wasReady && !this.lastError) {
			this.lastError = new RelayError(ErrorCode.UNREACHABLE, `Lost the connection to the hub at ${this.url} (${code}${reason ? ` ${reason}` : ""}); reconnecting.`);
		}
		// What was written on the dead socket is sent again after the next hello if that is safe.
		for (const [id, entry] of this.#pending) {
			if (!entry.sent) continue;
			if (entry.type === "hello") {
				clearTimeout(entry.timer);
				this.#pending.delete(id);
			} else if (entry.repeatable && this.#opts.reconnect) {
				entry.sent = false;
			} else {
				clearTimeout(entry.timer);
				this.#pending.delete(id);
				// A consuming inbox, state writes and a rename are not repeatable: the hub may have applied them, and
				// that answer is gone. Say so plainly; callers that cannot afford it read with peek + ack instead.
				entry.reject(
					new RelayError(
						ErrorCode.TIMEOUT,
						entry.type === "rename"
							? `The connection dropped before the hub answered the rename to ${String(entry.frame.to)}; it may have been applied, and then that ID's secret is lost with the answer and this client is back under its old ID with none of its mail. Check relay_sessions: if ${String(entry.frame.to)} exists, forget it with the hub token (claude-relay sessions forget ${String(entry.frame.to)}) and rename again.`
							: entry.type === "inbox"
								? `The connection dropped before the hub answered ${entry.type}; it may have been applied (a consuming inbox may have acked messages: read them back with history).`
								: `The connection dropped before the hub answered ${entry.type}; it may have been applied: read the key back before writing it again.`,
					),
				);
			}
		}
		// A one-shot client that has not reached any hub yet tries the next listed one (partysocket retries).
		if (!this.#opts.reconnect && !this.#closed && (wasReady || this.#triedAll)) {
			this.#closed = true;
			this.#failAll(this.lastError ?? new RelayError(ErrorCode.UNREACHABLE, unreachableHint(this.urls)));
			this.#socket.close();
		}
		this.emit("disconnected", { code, reason });
	}

	#fatal = false;
	/** The HTTP status of the last refused upgrade (set by the socket's own error listener, read at close). */
	#upgradeStatus: number | undefined;

	/** A refusal retrying cannot fix (bad token, invalid ID): stop for good, fail everything, tell once. */
	#stopFatally(err: RelayError): void {
		this.lastError = err;
		if (this.#fatal) return;
		this.#fatal = true;
		this.#closed = true;
		this.#stopKeepalive();
		clearTimeout(this.#retryTimer);
		this.#failAll(err);
		this.#socket.close(1000, "refused");
		this.emit("fatal", err);
	}

	#failAll(err: RelayError): void {
		for (const [id, entry] of this.#pending) {
			clearTimeout(entry.timer);
			this.#pending.delete(id);
			entry.reject(err);
		}
	}

	#startKeepalive(): void {
		this.#stopKeepalive();
		const every = this.#opts.keepaliveMs;
		if (!every) return;
		this.#keepalive = setInterval(() => {
			const started = Date.now();
			this.request("ping", {}, { timeoutMs: Math.min(every, 10_000) }).then(
				() => {
					this.rttMs = Date.now() - started;
				},
				() => {
					if (!this.#closed && this.ready) this.reconnect();
				},
			);
		}, every);
		this.#keepalive.unref();
	}

	#stopKeepalive(): void {
		if (this.#keepalive) clearInterval(this.#keepalive);
		this.#keepalive = undefined;
	}

	/** True once a hello has ever succeeded (distinguishes "never reached" from "lost"). */
	get everConnected(): boolean {
		return this.#everReady;
	}

	/** Measures one application round trip now. */
	async ping(timeoutMs = 5_000): Promise<number> {
		const started = Date.now();
		await this.request("ping", {}, { timeoutMs });
		this.rttMs = Date.now() - started;
		return this.rttMs;
	}
}
