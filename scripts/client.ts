/**
 * `claude-relay client [ID]`: an interactive session for a person, the successor of the original's
 * `node test-client.js MACHINE_A`. It claims an ID like a bridge does, prints every message as it arrives
 * (and acks it once printed: this client hands messages to a person, so the sender's receipt says seen),
 * prints `✓ seen by CC-2` when a message it sent was seen, and reads commands: send, send:<ID|#topic|A,B>,
 * reply, reply-all, subscribe, unsubscribe, topics, thread, receipts, peers, sessions, history, inbox,
 * peek, ack, wait, status, help, quit.
 *
 * On a terminal: a prompt with Tab completion of commands and online peer IDs; incoming messages are
 * printed above the prompt and the line being typed is redrawn intact. With stdin not a terminal (piped,
 * scripts, tests): no prompt and no colors, one line per event, commands run one after the other, and the
 * client exits once stdin ends and the last command's answer (and every ack) has arrived.
 */
import * as readline from "node:readline";
import { MemorySecretStore } from "../mcp-client/secrets.js";
import { HubClient, unreachableHint } from "../mcp-client/hub-client.js";
import { ErrorCode, RelayError } from "../server/errors.js";
import { BROADCAST, type Message, MESSAGE_ID_HINT, MESSAGE_ID_PATTERN, parseTarget, type ResultOf, TOPIC_PREFIX } from "../server/protocol.js";
import { sanitizeLine } from "../server/sanitize.js";
import { UserError } from "../sessions/cli-errors.js";
import { type ConnectSetup, describeIdSource, resolveSetup } from "./connect.js";
import {
	CLIENT_HELP,
	formatMessage,
	formatPeers,
	formatReceiptPush,
	formatReceipts,
	formatSendOutcome,
	formatSessions,
	formatStatus,
	formatTopics,
	formatWarnings,
	paint,
	type Style,
} from "./format.js";

