/**
 * `claude-relay autowake`: a foreground daemon that wakes opted-in sessions which have unread mail and are
 * idle, for harnesses and accounts without channel push (Codex, Gemini, Claude Code on an API key or
 * Bedrock). Every poll_seconds:
 *
 *   1. the global off switch ($RELAY_HOME/autowake/paused): while it exists, nothing else happens;
 *   2. the opted-in sessions of the room (state.ts), and their secrets from $RELAY_HOME/secrets;
 *   3. one `unread` request (a connection that claims no ID): for each session, whether it is online, its
 *      hello meta, and the headers of what waits (no bodies; nothing is acked);
 *   4. the rails (policy.ts) decide; a wake goes through the tmux driver (online, in a tmux pane of this
 *      machine) or the spawn driver (offline, with a command configured for its client); otherwise the mail
 *      waits for the session's own hooks or channels;
 *   5. every wake and refusal goes to the audit log (audit.ts).
 *
 * How it sees the hub: as nobody. It never says hello (so it is no broadcast recipient and reads no mail);
 * `unread` is authorized per session by that session's secret, or by the hub token when it has one. After a
 * spawned run it attaches as an observer (with the secret) only to read `history`: what the run sent, as the
 * hub recorded it, against the message ids the run's output claims.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import WebSocket from "ws";
import { paths } from "../../server/paths.js";
import { MESSAGE_ID_PATTERN, type ResultOf, type SessionMeta, UNREAD_MAX_SESSIONS } from "../../server/protocol.js";
import { harnessOf } from "../harness/clients.js";
import { HubClient, unreachableHint } from "../hub-client.js";
import { FileSecretStore } from "../secrets.js";
import { AuditLog } from "./audit.js";
import { type AutowakeConfig, perClient } from "./config.js";
import { SpawnDriver } from "./drivers/spawn.js";
import { TmuxDriver, type TmuxTarget } from "./drivers/tmux.js";
import { nudgeText } from "./nudge.js";
import { type Decision, Rails } from "./policy.js";
import { isPaused, type OptIn, optedIn, writeTurn } from "./state.js";

export interface DaemonOptions {
	url: string;
	room: string;
	token: string | undefined;
	home: string;
	config: AutowakeConfig;
	audit?: AuditLog;
	/** The tmux driver (tests give one with another tmux). */
	tmux?: TmuxDriver;
}

type UnreadEntry = ResultOf<"unread">["sessions"][number];
type Wake = Extract<Decision, { wake: true }>;

/** One connection, the frames, their answers, closed: bounded by `timeoutMs`. */
export function requestWithoutSession(url: string, token: string | undefined, frames: Record<string, unknown>[], timeoutMs = 5_000): Promise<Record<string, unknown>[]> {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
		const answers = new Map<unknown, Record<string, unknown>>();
		const timer = setTimeout(() => {
			ws.terminate();
			reject(new Error(`${unreachableHint(url)} (no answer within ${timeoutMs / 1000} s)`));
		}, timeoutMs);
		ws.on("open", () => {
			for (const f of frames) ws.send(JSON.stringify(f));
		});
		ws.on("message", (data) => {
			let frame: Record<string, unknown>;
			try {
				frame = JSON.parse(String(data));
			} catch {
				return;
			}
			if ((frame.type === "result" || frame.type === "error") && frames.some((f) => f.id === frame.id)) answers.set(frame.id, frame);
			if (answers.size === frames.length) {
				clearTimeout(timer);
				ws.close();
				resolve(frames.map((f) => answers.get(f.id) as Record<string, unknown>));
			}
		});
		ws.on("error", (err) => {
			clearTimeout(timer);
			reject(new Error(`${unreachableHint(url)} (${err.message})`));
		});
		ws.on("close", () => {
			clearTimeout(timer);
			if (answers.size < frames.length) reject(new Error(`${unreachableHint(url)} (the connection closed)`));
		});
	});
}

