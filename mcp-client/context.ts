/**
 * What every tool gets: the configuration, the log, and the hub link, which is loaded and connected in the
 * background once the MCP handshake is done (or when a tool first needs it), so that answering
 * `initialize` never waits for ws, partysocket or the network.
 */
import { ErrorCode, RelayError } from "../server/errors.js";
import { paths } from "../server/paths.js";
import { ChannelGate, type ChannelState } from "./channel.js";
import type { ChannelPusher, ChannelSink } from "./channel-push.js";
import type { HubLink } from "./hub-link.js";
import { sessionMeta } from "./identity.js";
import type { BridgeLog } from "./log.js";
import type { BridgeConfig } from "./options.js";

export class BridgeContext {
	/** Whether messages are pushed into the session as channel notifications, and why (channel.ts). */
	readonly channels: ChannelGate;
	#link: Promise<HubLink> | undefined;
	#loaded: HubLink | undefined;
	#closing = false;
	#sink: ChannelSink | undefined;
	#pusher: ChannelPusher | undefined;

	constructor(
		readonly config: BridgeConfig,
		readonly log: BridgeLog,
	) {
		this.channels = new ChannelGate({
			mode: config.channels,
			serverName: config.serverName,
			invalid: config.channelsInvalid,
		});
		let logged = "";
		this.channels.onChange((state) => {
			if (!state.decided || state.reason === logged) return;
			logged = state.reason;
			this.log.info(
				{ mode: state.mode, active: state.active, reason: state.reason },
				state.active
					? "channels: pushing messages into the session"
					: "channels: not pushing messages into the session",
			);
		});
	}

	/** Tool calls waiting for their reply to be written (afterReply), by JSON-RPC request id. */
	readonly #replies = new Map<string | number, Array<(written: boolean) => void>>();
	/** Whether main.ts reports written replies (replyWritten); without it, afterReply resolves at once. */
	#repliesReported = false;

	/**
	 * Resolves true once the reply to this tool call has been written to stdout (handed to Claude Code, so to
	 * the model), false if the call is cancelled first (then no reply is written). A tool that hands messages
	 * over acks them only then: an ack is what the hub reports to the sender as `seen`.
	 */
	afterReply(extra: { requestId: string | number; signal: AbortSignal }): Promise<boolean> {
		if (!this.#repliesReported) return Promise.resolve(true);
		return new Promise((resolve) => {
			const waiters = this.#replies.get(extra.requestId) ?? [];
			this.#replies.set(extra.requestId, waiters);
			const onAbort = () => {
				const list = this.#replies.get(extra.requestId);
				const i = list?.indexOf(settle) ?? -1;
				if (list && i >= 0) list.splice(i, 1);
				if (list?.length === 0) this.#replies.delete(extra.requestId);
				resolve(false);
			};
			const settle = (written: boolean) => {
				extra.signal.removeEventListener("abort", onAbort);
				resolve(written);
			};
			waiters.push(settle);
			if (extra.signal.aborted) onAbort();
			else extra.signal.addEventListener("abort", onAbort, { once: true });
		});
	}

	/** main.ts: replies are reported from now on. */
	reportReplies(): void {
		this.#repliesReported = true;
	}

	/** main.ts: the reply to this request id has left the process. */
	replyWritten(id: string | number): void {
		const waiters = this.#replies.get(id);
		if (!waiters) return;
		this.#replies.delete(id);
		for (const settle of waiters) settle(true);
	}

	/** How to write one channel notification to the session (main.ts: through the MCP server). */
	setChannelSink(sink: ChannelSink): void {
		this.#sink = sink;
	}

	/** The channel state, with how many messages were pushed so far. */
	get channelStatus(): ChannelState & { pushed: number } {
		const state = this.channels.state;
		const stopped = this.#pusher?.stopped;
		return {
			...state,
			...(stopped
				? { active: false, reason: `${state.reason}; stopped: ${stopped}` }
				: {}),
			pushed: this.#pusher?.pushed ?? 0,
		};
	}

	get session(): string {
		return this.config.identity.id;
	}

	/** The link if it has been created (for status and shutdown); never starts it. */
	get loaded(): HubLink | undefined {
		return this.#loaded;
	}

	/**
	 * Starts connecting in the background (idempotent), and loads every module a tool may need later, so
	 * that rebuilding dist/ while this session runs (an upgrade) cannot make a later lazy import fail.
	 */
	start(): void {
		this.link().catch(() => undefined);
		import("../sessions/sessions.js").catch((err) =>
			this.log.warn(
				{ error: (err as Error).message },
				"cannot load the sessions module",
			),
		);
	}

	/** The hub link, created on first use. Rejects with the configuration problem, if there is one. */
	link(): Promise<HubLink> {
		const problem = this.config.problem;
		if (problem) return Promise.reject(problem);
		if (this.#closing)
			return Promise.reject(
				new RelayError(ErrorCode.UNREACHABLE, "The bridge is shutting down."),
			);
		this.#link ??= (async () => {
			const [{ HubLink }, { FileSecretStore }, { ChannelPusher }] =
				await Promise.all([
					import("./hub-link.js"),
					import("./secrets.js"),
					import("./channel-push.js"),
				]);
			const c = this.config;
			const link = new HubLink({
				url: c.url,
				session: c.identity.id,
				room: c.room,
				token: c.token,
				home: c.home,
				meta: sessionMeta(c.claudeSessionId),
				secrets: new FileSecretStore(paths.secrets(c.home), this.log),
				log: this.log,
				claudeSessionId: c.claudeSessionId,
				topics: c.topics,
			});
			this.#loaded = link;
			// Push once the gate says the session listens (it never does before the handshake is done).
			const push = (state: ChannelState) => {
				if (!state.active || this.#pusher || !this.#sink || this.#closing)
					return;
				this.#pusher = new ChannelPusher(link, this.#sink, this.log);
				this.#pusher.start();
			};
			this.channels.onChange(push);
			push(this.channels.state);
			this.log.info(
				{ url: c.url, room: c.room, idSource: c.identity.source },
				"connecting to the hub",
			);
			return link;
		})();
		return this.#link;
	}

	/** Says bye to the hub and marks the session offline, bounded; never throws. */
	async close(timeoutMs: number): Promise<void> {
		this.#closing = true;
		this.#pusher?.stop("the bridge is shutting down");
		const link =
			this.#loaded ??
			(this.#link ? await this.#link.catch(() => undefined) : undefined);
		await link?.close(timeoutMs);
	}
}