export interface ClientArgs {
	id?: string | undefined;
	url?: string | undefined;
	room?: string | undefined;
	tokenFile?: string | undefined;
	/** Ack messages once printed (default); false: leave them unacked until `ack`. */
	ack: boolean;
	/** Bound on every request and on the first connection, seconds. */
	timeout: number;
	/** Topics to subscribe to once connected (`--topics a,b`). */
	topics?: string[] | undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Commands: parsing and completion (pure)
// ---------------------------------------------------------------------------------------------------------

export type Command =
	| { kind: "empty" }
	| { kind: "send"; to: string; body: string }
	| { kind: "reply"; body: string; all: boolean }
	| { kind: "subscribe" | "unsubscribe"; topic: string }
	| { kind: "thread" | "receipts"; id: string }
	| { kind: "history"; with?: string; limit: number }
	| { kind: "inbox"; limit: number; peek: boolean }
	| { kind: "wait"; seconds: number }
	| { kind: "peers" | "topics" | "status" | "help" | "quit" | "ack" }
	/** The first page of the room's sessions, or (more) the page after the last one shown. */
	| { kind: "sessions"; more: boolean }
	| { kind: "invalid"; message: string };

export const COMMAND_NAMES = [
	"send",
	"send:",
	"reply",
	"reply-all",
	"subscribe",
	"unsubscribe",
	"topics",
	"thread",
	"receipts",
	"peers",
	"sessions",
	"history",
	"history:",
	"inbox",
	"peek",
	"ack",
	"wait",
	"status",
	"help",
	"quit",
];

const SHORT_LIST =
	"send <msg>, send:<ID|#topic|A,B> <msg>, reply <msg>, reply-all <msg>, subscribe <topic>, unsubscribe <topic>, topics, thread <id>, receipts <id>, peers, sessions [more], history [n], inbox [n], peek [n], ack, wait [s], status, help, quit";

function count(arg: string, what: string, def: number, max: number): number | string {
	if (!arg) return def;
	const n = Number(arg);
	if (!Number.isInteger(n) || n < 1 || n > max) return `${what} takes a whole number from 1 to ${max} (got ${JSON.stringify(arg)})`;
	return n;
}

/** Reads one input line. Never throws: a bad line becomes `invalid` with the sentence to show. */
export function parseCommand(input: string): Command {
	const line = input.trim();
	if (!line) return { kind: "empty" };
	const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(line);
	const word = m?.[1] ?? "";
	const rest = (m?.[2] ?? "").trim();
	const lower = word.toLowerCase();

	const colon = lower.indexOf(":");
	if (colon > 0) {
		const name = lower.slice(0, colon);
		const target = word.slice(colon + 1);
		if (name === "send") {
			if (!target) return { kind: "invalid", message: "send:<ID> needs an ID after the colon, e.g. send:CC-2 hello" };
			const parsed = parseTarget(target);
			if (!parsed.ok) return { kind: "invalid", message: `${parsed.reason}` };
			if (!rest) return { kind: "invalid", message: `send:${target} needs a message` };
			return { kind: "send", to: parsed.normalized, body: rest };
		}
		if (name === "history") {
			if (!target) return { kind: "invalid", message: "history:<ID> needs an ID after the colon, e.g. history:CC-2 10 (history:#topic for a topic's log)" };
			const n = count(rest, "history", 20, 500);
			return typeof n === "string" ? { kind: "invalid", message: n } : { kind: "history", with: target, limit: n };
		}
	}
	switch (lower) {
		case "send":
			if (!rest) return { kind: "invalid", message: "send needs a message (send <message> goes to everyone; send:<ID> <message> to one)" };
			return { kind: "send", to: "*", body: rest };
		case "reply":
		case "r":
		case "reply-all":
			if (!rest) return { kind: "invalid", message: `${lower} needs a message` };
			return { kind: "reply", body: rest, all: lower === "reply-all" };
		case "subscribe":
		case "unsubscribe":
			if (!rest || /\s/.test(rest)) return { kind: "invalid", message: `${lower} takes one topic name, e.g. ${lower} shop:api` };
			return { kind: lower, topic: rest };
		case "thread":
		case "receipts":
			if (!MESSAGE_ID_PATTERN.test(rest)) return { kind: "invalid", message: `${lower} takes a message id: it ${MESSAGE_ID_HINT}` };
			return { kind: lower, id: rest };
		case "history": {
			const n = count(rest, "history", 20, 500);
			return typeof n === "string" ? { kind: "invalid", message: n } : { kind: "history", limit: n };
		}
		case "inbox":
		case "peek": {
			const n = count(rest, lower, 20, 1000);
			return typeof n === "string" ? { kind: "invalid", message: n } : { kind: "inbox", limit: n, peek: lower === "peek" };
		}
		case "wait": {
			if (!rest) return { kind: "wait", seconds: 30 };
			const s = Number(rest);
			if (!Number.isFinite(s) || s <= 0 || s > 86_400) return { kind: "invalid", message: `wait takes a number of seconds up to 86400 (got ${JSON.stringify(rest)})` };
			return { kind: "wait", seconds: s };
		}
		case "sessions":
			if (rest && rest.toLowerCase() !== "more") return { kind: "invalid", message: `sessions takes nothing, or "more" for the next page (got ${JSON.stringify(rest)})` };
			return { kind: "sessions", more: rest !== "" };
		case "peers":
		case "topics":
		case "status":
		case "help":
		case "ack":
			if (rest) return { kind: "invalid", message: `${lower} takes no arguments` };
			return { kind: lower };
		case "?":
			return { kind: "help" };
		case "quit":
		case "exit":
		case "q":
			return { kind: "quit" };
	}
	return { kind: "invalid", message: `unknown command ${JSON.stringify(word)}; commands: ${SHORT_LIST}` };
}

/** readline completer: command names, and online peer IDs after `send:` / `history:`. */
export function complete(line: string, peers: Iterable<string>): [string[], string] {
	const m = /^(send|history):(\S*)$/i.exec(line);
	if (m) {
		const [, cmd, prefix = ""] = m;
		const hits = [...peers]
			.filter((p) => p.startsWith(prefix))
			.sort()
			.map((p) => `${cmd}:${p} `);
		return [hits, line];
	}
	if (/\s/.test(line)) return [[], line];
	const hits = COMMAND_NAMES.filter((c) => c.startsWith(line.toLowerCase()));
	return [hits.length ? hits : COMMAND_NAMES, line];
}

// ---------------------------------------------------------------------------------------------------------
// The screen: output that never breaks the line being typed
// ---------------------------------------------------------------------------------------------------------

export class Screen {
	rl: readline.Interface | null = null;

