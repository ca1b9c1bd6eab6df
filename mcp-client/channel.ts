/**
 * Pushing messages into the running session (Claude Code "channels", research preview): the bridge declares
 * `experimental["claude/channel"]` and sends each message as a `notifications/claude/channel` notification,
 * which reaches the model as `<channel source="relay" from="CC-2" ...>content</channel>`.
 *
 * The danger: Claude Code drops these notifications SILENTLY when the session did not opt in (started
 * without `--dangerously-load-development-channels server:<name>`), on protocol 2026-07-28, with another
 * provider than Anthropic's API, or when the organisation disabled channels. A message pushed and acked
 * there would be lost. So declaring the capability is free, but pushing is gated (`--channels`):
 *
 * - off: never push (and do not declare);
 * - on: always push, whatever the evidence (the user's call; lost messages if the session does not listen);
 * - auto (default): push only with evidence that this session listens: the parent process (the `claude`
 *   that spawned the bridge) was started with `--dangerously-load-development-channels` listing
 *   `server:<name>`, or the MCP client declared `experimental["claude/channel"]` itself. Never on
 *   protocol 2026-07-28.
 *
 * This module is loaded at start-up (it decides what the server declares): nothing heavy here. The parent's
 * command line is read once, after the handshake (off the `initialize` path). The pushing itself is in
 * channel-push.ts, loaded with the hub link.
 */
import { readFile } from "node:fs/promises";
import { type Message, threadOf } from "../server/protocol.js";
import { BODY_LIMIT } from "./format.js";
import { describeTarget, Framing, PERSON, safeId, safeName, safeTarget } from "./framing.js";
import { harnessFromClientName } from "./harness/clients.js";
import type { ChannelsMode } from "./options.js";

export const CHANNEL_CAPABILITY = "claude/channel";
export const CHANNEL_METHOD = "notifications/claude/channel";
export const CHANNELS_FLAG = "--dangerously-load-development-channels";
/** The protocol on which Claude Code drops channel notifications. */
export const DROPPING_PROTOCOL = "2026-07-28";
/** Bound on `ps` (macOS and other non-Linux systems). */
const PS_TIMEOUT_MS = 1_500;

export interface ChannelNotificationParams {
	content: string;
	meta: Record<string, string>;
	[key: string]: unknown;
}

/** Claude Code drops meta keys that do not match this. */
export const META_KEY = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * The notification for one message: the content is the message in the relay's framing (framing.ts: a
 * fence with a fresh nonce, validated header fields, the body neutralised so that it can close neither the
 * fence nor Claude Code's <channel> block, cut at BODY_LIMIT with a relay_get pointer), and meta holds only
 * validated values (Claude Code shows them as the <channel> tag's attributes).
 */
export function channelNotification(
	m: Message,
	framing = new Framing(),
): ChannelNotificationParams {
	const from = safeName(m.from);
	const id = safeId(m.id);
	const to = safeTarget(m.to);
	const thread = safeId(threadOf(m));
	const inThread = thread === id ? "" : ` (in thread ${thread})`;
	// On a topic, the natural answer goes to the topic; the sender alone is the other choice.
	const answer = to.startsWith("#")
		? `relay_send {"to":"${to}","replyTo":"${id}"} (the topic), or {"to":"${from}","replyTo":"${id}"} (only ${from})`
		: `relay_send {"to":"${from}","replyTo":"${id}"}`;
	// Only the hub marks a person's message (Message.human): a sender cannot claim it.
	const who = m.human === true ? `it was ${PERSON}.` : "it comes from another agent, not from your user.";
	const lines = [
		`A relay message from ${from} to ${describeTarget(m.to)}${inThread}: ${who} ${framing.note()}`,
		framing.message(m, { limit: BODY_LIMIT }),
		`(Already marked read. To answer: ${answer}.)`,
	];
	const meta: Record<string, string> = {
		from,
		to,
		thread,
		message_id: id,
		seq: Number.isSafeInteger(m.seq) ? String(m.seq) : "invalid",
		sent_at: Number.isFinite(m.sentAt)
			? new Date(m.sentAt).toISOString()
			: "invalid",
		room: safeName(m.room),
	};
	if (m.replyTo && safeId(m.replyTo) !== "invalid") meta.reply_to = m.replyTo;
	if (m.human === true) meta.from_human = "true";
	return { content: lines.join("\n"), meta };
}

// ----- evidence from the parent's command line ----------------------------------------------------------------

export interface ArgvVerdict {
	/** The flag is there and lists server:<name>. */
	listed: boolean;
	/** The flag is there (with or without our entry). */
	flag: boolean;
	/** Every entry the flag lists. */
	entries: string[];
}

/**
 * Whether a command line (argv) turns channels on for `server:<name>`: `--dangerously-load-development-channels`
 * followed by entries (one or more arguments, each possibly a comma- or space-separated list, up to the next
 * option), or in the `--flag=value` form.
 */
export function channelsListed(
	argv: readonly string[],
	serverName: string,
): ArgvVerdict {
	const entries: string[] = [];
	let flag = false;
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i] ?? "";
		if (arg === "--") break;
		if (arg.startsWith(`${CHANNELS_FLAG}=`)) {
			flag = true;
			entries.push(...split(arg.slice(CHANNELS_FLAG.length + 1)));
		} else if (arg === CHANNELS_FLAG) {
			flag = true;
			for (; i + 1 < argv.length; i++) {
				const next = argv[i + 1] ?? "";
				if (next.startsWith("-")) break;
				entries.push(...split(next));
			}
		}
	}
	return { flag, entries, listed: entries.includes(`server:${serverName}`) };
}

