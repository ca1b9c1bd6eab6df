/**
 * The bridge's live connection to the hub, loaded after the MCP handshake (it pulls in ws and partysocket):
 * the HubClient, the local hold of pushed messages, loss-proof receive and wait, the acks, and the
 * session's entry in the sessions registry.
 *
 * Receive is peek-then-ack: read the oldest unacked messages with `inbox {peek: true}`, hand them to the
 * model, then `ack` exactly those ids. The consuming `inbox` would lose its page if the reply were lost in
 * a reconnect; this way the worst case is a message shown again after the bridge itself died, never one
 * that disappears. An ack is what the hub reports as `seen`, so a tool's acks go out only once its result
 * (which hands the messages to the model) has been written (`shown`, from BridgeContext.afterReply).
 */
import { ErrorCode, RelayError } from "../server/errors.js";
import { paths } from "../server/paths.js";
import {
	type Message,
	newIdempotencyKey,
	type ParamsOf,
	parseTarget,
	type Receipt,
	type RequestType,
	type ResultOf,
	type SessionMeta,
	type StateChangedPush,
} from "../server/protocol.js";
import { HubClient, type SecretStore, unreachableHint } from "./hub-client.js";
import { gitBranch } from "./identity.js";
import { LocalInbox } from "./inbox.js";
import type { BridgeLog } from "./log.js";
import { backgroundId, heldByAncestor, type Holder, MAX_BG } from "./nested.js";
import { MemorySecretStore } from "./secrets.js";

export interface HubLinkOptions {
	url: string;
	session: string;
	room: string;
	token: string | undefined;
	home: string;
	meta: SessionMeta;
	secrets: SecretStore;
	log: BridgeLog;
	claudeSessionId: string | undefined;
	/**
	 * The ID is this bridge's own `<host>-<pid>`, which nothing will claim again: the hub forgets it when
	 * this bridge's connection ends, and it is kept out of the sessions registry.
	 */
	ephemeral?: boolean;
	/**
	 * Nested runs (nested.ts): `allowBackground` when the ID came from the environment, which a nested run
	 * inherits without choosing it; `clientIdFlag`, the bridge's --client-id, which such a run claims instead
	 * of `<ID>-bg<n>` (an explicit choice still wins). Absent: never switch.
	 */
	nested?: { allowBackground: boolean; clientIdFlag?: string | undefined };
	/** The file-backed secret store, for an ephemeral session that renames itself to a named ID. */
	fileSecrets?: () => SecretStore & { remove?(room: string, session: string): void };
	/** Bound on each hub request (default 10 s). */
	requestTimeoutMs?: number;
	/** How long a tool waits for a connection that is not up yet before saying the hub is unreachable. */
	connectWaitMs?: number;
	/** Topics to subscribe to once connected (--topics / RELAY_TOPICS); subscriptions are kept by the hub. */
	topics?: readonly string[];
}

/** What a relay_wait or relay_ask in progress takes (every field that is set must match). */
export interface WaitFilter {
	from?: string;
	/** Only replies to this message. */
	replyTo?: string;
	/** Only from one of these sessions. */
	senders?: ReadonlySet<string>;
}

function matches(f: WaitFilter, m: Message): boolean {
	return (f.from === undefined || m.from === f.from) && (f.replyTo === undefined || m.replyTo === f.replyTo) && (!f.senders || f.senders.has(m.from));
}

export interface AskResult {
	question: ResultOf<"send">;
	/** The reply, or null on timeout (then `receipts` says where the question is). */
	reply: WaitResult;
	receipts: Receipt[] | null;
}

export interface ReceiveResult {
	messages: Message[];
	/** Unacked messages still waiting after these (at the hub; or held here when `source` is "local"). */
	remaining: number;
	/** "hub": read from the hub; "local": the hub was unreachable, these were held by the bridge. */
	source: "hub" | "local";
	/** Acks that could not be sent yet: they go out after the next reconnect. */
	acksQueued: number;
}

export interface WaitResult {
	message: Message | null;
	/** Messages still waiting after this one (null when unknown). */
	remaining: number | null;
	source: "hub" | "local" | null;
	acksQueued: number;
}

const REGISTRY_REFRESH_MS = 60_000;
/** State changes held for relay_wait; past it the oldest go (counted in `stateDropped`). */
const STATE_CHANGES_HELD = 200;
/** Keys whose last hint is remembered, so that the same change hinted again (after a resync) is not news. */
const STATE_HINTS_REMEMBERED = 1_000;
/** How many unread replies relay_ask looks at for one from the addressees. */
const WAIT_PAGE = 20;
/** How long receive waits for a reconnect before handing over what the bridge holds. */
const HELD_CONNECT_WAIT_MS = 1_000;