	constructor(
		readonly out: NodeJS.WriteStream,
		readonly err: NodeJS.WriteStream,
		readonly tty: boolean,
		readonly style: Style,
	) {}

	info(text: string): void {
		this.#emit(this.out, text);
	}

	/** Errors and warnings often quote the hub (its sentences name hosts): made safe here, before painting. */
	error(text: string): void {
		const safe = sanitizeLine(text);
		this.#emit(this.err, this.tty ? paint(this.style, "red", safe) : safe);
	}

	warn(text: string): void {
		const safe = sanitizeLine(text);
		this.#emit(this.err, this.tty ? paint(this.style, "yellow", safe) : safe);
	}

	/**
	 * On a terminal with a prompt: clear the prompt and the partial input (every row it wraps over), print,
	 * then have readline redraw prompt + input below, with the cursor where it was in the input.
	 */
	#emit(stream: NodeJS.WriteStream, text: string): void {
		const rl = this.rl;
		if (!this.tty || !rl) {
			stream.write(`${text}\n`);
			return;
		}
		// Where the cursor is now, in rows below the prompt's first row (computed from the input and the
		// terminal width, so it is right even for pasted input, which readline echoes without tracking rows).
		const rows = rl.getCursorPos().rows;
		if (rows > 0) readline.moveCursor(this.out, 0, -rows);
		readline.cursorTo(this.out, 0);
		readline.clearScreenDown(this.out);
		stream.write(`${text}\n`);
		// readline's redraw first moves up by the rows it believes the cursor is below the prompt (its
		// `prevRows`, which pasted input leaves stale). The cursor is now at the start of a fresh row: tell it so.
		const state = rl as unknown as { prevRows?: unknown };
		if (typeof state.prevRows === "number") state.prevRows = 0;
		else if (rows > 0) this.out.write("\n".repeat(rows)); // a readline without prevRows: best effort
		rl.prompt(true);
	}
}

// ---------------------------------------------------------------------------------------------------------
// The session
// ---------------------------------------------------------------------------------------------------------

class ClientSession {
	readonly client: HubClient;
	readonly peers = new Set<string>();
	#connected = false;
	#everReady = false;
	#last: Message | null = null;
	#received = 0;
	#arrivedSinceWait = 0;
	#waiters = new Set<() => void>();
	#ackQueue: string[] = [];
	#ackScheduled = false;
	#unacked: string[] = [];
	/**
	 * Ids of the messages printed in this session. The backlog comes twice: pushed after hello, and in the
	 * answer to the person's own `inbox`/`peek`, which can arrive before those pushes or before their acks
	 * land (on Redis, every time). Each message is printed once.
	 */
	readonly #shown = new Set<string>();
	readonly #inflight = new Set<Promise<unknown>>();
	#finishing = false;
	#lines: string[] = [];
	#busy = false;
	#inputEnded = false;
	#cancelWait: (() => void) | null = null;
	/** Where the next `sessions more` page starts, and how many sessions the pages so far showed. */
	#sessionsPage: { cursor: string; shown: number } | null = null;