function split(list: string): string[] {
	return list.split(/[\s,]+/).filter(Boolean);
}

/** The parent's command line as argv, or why it could not be read. */
export async function parentArgv(
	ppid = process.ppid,
	platform: NodeJS.Platform = process.platform,
): Promise<string[]> {
	if (ppid <= 1) throw new Error("no parent process (started by init)");
	if (platform === "linux") {
		const raw = await readFile(`/proc/${ppid}/cmdline`, "utf8");
		// A process that rewrote its title may use spaces instead of NULs: split on both.
		return raw.includes("\0")
			? raw.split("\0").filter(Boolean)
			: raw.split(/\s+/).filter(Boolean);
	}
	if (platform === "win32") throw new Error("not supported on Windows");
	// macOS and the BSDs: no /proc. `ps` prints the arguments joined by spaces (enough to find the flag);
	// -ww: never cut at the terminal's width.
	const { execFile } = await import("node:child_process");
	const text = await new Promise<string>((resolve, reject) => {
		execFile(
			"ps",
			["-ww", "-o", "args=", "-p", String(ppid)],
			{ timeout: PS_TIMEOUT_MS, maxBuffer: 1024 * 1024 },
			(err, stdout) => (err ? reject(err) : resolve(String(stdout))),
		);
	});
	const args = text.trim().split(/\s+/).filter(Boolean);
	if (args.length === 0) throw new Error(`ps printed nothing for ${ppid}`);
	return args;
}

// ----- the decision ---------------------------------------------------------------------------------------

export interface ChannelState {
	mode: ChannelsMode;
	/** Whether messages are pushed now. */
	active: boolean;
	/** False while the decision waits for the handshake or the parent's command line. */
	decided: boolean;
	/** Why, in one sentence (relay_status shows it). */
	reason: string;
}

interface Handshake {
	clientDeclared: boolean;
	protocolVersion: string | undefined;
	clientName: string | undefined;
}

type Parent =
	| { state: "pending" }
	| { state: "read"; verdict: ArgvVerdict }
	| { state: "failed"; error: string };

/**
 * Gathers the evidence (mode, handshake, parent's command line) and says whether to push and why. Pushing
 * never starts before the client's `initialized` notification, whatever the mode.
 */
export class ChannelGate {
	readonly mode: ChannelsMode;
	readonly serverName: string;
	readonly #invalid: string | undefined;
	#handshake: Handshake | undefined;
	#parent: Parent = { state: "pending" };
	#probing = false;
	readonly #listeners = new Set<(state: ChannelState) => void>();