export class HubLink {
	readonly client: HubClient;
	readonly inbox = new LocalInbox();
	readonly options: HubLinkOptions;
	/** Set when the client stopped for good (bad token, invalid ID): every tool reports it. */
	fatal: RelayError | null = null;
	/** Unread messages of this session that the hub's retention deleted, as reported at each hello. */
	lost = 0;
	readonly #log: BridgeLog;
	readonly #registry: RegistrySync;
	#flushing: Promise<void> | null = null;
	/** The relay_wait and relay_ask calls in progress (their filters): a message one of them wants is not pushed. */
	readonly #waits = new Set<WaitFilter>();
	/** Topics still to subscribe to (the configured ones, until the hub has them). */
	readonly #toSubscribe: Set<string>;
	readonly #waitEndListeners = new Set<() => void>();
	/** State prefixes this session watches: the hub forgets them with the connection, so they are re-sent. */
	readonly #watches = new Set<string>();
	/** Changes by other sessions under a watched prefix, oldest first, until relay_wait takes them. */
	readonly #stateChanges: StateChangedPush[] = [];
	readonly #stateListeners = new Set<() => void>();
	/** room/key → `version@updatedAt@deleted` of its last hint, oldest first (at most STATE_HINTS_REMEMBERED). */
	readonly #lastHint = new Map<string, string>();
	/** Changes dropped because more than STATE_CHANGES_HELD waited. */
	stateDropped = 0;
	/** The ID is forgotten by the hub when this connection ends (`<host>-<pid>`, `<ID>-bg<n>`). */
	#ephemeral: boolean;
	#secrets: SecretStore & { remove?(room: string, session: string): void };
	/** Set when this is a nested run that claimed another ID than its own (see nested.ts). */
	nested: { base: string; holder: Holder; via: "background" | "--client-id"; n: number } | null = null;
	/** The ID this session had before relay_rename, if it renamed itself. */
	renamedFrom: string | null = null;