	constructor(
		readonly setup: ConnectSetup,
		readonly args: ClientArgs,
		readonly screen: Screen,
	) {
		this.client = new HubClient({
			url: setup.url,
			session: setup.id,
			room: setup.room,
			token: setup.token,
			home: setup.home,
			meta: setup.meta,
			// `<host>-<pid>` names this run only: the hub forgets it when the client quits, and its secret is
			// not worth a file.
			secrets: setup.idSource === "hostname-pid" ? new MemorySecretStore() : setup.secrets,
			ephemeral: setup.idSource === "hostname-pid",
			// A person watching: joins and leaves are shown live, and the peer list feeds tab completion.
			presence: true,
			helloPeers: 500,
			reconnect: true,
			requestTimeoutMs: args.timeout * 1000,
			connectTimeoutMs: Math.min(args.timeout * 1000, 5_000),
		});
		this.client.on("ready", (hello) => this.#onReady(hello));
		this.client.on("disconnected", (info) => this.#onDisconnected(info));
		this.client.on("message", (m) => this.#onMessage(m));
		this.client.on("receipt", (r) => this.screen.info(paint(this.screen.style, "green", formatReceiptPush(r))));
		this.client.on("peer_joined", (peer) => {
			this.peers.add(peer.session);
			this.screen.info(paint(this.screen.style, "dim", sanitizeLine(`* ${peer.session} joined${peer.meta.host ? ` (${peer.meta.host})` : ""}`)));
		});
		this.client.on("peer_left", (info) => {
			this.peers.delete(info.session);
			this.screen.info(paint(this.screen.style, "dim", `* ${info.session} left (${info.reason})`));
		});
		this.client.on("fatal", (err) => {
			if (!this.#everReady) return; // the first connection's failure is reported by connect()
			this.screen.error(`${err.code}: ${err.message}`);
			void this.finish(1);
		});
	}

	get style(): Style {
		return this.screen.style;
	}

	/** Waits for the first hello; fails fast (with the sentence to show) on a refusal or an unreachable hub. */
	connect(): Promise<ResultOf<"hello">> {
		const client = this.client;
		return new Promise((resolve, reject) => {
			const refusal = new Set<string>([ErrorCode.ID_TAKEN, ErrorCode.UNREACHABLE, ErrorCode.AUTH, ErrorCode.BAD_ID, ErrorCode.NOT_REGISTERED]);
			const finish = (f: () => void) => {
				clearInterval(poll);
				clearTimeout(timer);
				client.off("ready", onReady);
				client.off("fatal", onFatal);
				client.off("refused", onFatal);
				client.off("disconnected", check);
				f();
			};
			const onReady = (h: ResultOf<"hello">) => finish(() => resolve(h));
			const onFatal = (e: RelayError) => finish(() => reject(e));
			// A hello refused with E_ID_TAKEN is not fatal to a reconnecting HubClient (the holder may go
			// away; it emits "refused" and retries); for a person at a prompt it is: they pick another ID.
			// A hub that is down only shows in lastError (set just after the socket's close), hence the poll.
			const check = () => {
				const e = client.lastError;
				// With several hubs listed, one that is down is not the end: the next is tried first.
				if (e?.code === ErrorCode.UNREACHABLE && client.failedAttempts < client.urls.length) return;
				if (e && refusal.has(e.code)) finish(() => reject(e));
			};
			const poll = setInterval(check, 25);
			const timer = setTimeout(
				() => finish(() => reject(client.lastError ?? new RelayError(ErrorCode.UNREACHABLE, `${unreachableHint(client.urls)} (no answer within ${this.args.timeout} s)`))),
				this.args.timeout * 1000,
			);
			client.on("ready", onReady);
			client.on("fatal", onFatal);
			client.on("refused", onFatal);
			client.on("disconnected", check);
		});
	}

	#onReady(hello: ResultOf<"hello">): void {
		this.peers.clear();
		for (const p of hello.peers) this.peers.add(p.session);
		const online = hello.peers.map((p) => p.session);
		const who = `${online.length} peer${online.length === 1 ? "" : "s"} online${online.length ? ` (${online.join(", ")})` : ""}`;
		const waiting = `${hello.pending} message${hello.pending === 1 ? "" : "s"} waiting`;
		if (!this.#everReady) {
			this.screen.info(`connected to ${this.client.url} as ${hello.session} in room ${hello.room}: ${who}, ${waiting}`);
		} else {
			// With several hubs listed, say which one took us back.
			const where = this.client.urls.length > 1 ? ` to ${this.client.url}` : "";
			this.screen.info(paint(this.style, "green", `* reconnected${where} as ${hello.session}: ${who}, ${waiting}`));
		}
		if (hello.lost > 0) {
			this.screen.warn(`warning: ${hello.lost} message${hello.lost === 1 ? " was" : "s were"} deleted by the hub's retention before this session read ${hello.lost === 1 ? "it" : "them"}`);
		}
		this.#everReady = true;
		this.#connected = true;
		this.topics = new Set(hello.topics ?? []);
		void this.#subscribeConfigured();
	}

	/** This session's topics as the hub last said. */
	topics = new Set<string>();

	/** Subscribes to `--topics` the hub does not have yet (once each; the hub keeps them). */
	async #subscribeConfigured(): Promise<void> {
		for (const topic of this.args.topics ?? []) {
			if (this.topics.has(topic)) continue;
			try {
				const r = await this.#track(this.client.request("subscribe", { topic }));
				this.topics = new Set(r.topics);
				this.screen.info(paint(this.style, "dim", `* subscribed to #${sanitizeLine(r.topic)}`));
			} catch (err) {
				this.screen.warn(`warning: could not subscribe to ${JSON.stringify(topic)}: ${(err as RelayError).message}`);
			}
		}
	}

	#onDisconnected(info: { code: number; reason: string }): void {
		if (!this.#connected) return;
		this.#connected = false;
		if (this.#finishing) return;
		const why = this.client.lastError?.message ?? `code ${info.code}${info.reason ? ` ${info.reason}` : ""}`;
		this.screen.warn(`* connection lost: ${why}`);
	}

	/** Records a message as printed; false if it was already (the caller then prints nothing). */
	#firstShowing(id: string): boolean {
		if (this.#shown.has(id)) return false;
		this.#shown.add(id);
		if (this.#shown.size > SHOWN_WINDOW) {
			const oldest = this.#shown.values().next().value;
			if (oldest !== undefined) this.#shown.delete(oldest);
		}
		return true;
	}

	#onMessage(m: Message): void {
		if (!this.#firstShowing(m.id)) {
			// Shown already by `inbox`/`peek`. Auto-ack still acks it (a peek did not); --no-ack leaves it.
			if (this.args.ack) this.#queueAck(m.id);
			return;
		}
		this.screen.info(formatMessage(m, this.style));
		this.#last = m;
		this.#received++;
		this.#arrivedSinceWait++;
		for (const wake of this.#waiters) wake();
		if (this.args.ack) this.#queueAck(m.id);
		else this.#unacked.push(m.id);
	}

	#track<T>(p: Promise<T>): Promise<T> {
		this.#inflight.add(p);
		const drop = () => this.#inflight.delete(p);
		p.then(drop, drop);
		return p;
	}

	#queueAck(id: string): void {
		this.#ackQueue.push(id);
		if (this.#ackScheduled) return;
		this.#ackScheduled = true;
		// One ack for everything printed in this turn of the event loop (a backlog replay is one burst).
		setImmediate(() => {
			this.#ackScheduled = false;
			void this.#flushAcks();
		});
	}

	#flushAcks(): Promise<void> {
		const ids = this.#ackQueue.splice(0);
		const jobs: Promise<unknown>[] = [];
		for (let i = 0; i < ids.length; i += 1000) {
			const chunk = ids.slice(i, i + 1000);
			jobs.push(
				this.#track(
					this.client.ack(chunk).catch((err: RelayError) => {
						this.screen.warn(`warning: could not ack ${chunk.length} message${chunk.length === 1 ? "" : "s"} (${err.message}); the hub will offer ${chunk.length === 1 ? "it" : "them"} again`);
					}),
				),
			);
		}
		return Promise.all(jobs).then(() => undefined);
	}