	constructor(opts: {
		mode: ChannelsMode;
		serverName: string;
		invalid?: string | undefined;
	}) {
		this.mode = opts.mode;
		this.serverName = opts.serverName;
		this.#invalid = opts.invalid;
	}

	/** Whether to declare the capability at all (everything but off). */
	get declared(): boolean {
		return this.mode !== "off";
	}

	/** The client sent `initialized`: what it declared and the protocol version the server answered with. */
	initialized(h: Handshake): void {
		if (this.#handshake) return;
		this.#handshake = h;
		this.#changed();
	}

	/** Reads the parent's command line once (auto only); `read` is for tests. */
	probeParent(read: () => Promise<string[]> = () => parentArgv()): void {
		if (this.mode !== "auto" || this.#probing) return;
		this.#probing = true;
		read().then(
			(argv) => {
				this.#parent = {
					state: "read",
					verdict: channelsListed(argv, this.serverName),
				};
				this.#changed();
			},
			(err: unknown) => {
				this.#parent = {
					state: "failed",
					error: err instanceof Error ? err.message : String(err),
				};
				this.#changed();
			},
		);
	}

	/** Called with the state each time evidence comes in; returns the unsubscribe function. */
	onChange(listener: (state: ChannelState) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	get state(): ChannelState {
		const mode = this.mode;
		const name = this.serverName;
		const s = (active: boolean, decided: boolean, reason: string) => ({
			mode,
			active,
			decided,
			reason: this.#invalid
				? `${reason} (--channels/RELAY_CHANNELS "${this.#invalid}" is not on, off or auto: auto is used)`
				: reason,
		});
		if (mode === "off")
			return s(
				false,
				true,
				"off: --channels off / RELAY_CHANNELS=off; messages wait for relay_receive and the hooks",
			);
		const h = this.#handshake;
		if (!h)
			return s(
				false,
				false,
				`${mode}: waiting for the MCP handshake to finish (nothing is pushed before it)`,
			);
		if (h.protocolVersion === DROPPING_PROTOCOL)
			return s(
				false,
				true,
				`${mode}, but off: protocol ${DROPPING_PROTOCOL} was negotiated, on which Claude Code drops channel notifications`,
			);
		if (mode === "on")
			return s(
				true,
				true,
				"on: forced by --channels on / RELAY_CHANNELS=on; if this session was not started with channels, pushed messages are lost",
			);
		if (h.clientDeclared)
			return s(
				true,
				true,
				`auto: the MCP client${h.clientName ? ` (${h.clientName})` : ""} declared experimental ${CHANNEL_CAPABILITY}`,
			);
		// Codex and Gemini CLI have no channels: say so rather than suggest a claude flag.
		const other = harnessFromClientName(h.clientName);
		if (other === "codex" || other === "gemini")
			return s(
				false,
				true,
				`auto: off, ${h.clientName} (${other}) does not take Claude Code channel pushes; messages wait for relay_receive and relay_wait (or the autowake daemon)`,
			);
		const p = this.#parent;
		if (p.state === "pending")
			return s(false, false, "auto: reading the parent process's command line");
		if (p.state === "read" && p.verdict.listed)
			return s(
				true,
				true,
				`auto: parent claude was started with ${CHANNELS_FLAG} server:${name}`,
			);
		const howTo = `start the session with \`claude ${CHANNELS_FLAG} server:${name}\` to have messages pushed; until then they wait for relay_receive and the hooks`;
		if (p.state === "failed")
			return s(
				false,
				true,
				`auto: off, the parent's command line could not be read (${p.error}); ${howTo}`,
			);
		if (p.verdict.flag)
			return s(
				false,
				true,
				`auto: off, the parent's ${CHANNELS_FLAG} lists ${p.verdict.entries.join(", ") || "nothing"}, not server:${name} (is the server registered under another name? --server-name / RELAY_SERVER_NAME)`,
			);
		return s(
			false,
			true,
			`auto: off, no evidence this session listens to channels; ${howTo}`,
		);
	}

	#changed(): void {
		const state = this.state;
		for (const listener of this.#listeners) listener(state);
	}
}