	constructor(options: HubLinkOptions) {
		this.options = options;
		this.#log = options.log;
		this.client = new HubClient({
			url: options.url,
			session: options.session,
			room: options.room,
			token: options.token,
			home: options.home,
			meta: options.meta,
			secrets: options.secrets,
			ephemeral: options.ephemeral === true,
			// Who is online is asked when the model wants it (relay_peers), not at every (re)connect: a hello
			// answer with no peer list costs the hub and the bridge the same in a room of 10,000 as of 2.
			helloPeers: 0,
			reconnect: true,
			requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
		});
		this.#ephemeral = options.ephemeral === true;
		this.#secrets = options.secrets;
		this.#registry = new RegistrySync(options, this.#log, () => ({ session: this.client.session, ephemeral: this.#ephemeral }));
		this.#toSubscribe = new Set(options.topics ?? []);
		const c = this.client;
		c.on("ready", (hello) => {
			this.#log.info(
				{
					url: options.url,
					room: hello.room,
					pending: hello.pending,
					lost: hello.lost,
					peers: hello.peersTotal ?? hello.peers.length,
				},
				"connected to the hub",
			);
			this.lost += hello.lost;
			if (hello.lost > 0)
				this.#log.warn(
					{ lost: hello.lost },
					"the hub's retention deleted unread messages for this session",
				);
			void this.flushAcks().catch(() => undefined);
			void this.#subscribeConfigured(hello.topics ?? []);
			this.#registry.online();
			for (const prefix of this.#watches) {
				this.client.request("watch", { prefix }).catch((err) => this.#log.warn({ prefix, error: (err as Error).message }, "could not watch again after reconnecting"));
			}
		});
		c.on("state_changed", (change) => {
			// Its own writes are no news to this session.
			if (change.updatedBy === options.session) return;
			// The hub hints changes again after its fan-out was away (resync): the same change twice is one.
			const id = `${change.room}\u0000${change.key}`;
			const hint = `${change.version}@${change.updatedAt}@${change.deleted}`;
			if (this.#lastHint.get(id) === hint) return;
			this.#lastHint.delete(id);
			this.#lastHint.set(id, hint);
			if (this.#lastHint.size > STATE_HINTS_REMEMBERED) this.#lastHint.delete(this.#lastHint.keys().next().value as string);
			this.#stateChanges.push(change);
			if (this.#stateChanges.length > STATE_CHANGES_HELD) {
				this.#stateChanges.shift();
				this.stateDropped++;
			}
			for (const listener of this.#stateListeners) listener();
		});
		c.on("message", (m) => {
			if (this.inbox.wasHanded(m.id)) {
				// Re-delivered after its ack was lost: the model has it already.
				this.inbox.reack(m.id);
				void this.flushAcks().catch(() => undefined);
				return;
			}
			// Being pushed to the session right now: acked once written.
			if (this.inbox.isPushing(m.id)) return;
			if (!this.inbox.add(m))
				this.#log.debug(
					{ id: m.id },
					"push not held (hold full or already held); it stays unacked at the hub",
				);
		});
		let failures = 0;
		c.on("ready", () => {
			failures = 0;
		});
		c.on("disconnected", ({ code, reason }) => {
			// The first failure is worth a warning; every retry after it, only at debug (the hub may be down for hours).
			const level = failures++ === 0 ? "warn" : "debug";
			this.#log[level](
				{ code, reason, error: c.lastError?.message, attempt: failures },
				"disconnected from the hub; reconnecting",
			);
			// The branch may have changed while connected: the next hello says the current one.
			options.meta.branch = refreshBranch(options.meta);
			this.#registry.offline();
		});
		c.on("refused", (err) => {
			if (this.#nestedSwitch(err)) return;
			// The ID is held by a live session; the client claims it again every few seconds.
			this.#log[failures++ === 0 ? "warn" : "debug"](
				{ code: err.code, error: err.message },
				"the hub refused this session ID for now; retrying",
			);
		});
		c.on("fatal", (err) => {
			this.fatal = err;
			this.#log.error(
				{ code: err.code, error: err.message },
				"the hub refused this session; not retrying",
			);
			this.#registry.offline();
		});
	}

	/** The ID this bridge claims now (after a rename or a nested run's switch, not the configured one). */
	get session(): string {
		return this.client.session;
	}

	/**
	 * A refused hello of a nested run: the ID is held by the bridge of the session that started this one.
	 * Claims --client-id if given, else `<ID>-bg1`; a `-bg<n>` already taken (a sibling) moves to the next.
	 * True when it switched (the client reconnects at once).
	 */
	#nestedSwitch(err: RelayError): boolean {
		const n = this.options.nested;
		if (!n || err.code !== ErrorCode.ID_TAKEN) return false;
		const holder = (err.details as { holder?: Holder } | undefined)?.holder;
		if (this.nested?.via === "background") {
			if (this.nested.n >= MAX_BG) return false;
			this.nested.n++;
			this.#switch(backgroundId(this.nested.base, this.nested.n), true);
			return true;
		}
		if (this.nested || !holder || !heldByAncestor(holder)) return false;
		const base = this.client.session;
		const explicit = n.clientIdFlag?.trim();
		if (explicit && explicit !== base) {
			this.nested = { base, holder, via: "--client-id", n: 0 };
			this.#switch(explicit, false);
		} else if (n.allowBackground) {
			this.nested = { base, holder, via: "background", n: 1 };
			this.#switch(backgroundId(base, 1), true);
		} else return false;
		return true;
	}

	#switch(session: string, ephemeral: boolean): void {
		this.#log.info({ from: this.client.session, to: session, holder: this.nested?.holder }, "nested run: the ID is held by the session that started this one; claiming another");
		this.#ephemeral = ephemeral;
		if (ephemeral) this.#secrets = new MemorySecretStore();
		else if (this.options.fileSecrets) this.#secrets = this.options.fileSecrets();
		this.client.switchSession(session, { ephemeral, secrets: this.#secrets });
	}

	/**
	 * relay_rename: the live session takes the ID `to`. The new secret is stored like a first claim's (an
	 * ephemeral session becomes a named one, with its secret on disk from now on), the old one's file is
	 * deleted (the hub released that ID), and the registry entry moves.
	 */
	async rename(to: string): Promise<ResultOf<"rename">> {
		await this.ready();
		const from = this.client.session;
		const wasEphemeral = this.#ephemeral;
		const previous = this.#secrets;
		const next = wasEphemeral && this.options.fileSecrets ? this.options.fileSecrets() : previous;
		let result: ResultOf<"rename">;
		try {
			result = await this.client.rename(to, { secrets: next });
		} catch (err) {
			throw this.explain(err);
		}
		this.#secrets = next;
		this.#ephemeral = false;
		previous.remove?.(this.options.room, from);
		this.renamedFrom = from;
		this.nested = null;
		this.#log.info({ from, to: result.session, moved: result.moved }, "session renamed");
		this.#registry.renamed(from, wasEphemeral);
		return result;
	}

	/** Resolves once connected, or throws the reason (with its fix) within `connectWaitMs`. */
	async ready(timeoutMs = this.options.connectWaitMs ?? 5_000): Promise<void> {
		if (this.fatal) throw this.fatal;
		try {
			await this.client.waitReady(timeoutMs);
		} catch (err) {
			throw this.explain(err);
		}
	}

	/** Turns a failure into the RelayError a person should read (the fatal reason beats "client closed"). */
	explain(err: unknown): RelayError {
		if (this.fatal) return this.fatal;
		if (err instanceof RelayError) {
			const last = this.client.lastError;
			// A refusal that will be retried (ID held by a live session) says more than "unreachable".
			if (
				err.code === ErrorCode.UNREACHABLE &&
				last &&
				last.code !== ErrorCode.UNREACHABLE
			)
				return last;
			return err;
		}
		return new RelayError(
			ErrorCode.INTERNAL,
			(err as Error)?.message ?? String(err),
		);
	}

	/**
	 * Sends one message; a retry after a reconnect carries the same idempotency key, so it is stored once.
	 * When the outcome is unknown (the frame went out, then no answer in time), says so rather than "failed":
	 * the hub may have stored it, and a blind resend would store it twice.
	 */
	async send(
		to: string | string[],
		body: string,
		replyTo?: string,
	): Promise<ResultOf<"send">> {
		await this.ready();
		// Ready: the request is written at once. A drop from here on leaves its fate unknown.
		let dropped = false;
		const onDrop = () => {
			dropped = true;
		};
		this.client.on("disconnected", onDrop);
		try {
			return await this.client.send(to, body, {
				key: newIdempotencyKey(),
				...(replyTo ? { replyTo } : {}),
			});
		} catch (err) {
			const e = this.explain(err);
			if (
				e.code === ErrorCode.TIMEOUT ||
				(dropped && e.code === ErrorCode.UNREACHABLE)
			) {
				throw new RelayError(
					ErrorCode.TIMEOUT,
					`The message went out but the hub did not confirm it in time${dropped ? " (the connection dropped meanwhile)" : ""}: it may or may not have been stored. Check ${historyHint(to)} before sending it again. (${e.message})`,
				);
			}
			throw e;
		} finally {
			this.client.off("disconnected", onDrop);
		}
	}

	async request<T extends RequestType>(
		type: T,
		params: ParamsOf<T>,
	): Promise<ResultOf<T>> {
		await this.ready();
		try {
			return await this.client.request(type, params);
		} catch (err) {
			throw this.explain(err);
		}
	}

	/**
	 * The oldest unacked messages. Unless `peek`, they are handed over and acked (exactly these ids), once
	 * `shown` says the tool result holding them was written (at once without `shown`).
	 * While the hub is unreachable, what the bridge holds is handed over instead and its acks are queued;
	 * with nothing held, the unreachable error is thrown.
	 */
	async receive(
		limit: number,
		peek: boolean,
		signal?: AbortSignal,
		shown?: Promise<boolean>,
	): Promise<ReceiveResult> {
		try {
			// With messages in hand, a reconnect is worth only a short wait.
			await this.ready(this.inbox.size > 0 ? HELD_CONNECT_WAIT_MS : undefined);
		} catch (err) {
			if (this.fatal) throw err;
			const held = this.inbox.list(limit);
			if (held.length === 0) throw err;
			if (!peek) this.#handOver(held, shown);
			return {
				messages: held,
				remaining: this.inbox.size - (peek ? held.length : 0),
				source: "local",
				acksQueued: this.inbox.unsentAcks,
			};
		}
		let page: { messages: Message[]; remaining: number };
		try {
			page = await this.peekUnseen(limit);
		} catch (err) {
			throw this.explain(err);
		}
		// A cancelled call's answer is thrown away: then nothing was handed over, so nothing is acked.
		if (peek || signal?.aborted)
			return {
				messages: page.messages,
				remaining: page.remaining,
				source: "hub",
				acksQueued: this.inbox.unsentAcks,
			};
		this.#handOver(page.messages, shown);
		return {
			messages: page.messages,
			remaining: page.remaining,
			source: "hub",
			acksQueued: this.inbox.unsentAcks,
		};
	}

	/**
	 * These messages go to the model in a tool result: no tool shows them again, and they are acked (seen)
	 * once `shown` resolves true; false (the call was cancelled, nothing written) makes them unread again.
	 */
	#handOver(messages: readonly Message[], shown: Promise<boolean> | undefined): void {
		if (messages.length === 0) return;
		if (!shown) {
			this.inbox.markHanded(messages);
			void this.flushAcks().catch(() => undefined);
			return;
		}
		const ids = this.inbox.markHanded(messages, true);
		void shown.then((written) => {
			if (!written) {
				this.inbox.unhand(ids);
				return;
			}
			this.inbox.shown(ids);
			void this.flushAcks().catch(() => undefined);
		});
	}

	/**
	 * Blocks until a message (matching `filter`, if given) is waiting, hands the oldest one over and acks it
	 * (once `shown`); `message: null` when `timeoutMs` passes first or `signal` aborts. Never throws for the
	 * hub being down (it keeps waiting for a reconnect); throws only for a fatal refusal. While it waits, a
	 * message it would take is not pushed as a channel notification: it is this call's answer.
	 */
	async wait(
		timeoutMs: number,
		opts: { from?: string; filter?: WaitFilter; signal?: AbortSignal; shown?: Promise<boolean> } = {},
	): Promise<WaitResult> {
		const filter: WaitFilter = { ...opts.filter, ...(opts.from !== undefined ? { from: opts.from } : {}) };
		this.#waits.add(filter);
		try {
			return await this.#wait(timeoutMs, filter, opts.signal, opts.shown);
		} finally {
			this.#waits.delete(filter);
			for (const listener of this.#waitEndListeners) listener();
		}
	}

	/**
	 * Sends a question and waits for its answer: a message whose replyTo is the question, from the addressee
	 * (for `*`, a #topic: from anyone; for a list: from one of it). Anything else that arrives meanwhile is
	 * left for relay_receive. On timeout, `receipts` says where the question is for each recipient.
	 */
	async ask(
		to: string | string[],
		body: string,
		timeoutMs: number,
		opts: { signal?: AbortSignal; shown?: Promise<boolean> } = {},
	): Promise<AskResult> {
		const parsed = parseTarget(to);
		const target = parsed.ok ? parsed.target : undefined;
		// The filter is in place before the question goes out, so that no answer can slip past it into a
		// channel push; it matches nothing until the question's id is known.
		const filter: WaitFilter = { replyTo: "\u0000pending" };
		if (target?.kind === "session") filter.from = target.session;
		else if (target?.kind === "list") filter.senders = new Set(target.sessions);
		this.#waits.add(filter);
		try {
			const question = await this.send(to, body);
			filter.replyTo = question.message.id;
			this.#waits.delete(filter);
			const reply = await this.wait(timeoutMs, { filter, ...opts });
			let receipts: Receipt[] | null = null;
			if (!reply.message) {
				receipts = await this.request("receipts", { message: question.message.id }).then(
					(r) => r.receipts,
					() => null,
				);
			}
			return { question, reply, receipts };
		} finally {
			this.#waits.delete(filter);
		}
	}

	/**
	 * Waits until a recipient has seen (acked) `messageId`, a message this session sent: at once if one has;
	 * else at its `receipt` push (or a reconnect or a resync, after which the hub is asked again: the push may
	 * have been missed). Returns the receipts, and whether one is seen (false: timeout or abort).
	 */
	async waitSeen(messageId: string, timeoutMs: number, signal?: AbortSignal): Promise<{ seen: boolean; receipts: Receipt[] | null }> {
		const deadline = Date.now() + timeoutMs;
		let receipts: Receipt[] | null = null;
		let pushed = false;
		let wake: (() => void) | undefined;
		const onReceipt = (r: { message: string; state: string }) => {
			if (r.message !== messageId || r.state !== "seen") return;
			pushed = true;
			wake?.();
		};
		this.client.on("receipt", onReceipt);
		try {
			for (;;) {
				if (this.fatal) throw this.fatal;
				if (this.client.ready) {
					try {
						receipts = (await this.client.request("receipts", { message: messageId })).receipts;
					} catch (err) {
						const e = this.explain(err);
						if (e.code === ErrorCode.NOT_FOUND) throw e;
					}
				}
				if (pushed || receipts?.some((r) => r.state === "seen")) return { seen: true, receipts };
				const left = deadline - Date.now();
				if (left <= 0 || signal?.aborted) return { seen: false, receipts };
				// Until the push, a reconnect or resync (a push may have been missed: ask again), timeout or abort.
				await new Promise<void>((resolve) => {
					const done = () => {
						clearTimeout(timer);
						wake = undefined;
						this.client.off("ready", done);
						this.client.off("resync", done);
						this.client.off("fatal", done);
						signal?.removeEventListener("abort", done);
						resolve();
					};
					const timer = setTimeout(done, left);
					wake = done;
					this.client.on("ready", done);
					this.client.on("resync", done);
					this.client.on("fatal", done);
					signal?.addEventListener("abort", done, { once: true });
				});
			}
		} finally {
			this.client.off("receipt", onReceipt);
		}
	}

	/** Whether a relay_wait or relay_ask in progress would take this message (then it is not pushed as a channel notification). */
	wantedByWait(m: Message): boolean {
		for (const w of this.#waits) if (matches(w, m)) return true;
		return false;
	}

	/** Called whenever a relay_wait ends (it may leave behind messages it did not take); returns the unsubscribe function. */
	onWaitEnd(listener: () => void): () => void {
		this.#waitEndListeners.add(listener);
		return () => this.#waitEndListeners.delete(listener);
	}

	async #wait(timeoutMs: number, filter: WaitFilter, signal: AbortSignal | undefined, shown: Promise<boolean> | undefined): Promise<WaitResult> {
		const deadline = Date.now() + timeoutMs;
		const none = (): WaitResult => ({
			message: null,
			remaining: null,
			source: null,
			acksQueued: this.inbox.unsentAcks,
		});
		for (;;) {
			if (this.fatal) throw this.fatal;
			// A cancelled call's answer is thrown away: hand nothing over (and ack nothing) once it is cancelled.
			if (signal?.aborted) return none();
			const seen = this.inbox.version;
			if (this.client.ready) {
				try {
					const page = await this.peekUnseen(filter.senders ? WAIT_PAGE : 1, filter);
					const message = page.messages[0];
					if (signal?.aborted) return none();
					if (message) {
						this.#handOver([message], shown);
						return {
							message,
							remaining: page.remaining + page.messages.length - 1,
							source: "hub",
							acksQueued: this.inbox.unsentAcks,
						};
					}
				} catch (err) {
					if (this.fatal) throw this.fatal;
					this.#log.debug(
						{ error: (err as Error).message },
						"wait: peek failed; waiting for a push or a reconnect",
					);
				}
			} else {
				const held = this.inbox.list().filter((m) => matches(filter, m));
				const message = held[0];
				if (message) {
					this.#handOver([message], shown);
					return {
						message,
						remaining: held.length - 1,
						source: "local",
						acksQueued: this.inbox.unsentAcks,
					};
				}
			}
			if (this.inbox.version !== seen) continue;
			const left = deadline - Date.now();
			if (left <= 0) return none();
			await this.#nextEvent(left, filter, signal);
		}
	}

	/** Watches a state prefix from now on, this connection and every later one. Throws the hub's refusal. */
	async watch(prefix: string): Promise<string[]> {
		if (this.#watches.has(prefix)) return [...this.#watches].sort();
		const r = await this.request("watch", { prefix });
		this.#watches.add(prefix);
		return r.watching;
	}

	get watching(): string[] {
		return [...this.#watches].sort();
	}

	/** How many state changes by others wait to be taken. */
	get stateChangesWaiting(): number {
		return this.#stateChanges.length;
	}

	/** Removes and returns the held changes under `prefix`, one per key (its newest), oldest first. */
	takeStateChanges(prefix: string): StateChangedPush[] {
		const newest = new Map<string, StateChangedPush>();
		for (let i = 0; i < this.#stateChanges.length; ) {
			const c = this.#stateChanges[i] as StateChangedPush;
			if (c.key.startsWith(prefix)) {
				newest.delete(c.key);
				newest.set(c.key, c);
				this.#stateChanges.splice(i, 1);
			} else i++;
		}
		return [...newest.values()];
	}

	/** Resolves true at the next held change under `prefix`, false at the timeout or abort. */
	nextStateChange(prefix: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
		const has = () => this.#stateChanges.some((c) => c.key.startsWith(prefix));
		if (has()) return Promise.resolve(true);
		return new Promise((resolve) => {
			const done = (result: boolean) => {
				clearTimeout(timer);
				this.#stateListeners.delete(onChange);
				signal?.removeEventListener("abort", onAbort);
				resolve(result);
			};
			const onChange = () => {
				if (has()) done(true);
			};
			const onAbort = () => done(false);
			const timer = setTimeout(() => done(false), timeoutMs);
			this.#stateListeners.add(onChange);
			signal?.addEventListener("abort", onAbort, { once: true });
		});
	}

	/** Sends the acks that are still owed to the hub (handed messages); bounded by the request timeout. */
	flushAcks(): Promise<void> {
		// A flush in flight does not carry acks added since it started: run another one after it.
		if (this.#flushing)
			return this.#flushing.catch(() => undefined).then(() => this.flushAcks());
		const ids = this.inbox.pendingAcks();
		if (ids.length === 0 || !this.client.ready) return Promise.resolve();
		this.#flushing = (async () => {
			try {
				for (let i = 0; i < ids.length; i += 1000) {
					const chunk = ids.slice(i, i + 1000);
					await this.client.ack(chunk);
					this.inbox.acked(chunk);
				}
			} catch (err) {
				this.#log.warn(
					{ error: (err as Error).message, owed: this.inbox.unsentAcks },
					"acks not confirmed; they are sent again after the next reconnect",
				);
				throw err;
			} finally {
				this.#flushing = null;
			}
		})();
		return this.#flushing;
	}

	/** Messages waiting: at the hub when connected (null if it does not answer), else held here. */
	async waiting(): Promise<{ count: number; source: "hub" | "local" }> {
		if (this.client.ready) {
			try {
				const page = await this.client.request(
					"inbox",
					{ peek: true, limit: 1 },
					{ timeoutMs: 3_000 },
				);
				return { count: page.messages.length + page.remaining, source: "hub" };
			} catch {
				// fall through to what is held
			}
		}
		return { count: this.inbox.size, source: "local" };
	}

	/** Says bye (bounded), marks the session offline in the registry, and stops. Never throws. */
	async close(timeoutMs = 1_000): Promise<void> {
		await Promise.allSettled([
			this.client.close({ bye: true, timeoutMs }),
			this.#registry.close(timeoutMs),
		]);
	}

	/**
	 * Peeks the hub's inbox (only what `filter` matches), skipping (and re-acking) messages the model already
	 * has, and skipping those being pushed to it as channel notifications.
	 */
	async peekUnseen(
		limit: number,
		filter: WaitFilter | string = {},
	): Promise<{ messages: Message[]; remaining: number }> {
		const f: WaitFilter = typeof filter === "string" ? { from: filter } : filter;
		const unfiltered = f.from === undefined && f.replyTo === undefined && !f.senders;
		await this.flushAcks().catch(() => undefined);
		for (let attempt = 0; ; attempt++) {
			const heldBefore = unfiltered ? this.inbox.heldIds() : [];
			const page = await this.client.request("inbox", {
				peek: true,
				limit,
				...(f.from !== undefined ? { from: f.from } : {}),
				...(f.replyTo !== undefined ? { replyTo: f.replyTo } : {}),
			});
			if (unfiltered) this.inbox.reconcile(heldBefore, page.messages);
			const already = page.messages.filter((m) => this.inbox.wasHanded(m.id));
			if (already.length === 0 || attempt >= 2) {
				const fresh = page.messages.filter((m) => !this.inbox.taken(m.id) && matches(f, m));
				return { messages: fresh, remaining: page.remaining };
			}
			// The model has these already (their acks were lost): ack them, then look again.
			for (const m of already) this.inbox.reack(m.id);
			await this.flushAcks().catch(() => undefined);
		}
	}

	/** Resolves at the next push (matching `filter`), reconnect, timeout or abort. */
	#nextEvent(
		timeoutMs: number,
		filter: WaitFilter,
		signal: AbortSignal | undefined,
	): Promise<void> {
		return new Promise((resolve) => {
			const done = () => {
				clearTimeout(timer);
				unsubscribe();
				this.client.off("ready", done);
				this.client.off("fatal", done);
				signal?.removeEventListener("abort", done);
				resolve();
			};
			const timer = setTimeout(done, timeoutMs);
			const unsubscribe = this.inbox.onAdd((m) => {
				if (matches(filter, m)) done();
			});
			this.client.on("ready", done);
			this.client.on("fatal", done);
			signal?.addEventListener("abort", done, { once: true });
		});
	}

	/** Subscribes to the configured topics the hub does not have for this session yet (each hello). */
	async #subscribeConfigured(held: readonly string[]): Promise<void> {
		for (const topic of held) this.#toSubscribe.delete(topic);
		for (const topic of [...this.#toSubscribe]) {
			try {
				await this.client.request("subscribe", { topic });
				this.#toSubscribe.delete(topic);
				this.#log.info({ topic }, "subscribed to a configured topic");
			} catch (err) {
				const e = err as RelayError;
				// A refusal (a bad name, the hub's bound) will not change by retrying; anything else, at the next hello.
				if (e.code === ErrorCode.BAD_TARGET || e.code === ErrorCode.LIMIT) this.#toSubscribe.delete(topic);
				this.#log.warn({ topic, code: e.code, error: e.message }, "could not subscribe to a configured topic");
			}
		}
	}

	/** The hub's unreachable sentence for this URL (for status and errors). */
	get unreachable(): string {
		return unreachableHint(this.options.url);
	}
}

