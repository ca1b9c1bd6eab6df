/**
 * Reads one inbound frame, validates it, and hands it to the handler for its type (server/handlers/).
 * Every failure becomes an `error` frame with a stable code; nothing here throws to the socket, so bad
 * input never closes the connection (except a wrong token, which must).
 */
import type { RawData } from "ws";
import type { Connection } from "./connection.js";
import type { Handler, HandlerContext } from "./handlers/context.js";
import { Deferred } from "./inbound.js";
import { sendResultFrame } from "./message-json.js";
import { CloseCode, ErrorCode, isRelayError } from "./errors.js";
import { handleForget } from "./handlers/forget.js";
import { handleHello } from "./handlers/hello.js";
import { handleAck, handleGet, handleInbox } from "./handlers/inbox.js";
import { handleHistory } from "./handlers/history.js";
import { handleBye, handlePing } from "./handlers/ping.js";
import { handlePeers, handleSessions } from "./handlers/presence.js";
import { handleRename } from "./handlers/rename.js";
import { handleUnread } from "./handlers/unread.js";
import { handleSend } from "./handlers/send.js";
import { handleClaim, handleClaims, handleRelease } from "./handlers/claims.js";
import { handleStateAppend, handleStateDelete, handleStateGet, handleStateList, handleStateSet } from "./handlers/state.js";
import { handleUnwatch, handleWatch } from "./handlers/watch.js";
import { handleReceipts } from "./handlers/receipts.js";
import { handleThread } from "./handlers/thread.js";
import { handleSubscribe, handleTopics, handleUnsubscribe } from "./handlers/topics.js";
import { ClientFrame, REQUEST_TYPES, type RequestId, type RequestType, type ResultOf } from "./protocol.js";
import { StorageError } from "./store/store.js";

const handlers: { [T in RequestType]: Handler<T> } = {
	hello: handleHello,
	send: handleSend,
	inbox: handleInbox,
	ack: handleAck,
	get: handleGet,
	history: handleHistory,
	peers: handlePeers,
	sessions: handleSessions,
	forget: handleForget,
	ping: handlePing,
	bye: handleBye,
	state_get: handleStateGet,
	state_set: handleStateSet,
	state_append: handleStateAppend,
	state_delete: handleStateDelete,
	state_list: handleStateList,
	watch: handleWatch,
	unwatch: handleUnwatch,
	claim: handleClaim,
	release: handleRelease,
	claims: handleClaims,
	rename: handleRename,
	unread: handleUnread,
	subscribe: handleSubscribe,
	unsubscribe: handleUnsubscribe,
	topics: handleTopics,
	thread: handleThread,
	receipts: handleReceipts,
};

/** How often a connection paused for not reading its answers looks at its send buffer again. */
const DRAIN_POLL_MS = 25;

/**
 * Requests whose answer can be large (a page of messages or sessions): nothing after one is read until it is
 * answered, so the send-buffer check above bounds what a client that does not read can make the hub hold
 * (the mark plus one answer).
 */
const LARGE_ANSWERS: ReadonlySet<string> = new Set(["inbox", "history", "sessions", "get"]);

const KNOWN_TYPES: ReadonlySet<string> = new Set(REQUEST_TYPES);

/** Finds a request id in a frame we will not fully parse (too large), so the error can still be correlated. */
function sniffId(text: string): RequestId | null {
	const re = /"id"\s*:\s*(?:"([^"\\]{1,64})"|(-?\d{1,15})\b)/;
	// JSON puts no order on keys: look at both ends of the frame, never at all of it.
	const m = re.exec(text.slice(0, 4096)) ?? re.exec(text.slice(-4096));
	if (!m) return null;
	return m[1] !== undefined ? m[1] : Number(m[2]);
}

function idOf(value: unknown): RequestId | null {
	if (typeof value !== "object" || value === null) return null;
	const id = (value as { id?: unknown }).id;
	if (typeof id === "string" && id.length > 0 && id.length <= 64) return id;
	if (typeof id === "number" && Number.isSafeInteger(id)) return id;
	return null;
}

function describeIssues(issues: { path: PropertyKey[]; message: string }[]): string {
	return issues
		.slice(0, 3)
		.map((i) => (i.path.length ? `${i.path.map(String).join(".")}: ${i.message}` : i.message))
		.join("; ");
}

/**
 * `closing` says whether the hub is shutting down (then every request but the frame checks is refused).
 */
