/**
 * How the test client and `claude-relay send` show things to a person: messages, send outcomes, peers,
 * sessions, status. Pure functions (no I/O), so they are tested directly.
 *
 * Everything that came from the hub (bodies, reply ids, hosts, directories, sentences) goes through
 * server/sanitize.ts: control characters, escape sequences and bidi controls are shown as visible text,
 * never written raw, and single-line fields cannot break their line.
 */
import type { Message, PeerInfo, Receipt, ReceiptPush, ResultOf, SessionInfo, TopicInfo } from "../server/protocol.js";
import { clientLabel } from "../mcp-client/harness/clients.js";
import { sanitize, sanitizeLine } from "../server/sanitize.js";

export { sanitize, sanitizeLine };

export interface Style {
	/** ANSI colors (a terminal, NO_COLOR unset). */
	color: boolean;
	/**
	 * true: a multi-line body is printed on indented continuation lines (a terminal).
	 * false: one line per event; newlines and tabs are shown as \n and \t (piped output).
	 */
	multiline: boolean;
}

export const PLAIN: Style = { color: false, multiline: false };

const SGR = { dim: [2, 22], bold: [1, 22], red: [31, 39], yellow: [33, 39], green: [32, 39], cyan: [36, 39] } as const;
type Paint = keyof typeof SGR;

export function paint(style: Style, what: Paint, text: string): string {
	if (!style.color) return text;
	const [on, off] = SGR[what];
	return `\u001b[${on}m${text}\u001b[${off}m`;
}