/** The relay_history call that shows whether a send to `to` was stored. */
function historyHint(to: string | string[]): string {
	const parsed = parseTarget(to);
	if (parsed.ok && parsed.target.kind === "session") return `relay_history {"with":"${parsed.target.session}"}`;
	if (parsed.ok && parsed.target.kind === "topic") return `relay_history {"topic":"${parsed.target.topic}"}`;
	return "relay_history";
}

function refreshBranch(meta: SessionMeta): string | undefined {
	return meta.cwd ? (gitBranch(meta.cwd) ?? meta.branch) : meta.branch;
}

/**
 * Keeps this session's entry in the sessions registry current: online at each hello, refreshed every
 * minute while connected (last seen), offline on disconnect and at exit. Writes are serialized, loaded
 * lazily (the registry pulls in file locking), and never fail the bridge: a failure is logged.
 */
class RegistrySync {
	#chain: Promise<unknown> = Promise.resolve();
	#timer: NodeJS.Timeout | undefined;
	#online = false;
	#closed = false;

	/** Loaded at once, so that a later rebuild of dist/ (an upgrade while sessions run) cannot break it. */
	readonly #module: Promise<typeof import("../sessions/registry.js")>;

	constructor(
		private readonly options: HubLinkOptions,
		private readonly log: BridgeLog,
		/** The ID the bridge holds now, and whether it is ephemeral (kept out of the registry). */
		private readonly who: () => { session: string; ephemeral: boolean },
	) {
		this.#module = import("../sessions/registry.js");
		this.#module.catch((err) =>
			log.warn(
				{ error: (err as Error).message },
				"cannot load the sessions registry module",
			),
		);
	}

	online(): void {
		// An ephemeral ID names one process, which the registry (IDs people chose) has no use for.
		if (this.#closed || this.who().ephemeral) return;
		this.#online = true;
		this.#write("online");
		if (!this.#timer) {
			this.#timer = setInterval(() => {
				if (this.#online) this.#write("online");
			}, REGISTRY_REFRESH_MS);
			this.#timer.unref();
		}
	}

	offline(): void {
		if (this.#closed || !this.#online) return;
		this.#online = false;
		this.#write("offline");
	}

	/** Marks the session offline (bounded), whatever it was, and stops refreshing. */
	async close(timeoutMs: number): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		if (this.#timer) clearInterval(this.#timer);
		if (this.who().ephemeral) return; // never written (see online())
		const write = this.#write("offline");
		await Promise.race([
			write,
			new Promise((r) => setTimeout(r, timeoutMs).unref()),
		]);
	}

	/** The session renamed itself: its entry moves (or, if it was ephemeral, it gets one now). */
	renamed(from: string, wasEphemeral: boolean): void {
		if (this.#closed) return;
		const file = paths.registry(this.options.home);
		const to = this.who().session;
		if (!wasEphemeral)
			this.#chain = this.#chain
				.then(async () => (await this.#module).renameSession(from, to, file))
				.catch((err) => this.log.warn({ error: (err as Error).message }, "could not rename the registry entry"));
		this.online();
	}

	#write(status: "online" | "offline"): Promise<unknown> {
		const o = this.options;
		const session = this.who().session;
		const file = paths.registry(o.home);
		this.#chain = this.#chain
			.then(async () => {
				const registry = await this.#module;
				if (status === "online") {
					await registry.upsertSession(
						{
							id: session,
							hubUrl: o.url,
							status: "online",
							...(o.claudeSessionId
								? { claudeSessionId: o.claudeSessionId }
								: {}),
						},
						file,
					);
				} else {
					await registry.markOffline(session, file);
				}
			})
			.catch((err) =>
				this.log.warn(
					{ error: (err as Error).message, status },
					"could not update the sessions registry",
				),
			);
		return this.#chain;
	}
}
