/**
 * What every tool gets: the configuration, the log, and the hub link, which is loaded and connected in the
 * background once the MCP handshake is done (or when a tool first needs it), so that answering
 * `initialize` never waits for ws, partysocket or the network.
 */
import { ErrorCode, RelayError } from "../server/errors.js";
import { paths } from "../server/paths.js";
import { ChannelGate, type ChannelState, parentArgv } from "./channel.js";
import { detectHarness, type HarnessClient } from "./harness/clients.js";
import type { ChannelPusher, ChannelSink } from "./channel-push.js";
import type { HubLink } from "./hub-link.js";
import type { SessionMeta } from "../server/protocol.js";
import { sessionMeta } from "./identity.js";
import type { BridgeLog } from "./log.js";
import type { BridgeConfig } from "./options.js";
import type { RepoInfo } from "./repo.js";

/** How long the first hello waits for the repository identity (git) before going without it. */
const REPO_WAIT_MS = 300;
/** How long the first hello waits for the parent's command line (the harness) before going without it. */
const PARENT_WAIT_MS = 1_000;

/** Which harness runs this bridge, and what said so (harness/clients.ts). */
export interface HarnessInfo {
	client: HarnessClient;
	from: "clientInfo" | "parent" | "env" | "none";
	/** The MCP client's clientInfo.name, when the handshake gave one. */
	clientName: string | undefined;
}

export class BridgeContext {
	/** Whether messages are pushed into the session as channel notifications, and why (channel.ts). */
	readonly channels: ChannelGate;
	#link: Promise<HubLink> | undefined;
	#loaded: HubLink | undefined;
	#closing = false;
	#sink: ChannelSink | undefined;
	#pusher: ChannelPusher | undefined;
	#repo: Promise<RepoInfo | null> | undefined;
	#owns: Promise<string[]> | undefined;
	#parent: Promise<string[]> | undefined;
	#clientName: string | undefined;
	#harness: HarnessInfo | undefined;
	#meta: SessionMeta | undefined;

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

	/** The ID the bridge holds now: the configured one, unless renamed or switched (a nested run). */
	get session(): string {
		return this.#loaded?.session ?? this.config.identity.id;
	}

	/**
	 * The parent process's command line, read once (after the handshake: never on the `initialize` path) and
	 * shared by the channel gate and the harness detection; rejects with why it cannot be read.
	 */
	parentArgv(read: () => Promise<string[]> = () => parentArgv()): Promise<string[]> {
		if (!this.#parent) {
			this.#parent = read();
			this.#parent.catch(() => undefined); // handled here; each caller handles it again
		}
		return this.#parent;
	}

	/** The handshake said who the MCP client is (clientInfo.name): the strongest evidence of the harness. */
	setClientName(name: string | undefined): void {
		if (name === undefined || this.#clientName !== undefined) return;
		this.#clientName = name;
		// Detected before the handshake finished (a client slower than the start fallback): the next hello says it.
		if (this.#harness) void this.#detect();
	}

	/** The harness as detected so far (relay_status); undefined until the first detection. */
	get harnessInfo(): HarnessInfo | undefined {
		return this.#harness;
	}

	async #detect(): Promise<HarnessInfo> {
		const argv = await Promise.race([
			this.parentArgv().catch(() => undefined),
			new Promise<undefined>((r) => setTimeout(() => r(undefined), PARENT_WAIT_MS).unref()),
		]);
		const found = detectHarness({ clientName: this.#clientName, parentArgv: argv, env: process.env });
		const info: HarnessInfo = { ...found, clientName: this.#clientName };
		if (this.#harness?.client !== info.client) this.log.info({ client: info.client, from: info.from, clientName: info.clientName }, "harness detected");
		this.#harness = info;
		if (this.#meta) this.#meta.client = info.client;
		return info;
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

	/**
	 * The repository of the bridge's working directory (its identity scopes claims), computed once with git
	 * in the background, bounded; null when the directory is in no repository or git does not answer.
	 */
	repo(): Promise<RepoInfo | null> {
		this.#repo ??= import("./repo.js")
			.then((m) => m.repoOf(process.cwd()))
			.catch((err) => {
				this.log.warn({ error: (err as Error).message }, "cannot work out the repository identity");
				return null;
			});
		return this.#repo;
	}

	/** --owns / RELAY_OWNS in canonical form; entries that are no valid claim pattern are dropped (and logged). */
	owns(): Promise<string[]> {
		this.#owns ??= (async () => {
			if (this.config.owns.length === 0) return [];
			const { normalizeClaimPath } = await import("../server/globs.js");
			const out: string[] = [];
			for (const raw of this.config.owns) {
				const r = normalizeClaimPath(raw);
				if (r.ok) out.push(r.path);
				else this.log.warn({ owns: raw, reason: r.reason }, "ignoring an --owns entry");
			}
			return [...new Set(out)].slice(0, 32);
		})();
		return this.#owns;
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
			const repo = this.repo();
			const [{ HubLink }, { FileSecretStore, MemorySecretStore }, { ChannelPusher }, owns, harness] =
				await Promise.all([
					import("./hub-link.js"),
					import("./secrets.js"),
					import("./channel-push.js"),
					this.owns(),
					this.#detect(),
				]);
			const c = this.config;
			// `<host>-<pid>` is never claimed again once this process is gone: the hub forgets it at the end of
			// the connection, and its secret is kept in memory only (for reconnects of this process), so
			// neither the hub nor $RELAY_HOME/secrets keeps one per start of Claude Code.
			const ephemeral = c.identity.source === "hostname-pid";
			// meta is read at each connect: a harness detected again later (setClientName) reaches the next hello.
			const meta = sessionMeta(c.claudeSessionId, process.cwd(), harness.client);
			this.#meta = meta;
			if (this.#harness) meta.client = this.#harness.client;
			if (owns.length > 0) meta.owns = owns;
			// The first hello says which repository this session is in when git answers quickly; otherwise the
			// next hello (meta is read at each connect) does.
			const setRepo = (r: RepoInfo | null) => {
				if (r) meta.repo = r.identity.slice(0, 512);
			};
			const early = await Promise.race([repo, new Promise<undefined>((r) => setTimeout(() => r(undefined), REPO_WAIT_MS).unref())]);
			if (early !== undefined) setRepo(early);
			else void repo.then(setRepo);
			const fileSecrets = () => new FileSecretStore(paths.secrets(c.home), this.log);
			const link = new HubLink({
				url: c.url,
				session: c.identity.id,
				room: c.room,
				token: c.token,
				home: c.home,
				meta,
				secrets: ephemeral ? new MemorySecretStore() : fileSecrets(),
				fileSecrets,
				log: this.log,
				claudeSessionId: c.claudeSessionId,
				ephemeral,
				// A nested run inherits the environment's ID without choosing it (see nested.ts).
				nested: {
					allowBackground: c.identity.source === "CLAUDE_RELAY_SESSION_ID" || c.identity.source === "RELAY_CLIENT_ID",
					clientIdFlag: c.identity.source === "--client-id" ? undefined : c.clientIdFlag,
				},
				topics: c.topics,
			});
			this.#loaded = link;
			// --autowake: opt in at start, unless `claude-relay autowake off` said otherwise (state.ts).
			if (c.autowake && !ephemeral)
				void import("./autowake/state.js")
					.then((state) => state.setOptIn(c.home, c.room, c.identity.id, true, "bridge"))
					.catch((err) => this.log.warn({ error: (err as Error).message }, "could not opt in to autowake"));
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