export function clock(epochMs: number): string {
	const d = new Date(epochMs);
	return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** "3 s", "4 min", "2 h", "5 d". */
export function duration(ms: number): string {
	const s = Math.max(0, Math.round(ms / 1000));
	if (s < 60) return `${s} s`;
	if (s < 3600) return `${Math.round(s / 60)} min`;
	if (s < 86_400) return `${Math.round(s / 3600)} h`;
	return `${Math.round(s / 86_400)} d`;
}

/**
 * `[12:03:04] CC-1 → CC-2: body`: a broadcast shows `→ *`, a topic `→ #shop:api`, a list `→ CC-2,CC-3`; a reply
 * adds `(re m-…)`, and its thread when that is not the message it answers (`(re m-7-…, thread m-5-…)`); a
 * message a person wrote in the hub's dashboard, which only the hub can mark, shows `Operator (person)`.
 */
export function formatMessage(m: Message, style: Style = PLAIN): string {
	const person = m.human === true ? ` ${paint(style, "cyan", "(person)")}` : "";
	const head = `${paint(style, "dim", `[${clock(m.sentAt)}]`)} ${paint(style, "bold", sanitizeLine(m.from))}${person} → ${sanitizeLine(m.to)}`;
	// (A hub that predates threads sends none: then nothing is said about it.)
	const inThread = m.replyTo && m.thread !== undefined && m.thread !== m.replyTo ? `, thread ${sanitizeLine(m.thread)}` : "";
	const re = m.replyTo ? ` ${paint(style, "dim", `(re ${sanitizeLine(m.replyTo)}${inThread})`)}` : "";
	const body = sanitize(m.body, style.multiline);
	if (!style.multiline || !body.includes("\n")) return `${head}${re}: ${body}`;
	return `${head}${re}:\n${body
		.split("\n")
		.map((l) => `    ${l}`)
		.join("\n")}`;
}

/** One line: "delivered live to B (m-3-x)", "queued for C (offline)", both, or "stored; no recipients". */
export function formatSendOutcome(r: ResultOf<"send">): string {
	const parts: string[] = [];
	if (r.live.length) parts.push(`delivered live to ${r.live.join(", ")}`);
	if (r.queued.length) parts.push(`queued for ${r.queued.join(", ")} (offline)`);
	if (!parts.length) parts.push("stored; it reached no one");
	const dup = r.duplicate ? " [duplicate: already sent earlier, not stored again]" : "";
	return sanitizeLine(`${parts.join("; ")} (${r.message.id})${dup}`);
}

/** One line per warning of a send result: "warning: <sentence>". */
export function formatWarnings(r: ResultOf<"send">, style: Style = PLAIN): string[] {
	return r.warnings.map((w) => paint(style, "yellow", `warning: ${sanitizeLine(w.message)}`));
}

function where(meta: PeerInfo["meta"]): string {
	const harness = clientLabel(meta.client);
	return [harness && `[${harness}]`, meta.host, meta.cwd, meta.branch && `(${meta.branch})`].filter(Boolean).join(" ");
}

export function formatPeers(peers: PeerInfo[], room: string, style: Style = PLAIN): string[] {
	if (peers.length === 0) return [`no other session online in room ${room}`];
	return [
		`${peers.length} peer${peers.length === 1 ? "" : "s"} online in room ${room}:`,
		...peers.map((p) => {
			const w = where(p.meta);
			return `  ${paint(style, "bold", sanitizeLine(p.session))}${w ? `  ${sanitizeLine(w)}` : ""}  ${paint(style, "dim", `idle ${duration(p.idleMs)}`)}`;
		}),
	];
}

export function formatSessions(sessions: SessionInfo[], room: string, me: string, now = Date.now(), style: Style = PLAIN): string[] {
	if (sessions.length === 0) return [`no sessions in room ${room}`];
	const width = Math.max(...sessions.map((s) => s.session.length + (s.session === me ? 6 : 0)));
	return [
		`${sessions.length} session${sessions.length === 1 ? "" : "s"} in room ${room}:`,
		...sessions.map((s) => {
			const name = `${sanitizeLine(s.session)}${s.session === me ? " (you)" : ""}`.padEnd(width);
			const state = s.online ? paint(style, "green", "online ") : paint(style, "dim", "offline");
			const seen = s.online ? "" : `  last seen ${duration(now - s.lastSeen)} ago`;
			const w = where(s.meta);
			return `  ${name}  ${state}  ${s.pending} waiting${seen}${w ? `  ${sanitizeLine(w)}` : ""}`;
		}),
	];
}

/** The line printed when a message this session sent was seen: `✓ seen by CC-2 (m-18-a8k2p0)`. */
export function formatReceiptPush(r: Omit<ReceiptPush, "type">): string {
	return sanitizeLine(`✓ ${r.state} by ${r.recipient} (${r.message})`);
}

/** A message's receipts, one line per recipient: `  CC-2  seen     12:03:04`. */
export function formatReceipts(m: Message, receipts: readonly Receipt[], style: Style = PLAIN): string[] {
	const width = Math.max(0, ...receipts.map((r) => r.recipient.length));
	return [
		sanitizeLine(`receipts of ${m.id} (to ${m.to}), sent ${clock(m.sentAt)}:`),
		...receipts.map((r) => {
			const state = r.state === "seen" ? paint(style, "green", "seen  ") : r.state === "pushed" ? "pushed" : paint(style, "dim", "queued");
			return `  ${sanitizeLine(r.recipient).padEnd(width)}  ${state}${r.state === "queued" ? "" : `  ${clock(r.at)}`}`;
		}),
	];
}

/** The room's topics: `  #shop:api  2 subscribers (A, B offline)  5 messages  last 3 min ago  (you)`. */
export function formatTopics(topics: readonly TopicInfo[], room: string, now = Date.now(), style: Style = PLAIN): string[] {
	if (topics.length === 0) return [`no topics in room ${room} yet (subscribe <topic> starts one)`];
	return [
		`${topics.length} topic${topics.length === 1 ? "" : "s"} in room ${room}:`,
		...topics.map((t) => {
			const subs = t.subscribers.map((s) => `${sanitizeLine(s.session)}${s.online ? "" : " offline"}`).join(", ");
			const who = `${t.subscribers.length} subscriber${t.subscribers.length === 1 ? "" : "s"}${subs ? ` (${subs})` : ""}`;
			const last = t.lastActivity === null ? "" : `  last ${duration(now - t.lastActivity)} ago`;
			return `  ${paint(style, "bold", `#${sanitizeLine(t.topic)}`)}  ${who}  ${t.messages} message${t.messages === 1 ? "" : "s"}${last}${t.subscribed ? "  (you)" : ""}`;
		}),
	];
}

export interface StatusInfo {
	id: string;
	room: string;
	url: string;
	connected: boolean;
	hello: ResultOf<"hello"> | null;
	connectedSince: number | null;
	rttMs: number | null;
	peers: number;
	lastError: string | null;
	autoAck: boolean;
	received: number;
	/** This session's topics. */
	topics?: string[];
}

/** One line: "connected as A in room default to ws://…; hub 0.1.0 (protocol 1); 1 peer online; …". */
export function formatStatus(s: StatusInfo, now = Date.now()): string {
	if (!s.connected || !s.hello) {
		return sanitizeLine(`disconnected: ${s.id} in room ${s.room} at ${s.url}; reconnecting${s.lastError ? `; last error: ${s.lastError}` : ""}`);
	}
	const parts = [
		`connected as ${s.id} in room ${s.room} to ${s.url}`,
		`hub ${s.hello.hub.version} (protocol ${s.hello.hub.protocol})`,
		`${s.peers} peer${s.peers === 1 ? "" : "s"} online`,
		`${s.received} message${s.received === 1 ? "" : "s"} received`,
		s.autoAck ? "acked as printed" : "not acked until `ack`",
	];
	if (s.topics?.length) parts.push(`subscribed to ${s.topics.map((t) => `#${t}`).join(", ")}`);
	if (s.connectedSince) parts.push(`up ${duration(now - s.connectedSince)}`);
	if (s.rttMs !== null) parts.push(`rtt ${s.rttMs} ms`);
	return sanitizeLine(parts.join("; "));
}

export const CLIENT_HELP = [
	"commands:",
	"  send <message>        to every other session in the room (*)",
	"  send:<ID> <message>   to one session (Tab completes the IDs online); send:#topic to its subscribers; send:A,B to several",
	"  reply <message>       to the sender of the last message received, as a reply to it",
	"  reply-all <message>   the same, to where it was sent (its #topic, *, or everyone in its list)",
	"  subscribe <topic>     receive what is sent to #topic (the hub keeps it); unsubscribe <topic> stops",
	"  topics                the room's topics: subscribers, messages, last activity",
	"  thread <id>           the whole thread a message is in, oldest first",
	"  receipts <id>         per recipient: queued, pushed or seen (✓ seen by … is printed as it happens)",
	"  peers                 sessions online in this room",
	"  sessions [more]       the sessions the room has, with what waits for each, a page at a time",
	"  history [n]           the last n messages you can see (default 20); history:<ID> [n]: with one peer; history:#topic [n]: a topic's log",
	"  inbox [n]             read and ack up to n unacked messages (default 20)",
	"  peek [n]              the same without acking",
	"  ack                   ack the messages printed so far (when started with --no-ack)",
	"  wait [s]              wait up to s seconds (default 30) for a message (at once if one came since the last wait)",
	"  status                connection, ID, URL, hub version, round trip",
	"  help                  this list",
	"  quit                  leave (also Ctrl-D, or exit)",
	"messages are printed as they arrive.",
];