	// ----- input -----------------------------------------------------------------------------------------

	attach(rl: readline.Interface): void {
		this.screen.rl = this.screen.tty ? rl : null;
		rl.on("line", (line) => {
			this.#lines.push(line);
			void this.#pump();
		});
		rl.on("close", () => {
			this.#inputEnded = true;
			void this.#pump();
		});
		if (this.screen.tty) {
			rl.on("SIGINT", () => {
				if (this.#cancelWait) this.#cancelWait();
				else if (rl.line) {
					// Ctrl-C with something typed: drop it, like a shell.
					rl.write(null, { ctrl: true, name: "u" });
				} else void this.finish(0);
			});
		}
	}

	prompt(): void {
		if (this.screen.tty && this.screen.rl && !this.#finishing) this.screen.rl.prompt();
	}

	/** Runs queued lines one at a time; once input has ended and nothing is left, finishes. */
	async #pump(): Promise<void> {
		if (this.#busy || this.#finishing) return;
		this.#busy = true;
		try {
			while (this.#lines.length > 0 && !this.#finishing) {
				const line = this.#lines.shift() ?? "";
				const quit = await this.execute(parseCommand(line));
				if (quit) {
					await this.finish(0);
					return;
				}
				if (this.#lines.length === 0) this.prompt();
			}
		} finally {
			this.#busy = false;
		}
		if (this.#inputEnded && this.#lines.length === 0) await this.finish(0);
	}

	/** Runs one command; true means quit. Every failure is printed as one line, never thrown. */
	async execute(cmd: Command): Promise<boolean> {
		try {
			return await this.#run(cmd);
		} catch (err) {
			if (err instanceof RelayError) this.screen.error(`${err.code}: ${err.message}`);
			else this.screen.error(`error: ${(err as Error).message ?? String(err)}`);
			return false;
		}
	}

	async #run(cmd: Command): Promise<boolean> {
		const client = this.client;
		switch (cmd.kind) {
			case "empty":
				return false;
			case "invalid":
				this.screen.error(cmd.message);
				return false;
			case "quit":
				return true;
			case "help":
				for (const l of CLIENT_HELP) this.screen.info(l);
				return false;
			case "send":
				await this.#send(cmd.to, cmd.body);
				return false;
			case "reply": {
				const last = this.#last;
				if (!last) {
					this.screen.error("nothing to reply to yet: no message has arrived in this session");
					return false;
				}
				await this.#send(cmd.all ? replyAllTarget(last, this.setup.id) : last.from, cmd.body, last.id);
				return false;
			}
			case "subscribe":
			case "unsubscribe": {
				const r = await this.#track(client.request(cmd.kind, { topic: cmd.topic }));
				this.topics = new Set(r.topics);
				const done = cmd.kind === "subscribe" ? (r.changed ? "subscribed to" : "already subscribed to") : r.changed ? "unsubscribed from" : "was not subscribed to";
				const all = r.topics.length ? r.topics.map((t) => `#${t}`).join(", ") : "none";
				this.screen.info(sanitizeLine(`${done} #${r.topic}; your topics: ${all}`));
				return false;
			}
			case "topics": {
				const r = await this.#track(client.request("topics", {}));
				for (const l of formatTopics(r.topics, this.setup.room, Date.now(), this.style)) this.screen.info(l);
				return false;
			}
			case "thread": {
				const r = await this.#track(client.request("thread", { message: cmd.id, limit: 100 }));
				this.screen.info(sanitizeLine(`thread ${r.thread}: ${r.messages.length} message${r.messages.length === 1 ? "" : "s"}${r.hasMore ? " (more: only the first 100 shown)" : ""}`));
				for (const m of r.messages) this.screen.info(formatMessage(m, this.style));
				return false;
			}
			case "receipts": {
				const r = await this.#track(client.request("receipts", { message: cmd.id }));
				for (const l of formatReceipts(r.message, r.receipts, this.style)) this.screen.info(l);
				return false;
			}
			case "peers": {
				const r = await this.#track(client.request("peers", {}));
				this.peers.clear();
				for (const p of r.peers) this.peers.add(p.session);
				for (const l of formatPeers(r.peers, this.setup.room, this.style)) this.screen.info(l);
				return false;
			}
			case "sessions": {
				const next = this.#sessionsPage;
				if (cmd.more && !next) {
					this.screen.info("no more sessions to show: `sessions` shows the first page");
					return false;
				}
				const r = await this.#track(client.request("sessions", cmd.more && next ? { cursor: next.cursor } : {}));
				for (const l of formatSessions(r.sessions, this.setup.room, this.setup.id, Date.now(), this.style)) this.screen.info(l);
				// The hub answers a page at a time; say what is left and how to see it.
				const shown = (cmd.more && next ? next.shown : 0) + r.sessions.length;
				this.#sessionsPage = r.hasMore && r.nextCursor ? { cursor: r.nextCursor, shown } : null;
				if (this.#sessionsPage) this.screen.info(paint(this.style, "dim", `(${shown} of ${r.total} shown: sessions more for the next page)`));
				return false;
			}
			case "history": {
				const params: { limit: number; with?: string; topic?: string } = { limit: cmd.limit };
				if (cmd.with?.startsWith(TOPIC_PREFIX)) params.topic = cmd.with;
				else if (cmd.with) params.with = cmd.with;
				const r = await this.#track(client.request("history", params));
				if (r.messages.length === 0) this.screen.info(cmd.with ? `no messages with ${cmd.with}` : "no messages yet");
				for (const m of r.messages) this.screen.info(formatMessage(m, this.style));
				if (r.truncated) this.screen.info(paint(this.style, "dim", "(older messages were deleted by the hub's retention)"));
				else if (r.hasMore) this.screen.info(paint(this.style, "dim", `(older messages exist: history${cmd.with ? `:${cmd.with}` : ""} ${Math.min(500, cmd.limit * 2)})`));
				return false;
			}
			case "inbox": {
				// Acks of what was printed go first, so the hub does not hand those messages back.
				if (this.args.ack) await this.#flushAcks();
				const r = await this.#track(client.request("inbox", { limit: cmd.limit, peek: cmd.peek }));
				// With --no-ack, printed messages stay unread on purpose and `inbox`/`peek` list them again; with
				// auto-ack, one printed a moment ago (its ack still on the way) is not shown twice.
				const fresh: Message[] = [];
				for (const m of r.messages) if (this.#firstShowing(m.id) || !this.args.ack) fresh.push(m);
				for (const m of fresh) this.screen.info(formatMessage(m, this.style));
				const last = fresh.at(-1);
				if (last) this.#last = last;
				const n = fresh.length;
				const what = n === 0 ? "inbox empty" : `${n} message${n === 1 ? "" : "s"} ${cmd.peek ? "shown (not acked)" : "read and acked"}`;
				this.screen.info(`${what}${r.remaining ? `; ${r.remaining} more waiting` : ""}`);
				return false;
			}
			case "ack": {
				if (this.args.ack) {
					this.screen.info("nothing to ack: messages are acked as they are printed (start with --no-ack to ack by hand)");
					return false;
				}
				const ids = this.#unacked.splice(0);
				let acked = 0;
				for (let i = 0; i < ids.length; i += 1000) acked += (await this.#track(client.ack(ids.slice(i, i + 1000)))).acked;
				this.screen.info(`acked ${acked} message${acked === 1 ? "" : "s"}`);
				return false;
			}
			case "wait":
				await this.#wait(cmd.seconds);
				return false;
			case "status":
				this.screen.info(
					formatStatus({
						id: this.setup.id,
						room: this.setup.room,
						url: client.urls.length > 1 ? `${client.url} (of ${client.urls.join(", ")})` : client.url,
						connected: client.ready,
						hello: client.hello,
						connectedSince: client.connectedSince,
						rttMs: client.rttMs,
						peers: this.peers.size,
						lastError: client.lastError?.message ?? null,
						autoAck: this.args.ack,
						received: this.#received,
						topics: [...this.topics],
					}),
				);
				return false;
		}
	}

	async #send(to: string, body: string, replyTo?: string): Promise<void> {
		// A body over the hub's limit is refused by HubClient at once (E_TOO_LARGE), never sent.
		const opts: { replyTo?: string } = {};
		if (replyTo) opts.replyTo = replyTo;
		const r = await this.#track(this.client.send(to, body, opts));
		this.screen.info(formatSendOutcome(r));
		for (const w of formatWarnings(r, this.style)) this.screen.warn(w);
	}

	/** Returns at once if a message arrived since the last wait; else waits for one, up to `seconds`. */
	async #wait(seconds: number): Promise<void> {
		if (this.#arrivedSinceWait > 0) {
			const n = this.#arrivedSinceWait;
			this.#arrivedSinceWait = 0;
			this.screen.info(`${n} message${n === 1 ? "" : "s"} arrived since the last wait`);
			return;
		}
		const outcome = await new Promise<"message" | "timeout" | "cancelled">((resolve) => {
			const done = (how: "message" | "timeout" | "cancelled") => {
				clearTimeout(timer);
				this.#waiters.delete(onMessage);
				this.#cancelWait = null;
				resolve(how);
			};
			const onMessage = () => done("message");
			const timer = setTimeout(() => done("timeout"), seconds * 1000);
			this.#waiters.add(onMessage);
			this.#cancelWait = () => done("cancelled");
		});
		const n = this.#arrivedSinceWait;
		this.#arrivedSinceWait = 0;
		if (outcome === "message") this.screen.info(`${n} message${n === 1 ? "" : "s"} arrived`);
		else if (outcome === "timeout") this.screen.info(`no message within ${seconds} s`);
		else this.screen.info("wait cancelled");
	}

	/** Lets every answer and ack in flight arrive, says bye, and exits with `code`. */
	async finish(code: number): Promise<void> {
		if (this.#finishing) return;
		this.#finishing = true;
		this.#cancelWait?.();
		await this.#flushAcks();
		await Promise.allSettled([...this.#inflight]);
		await this.client.close({ bye: true, timeoutMs: 1_000 });
		const rl = this.screen.rl;
		this.screen.rl = null;
		if (rl) {
			if (this.screen.tty) this.screen.out.write("\n");
			rl.close();
		}
		await exitAfterFlush(code);
	}
}

/** How many printed message ids the client remembers, to print each once (like HubClient's dedupe window). */
const SHOWN_WINDOW = 10_000;
/**
 * Where `reply-all` goes: the topic or `*` the message was sent to, or, for a list, its sender and the
 * others it named (not this session); for a direct message, its sender.
 */
export function replyAllTarget(m: Message, me: string): string {
	if (m.to === BROADCAST || m.to.startsWith(TOPIC_PREFIX)) return m.to;
	const others = m.to.split(",").filter((s) => s !== me && s !== m.from);
	return [m.from, ...others].join(",");
}

/** process.exit only once stdout and stderr have taken everything (pipes are asynchronous on macOS). */
async function exitAfterFlush(code: number): Promise<never> {
	await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => (s.writableLength === 0 ? resolve() : s.write("", () => resolve())))));
	process.exit(code);
}

export async function runClient(args: ClientArgs): Promise<void> {
	const setup = resolveSetup({ id: args.id, url: args.url, room: args.room, tokenFile: args.tokenFile }, { client: "claude-relay-client" });
	const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
	const color = tty && !process.env.NO_COLOR && process.stdout.hasColors?.() !== false;
	const screen = new Screen(process.stdout, process.stderr, tty, { color, multiline: tty });
	// A reader that goes away (`| head`) ends the session quietly instead of crashing on EPIPE.
	process.stdout.on("error", () => process.exit(0));

	const session = new ClientSession(setup, args, screen);
	try {
		await session.connect();
	} catch (err) {
		await session.client.close({ bye: false });
		const e = err as RelayError;
		let message = e.message;
		if (e.code === ErrorCode.ID_TAKEN) {
			const source = describeIdSource(setup);
			if (source) message += ` (${source}; give another: \`claude-relay client <ID>\`)`;
		}
		throw new UserError(message, 1);
	}

	const rl = readline.createInterface({
		input: process.stdin,
		// Piped: no output stream at all, so readline never writes a prompt into the data.
		output: tty ? process.stdout : undefined,
		terminal: tty,
		prompt: `${setup.id}> `,
		historySize: 200,
		...(tty ? { completer: (line: string) => complete(line, session.peers) } : {}),
	});
	session.attach(rl);
	if (tty) {
		screen.info(paint(screen.style, "dim", "type help for the commands; Tab completes commands and peer IDs; Ctrl-D quits"));
		session.prompt();
	} else {
		for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void session.finish(sig === "SIGINT" ? 130 : 143));
	}
	// From here the open socket and stdin keep the process alive; the session ends it (finish → process.exit).
}