export async function routeFrame(
	ctx: HandlerContext,
	conn: Connection,
	data: RawData,
	isBinary: boolean,
	closing: () => boolean,
): Promise<void> {
	conn.lastActive = Date.now();
	conn.alive = true;

	// Order first: while the connection is throttled, every frame waits behind the ones already held.
	const gate = conn.gate;
	if (gate.throttled) {
		gate.hold(data, isBinary);
		return;
	}
	// This turn of the event loop has done its share of inbound work: the rest waits, in order (a storm).
	if (ctx.turns.mustWait()) {
		gate.hold(data, isBinary, true);
		gate.waitTurn(ctx.turns);
		return;
	}
	// A connection that does not read its answers stops being read: its answers stay within the send
	// buffer's mark (plus one answer), and the slow-consumer check drops it if it never drains.
	if (conn.ws.bufferedAmount > ctx.options.sendBufferHighBytes) {
		ctx.metrics.throttled.send_buffer++;
		gate.hold(data, isBinary, true);
		gate.throttle(DRAIN_POLL_MS);
		return;
	}
	// Over the frame rate: slowed down, not refused (see server/inbound.ts for why).
	if (!conn.bucket.take()) {
		ctx.metrics.throttled.rate++;
		gate.hold(data, isBinary, true);
		gate.throttle(conn.bucket.waitMs(1));
		return;
	}

	const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
	if (isBinary) {
		conn.error(null, ErrorCode.BAD_FRAME, "Binary frames are not accepted; send JSON text frames.");
		return;
	}
	const text = data.toString();
	if (size > ctx.options.maxFrameBytes) {
		conn.error(sniffId(text), ErrorCode.TOO_LARGE, `Frame of ${size} bytes is over the ${ctx.options.maxFrameBytes}-byte limit.`);
		return;
	}

	let raw: unknown;
	try {
		raw = JSON.parse(text);
	} catch {
		conn.error(sniffId(text), ErrorCode.BAD_FRAME, "Frame is not valid JSON.");
		return;
	}
	const id = idOf(raw);
	if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
		conn.error(null, ErrorCode.BAD_FRAME, "Frame must be a JSON object with a `type`.");
		return;
	}
	const type = (raw as { type?: unknown }).type;
	if (typeof type !== "string") {
		conn.error(id, ErrorCode.BAD_FRAME, "Frame has no string `type`.");
		return;
	}
	if (!KNOWN_TYPES.has(type)) {
		conn.error(id, ErrorCode.UNKNOWN_TYPE, `Unknown frame type ${JSON.stringify(type.slice(0, 40))}; known: ${REQUEST_TYPES.join(", ")}.`);
		return;
	}
	const parsed = ClientFrame.safeParse(raw);
	if (!parsed.success) {
		conn.error(id, ErrorCode.BAD_FRAME, `Invalid ${type} frame: ${describeIssues(parsed.error.issues)}.`);
		return;
	}
	const frame = parsed.data;

	// hello, forget and unread carry their own credentials (forget and unread are for tools that must not claim
	// an ID to ask: `sessions forget`, the autowake daemon).
	const sessionless = frame.type === "hello" || frame.type === "forget" || frame.type === "unread";
	if (!conn.authenticated && !sessionless) {
		conn.error(frame.id, ErrorCode.AUTH, "This hub requires a token; send it in hello or at connect.");
		conn.close(CloseCode.AUTH, "token required");
		return;
	}
	if (!sessionless && !conn.session) {
		conn.error(frame.id, ErrorCode.NOT_REGISTERED, `Say hello first: ${frame.type} needs a session.`);
		return;
	}
	if (closing()) {
		conn.error(frame.id, ErrorCode.SHUTTING_DOWN, "The hub is shutting down; reconnect in a moment.");
		return;
	}

	try {
		const handler = handlers[frame.type] as Handler<typeof frame.type>;
		const handled = handler(ctx, conn, frame as never);
		if (LARGE_ANSWERS.has(frame.type)) gate.until(handled);
		const result = await handled;
		// A send's result carries its message, as already serialized for the journal and the pushes.
		if (frame.type === "send") conn.sendText(sendResultFrame(frame.id, result as ResultOf<"send">));
		else conn.reply(frame.id, result);
		if (frame.type === "hello") ctx.presence.afterHello(conn);
		if (frame.type === "bye") ctx.presence.leave(conn, "bye");
	} catch (err) {
		if (err instanceof Deferred) {
			// The handler spent a budget and throttled the gate (synchronously, before any later frame was
			// read): this frame goes first when it opens.
			gate.hold(data, isBinary, true);
			return;
		}
		if (isRelayError(err)) {
			conn.error(frame.id, err.code, err.message, err.details);
			if (err.code === ErrorCode.AUTH) conn.close(CloseCode.AUTH, "bad token");
			return;
		}
		if (err instanceof StorageError) {
			ctx.log.error({ err, code: err.code, cid: conn.cid, type: frame.type }, "storage failed");
			conn.error(
				frame.id,
				ErrorCode.STORAGE,
				err.maybeApplied
					? `The hub's storage failed: ${err.message}. This request was not applied, unless it was already on its way to the storage when the connection dropped; retry it later (a send with the same key is stored once; the hub's /healthz says when storage works again).`
					: `The hub's storage failed: ${err.message}. This request was not applied; retry it later (the hub's /healthz says when storage works again).`,
			);
			return;
		}
		ctx.log.error({ err, cid: conn.cid, type: frame.type }, "handler failed");
		conn.error(frame.id, ErrorCode.INTERNAL, "The hub failed to handle this request; it was not applied.");
	}
}