/** A directory given in untrusted meta: absolute, existing, a directory. */
function usableCwd(cwd: string | undefined): string | undefined {
	if (cwd === undefined || !cwd.startsWith("/")) return undefined;
	try {
		return statSync(cwd).isDirectory() ? cwd : undefined;
	} catch {
		return undefined;
	}
}

export class AutowakeDaemon {
	readonly rails: Rails;
	readonly audit: AuditLog;
	readonly #o: DaemonOptions;
	readonly #tmux: TmuxDriver;
	readonly #spawn: SpawnDriver;
	readonly #secrets: FileSecretStore;
	#paused = false;
	#stopped = false;
	#timer: NodeJS.Timeout | undefined;
	#cycle: Promise<void> = Promise.resolve();
	/** Spawned runs in progress (for stop and for tests). */
	readonly runs = new Set<Promise<void>>();

	constructor(options: DaemonOptions) {
		this.#o = options;
		this.rails = new Rails(options.config);
		this.audit = options.audit ?? new AuditLog(options.home);
		this.#tmux = options.tmux ?? new TmuxDriver(options.config.tmux);
		this.#spawn = new SpawnDriver(options.home);
		this.#secrets = new FileSecretStore(paths.secrets(options.home));
	}

	/** Polls until stop(). */
	start(): void {
		this.audit.write({ event: "start", room: this.#o.room, url: this.#o.url, pollSeconds: this.#o.config.poll_seconds });
		const tick = () => {
			if (this.#stopped) return;
			this.#cycle = this.cycle()
				.catch((err) => this.audit.once(`error:${(err as Error).message}`, { event: "error", reason: (err as Error).message }))
				.finally(() => {
					if (!this.#stopped) this.#timer = setTimeout(tick, this.#o.config.poll_seconds * 1000);
				});
		};
		tick();
	}

	async stop(): Promise<void> {
		this.#stopped = true;
		clearTimeout(this.#timer);
		await this.#cycle;
		this.#spawn.stopAll();
		await Promise.allSettled([...this.runs]);
		this.audit.write({ event: "stop" });
	}

	/** One poll: read the switch and the opt-ins, ask the hub, decide, wake. */
	async cycle(now = Date.now()): Promise<void> {
		const { home, room } = this.#o;
		if (isPaused(home)) {
			if (!this.#paused) this.audit.write({ event: "paused", reason: "the off switch is on (claude-relay autowake pause); nothing is woken" });
			this.#paused = true;
			return;
		}
		if (this.#paused) this.audit.write({ event: "resumed" });
		this.#paused = false;
		const opted = optedIn(home, room);
		if (opted.size === 0) return;
		const asks: { session: string; secret?: string }[] = [];
		for (const session of opted.keys()) {
			const secret = this.#secrets.load(room, session);
			if (!secret && !this.#o.token) {
				this.audit.once(`nosecret:${session}`, { event: "refused", session, reason: "no-secret", detail: `no secret for ${session} under ${paths.secrets(home)} and no hub token: the daemon cannot ask what waits for it` });
				continue;
			}
			asks.push({ session, ...(secret ? { secret } : {}) });
		}
		const entries: UnreadEntry[] = [];
		for (let i = 0; i < asks.length; i += UNREAD_MAX_SESSIONS) {
			const chunk = asks.slice(i, i + UNREAD_MAX_SESSIONS);
			const [answer] = await requestWithoutSession(this.#o.url, this.#o.token, [
				{ type: "unread", id: "unread", room, sessions: chunk, ...(this.#o.token ? { token: this.#o.token } : {}) },
			]);
			if (!answer || answer.type === "error") throw new Error(`the hub refused unread: ${String(answer?.code)} ${String(answer?.message)}`);
			entries.push(...(answer.result as ResultOf<"unread">).sessions);
		}
		for (const entry of entries) {
			const optIn = opted.get(entry.session);
			if (!optIn) continue;
			if (entry.error) {
				this.audit.once(`err:${entry.session}:${entry.error.code}`, { event: "refused", session: entry.session, reason: entry.error.code, detail: entry.error.message });
				continue;
			}
			await this.#consider(entry, optIn, now);
		}
	}

	async #consider(entry: UnreadEntry, optIn: OptIn, now: number): Promise<void> {
		const session = entry.session;
		const pending = entry.messages ?? [];
		const decision = this.rails.decide(session, optIn, pending, now);
		const batchKey = `${session}:${Math.max(0, ...pending.map((m) => m.seq))}`;
		if (!decision.wake) {
			if (!("detail" in decision)) return; // nothing new, or a batch still settling
			this.audit.once(`${batchKey}:${decision.reason}`, { event: "refused", session, reason: decision.reason, ...decision.detail, messages: pending.map((m) => m.id) });
			return;
		}
		const meta: SessionMeta = entry.meta ?? {};
		const why = { count: entry.pending ?? decision.batch.length, from: decision.senders, messages: decision.batch.map((m) => m.id), chains: decision.chains, hop: decision.hops, optedInBy: optIn.by };
		if (entry.online && meta.tmuxPane && meta.tmuxSocket) {
			await this.#wakeTmux(session, meta, decision, why, batchKey);
			return;
		}
		const argv = !entry.online ? perClient(this.#o.config.spawn.commands, meta.client) : undefined;
		if (argv) {
			this.#wakeSpawn(session, meta, argv, decision, why, batchKey);
			return;
		}
		this.audit.once(`${batchKey}:no-driver`, {
			event: "refused",
			session,
			reason: "no-driver",
			detail: entry.online
				? "online but not in a tmux pane of this machine: its hooks or channels bring the mail in"
				: `offline, and no [spawn.commands] entry for harness ${JSON.stringify(harnessOf(meta.client) ?? meta.client ?? null)} (nor "default")`,
			...why,
		});
	}

	async #wakeTmux(session: string, meta: SessionMeta, decision: Wake, why: Record<string, unknown>, batchKey: string): Promise<void> {
		const target: TmuxTarget = {
			session,
			pane: meta.tmuxPane ?? "",
			socket: meta.tmuxSocket ?? "",
			host: meta.host,
			bridgePid: meta.pid,
			client: meta.client,
		};
		this.rails.begin(session);
		try {
			const check = await this.#tmux.check(target);
			if (!check.ok) {
				const transient = "transient" in check;
				this.audit.once(`${batchKey}:tmux:${check.reason}`, {
					event: transient ? "waiting" : "refused",
					session,
					reason: `tmux-${check.reason}`,
					driver: "tmux",
					pane: target.pane,
					...check.detail,
					...why,
				});
				return;
			}
			const text = nudgeText(Number(why.count), decision.senders);
			writeTurn(this.#o.home, this.#o.room, session, { nudge: text, at: Date.now(), driver: "tmux" });
			await this.#tmux.type(target, text);
			this.rails.record(session, decision);
			this.audit.write({ event: "wake", session, reason: "unread mail, pane idle at its prompt", driver: "tmux", pane: target.pane, program: check.program, nudge: text, ...why });
		} catch (err) {
			this.audit.write({ event: "error", session, reason: `tmux: ${(err as Error).message}`, driver: "tmux", ...why });
		} finally {
			this.rails.end(session);
		}
	}

	#wakeSpawn(session: string, meta: SessionMeta, template: string[], decision: Wake, why: Record<string, unknown>, batchKey: string): void {
		const cwd = usableCwd(meta.cwd);
		const claudeSessionId = meta.claudeSessionId && /^[A-Za-z0-9-]{1,128}$/.test(meta.claudeSessionId) ? meta.claudeSessionId : undefined;
		const text = nudgeText(Number(why.count), decision.senders);
		const values: Record<string, string | undefined> = { session, claudeSessionId, nudge: text, cwd };
		const missing = new Set<string>();
		const argv = template.map((arg) =>
			arg.replace(/\{(session|claudeSessionId|nudge|cwd)\}/g, (_all, name: string) => {
				const v = values[name];
				if (v === undefined) missing.add(name);
				return v ?? "";
			}),
		);
		if (!cwd) missing.add("cwd (the session's directory, from its meta)");
		if (missing.size > 0) {
			this.audit.once(`${batchKey}:spawn-missing`, { event: "refused", session, reason: "spawn-missing", detail: `nothing known for ${[...missing].join(", ")}`, ...why });
			return;
		}
		this.rails.begin(session);
		this.rails.record(session, decision);
		const startSeq = Math.max(...decision.batch.map((m) => m.seq));
		this.audit.write({ event: "wake", session, reason: "unread mail, session offline", driver: "spawn", argv, cwd, ...why });
		const env: NodeJS.ProcessEnv = {
			...process.env,
			CLAUDE_RELAY_SESSION_ID: session,
			CLAUDE_RELAY_AUTOWAKE: "1",
			RELAY_URL: this.#o.url,
			RELAY_ROOM: this.#o.room,
			RELAY_HOME: this.#o.home,
		};
		const run = this.#spawn
			.run({ session, argv, cwd: cwd as string, env, timeoutMs: this.#o.config.spawn.timeout_seconds * 1000 })
			.then(async (outcome) => {
				const record = await this.#sentDuring(session, startSeq).catch((err: Error) => ({ error: err.message }));
				const claimed = this.#claimedIds(outcome.log, outcome.logOffset);
				const sent = "ids" in record ? record.ids : [];
				const received = new Set(decision.batch.map((m) => m.id));
				const missing = claimed.filter((id) => !sent.includes(id) && !received.has(id));
				this.audit.write({
					event: "spawn-end",
					session,
					reason: outcome.timedOut ? "timed out: its process group was ended" : outcome.error ? `failed: ${outcome.error}` : `exited ${outcome.code ?? outcome.signal}`,
					driver: "spawn",
					exitCode: outcome.code,
					signal: outcome.signal,
					timedOut: outcome.timedOut,
					ms: outcome.ms,
					log: outcome.log,
					hubRecord: "ids" in record ? { sent: record.sent } : { error: record.error },
					...(missing.length > 0 ? { mismatch: { claimedButNotRecorded: missing } } : {}),
				});
			})
			.finally(() => {
				this.rails.end(session);
				this.runs.delete(run);
			});
		this.runs.add(run);
	}

	/** What `session` sent after `afterSeq`, as the hub recorded it: an observer's history, ids and recipients only. */
	async #sentDuring(session: string, afterSeq: number): Promise<{ ids: string[]; sent: { id: string; to: string; seq: number }[] }> {
		const secret = this.#secrets.load(this.#o.room, session);
		const client = new HubClient({
			// It reads unread counts, not who is online: no list of peers in its hello answer.
			helloPeers: 0,
			url: this.#o.url,
			session,
			room: this.#o.room,
			...(this.#o.token ? { token: this.#o.token } : {}),
			observer: true,
			reconnect: false,
			keepaliveMs: 0,
			requestTimeoutMs: 5_000,
			meta: { host: hostname().slice(0, 256), pid: process.pid, client: "claude-relay-autowake" },
			secrets: { load: () => secret, save: () => undefined },
		});
		try {
			await client.waitReady(5_000);
			const sent: { id: string; to: string; seq: number }[] = [];
			let after = afterSeq;
			for (let page = 0; page < 10; page++) {
				const h = await client.request("history", { after, limit: 200 });
				for (const m of h.messages) if (m.from === session) sent.push({ id: m.id, to: m.to, seq: m.seq });
				if (!h.hasMore || h.messages.length === 0) break;
				after = h.messages.at(-1)?.seq ?? after;
			}
			return { ids: sent.map((s) => s.id), sent };
		} finally {
			await client.close({ bye: false });
		}
	}

	/** Message ids the run's output mentions (what its tools reported sending), from its part of the log. */
	#claimedIds(log: string, offset: number): string[] {
		if (!existsSync(log)) return [];
		const text = readFileSync(log).subarray(offset, offset + 4 * 1024 * 1024).toString("utf8");
		const re = new RegExp(MESSAGE_ID_PATTERN.source.slice(1, -1), "g");
		return [...new Set(text.match(re) ?? [])];
	}
}
