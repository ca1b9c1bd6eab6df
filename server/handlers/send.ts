/**
 * send: commit a message, then push it to whoever is online. The reply goes out only after the store has
 * committed it, and it says who had it pushed live and who will get it on their next connect. `to` is a
 * session, `*`, a `#topic` (its subscribers, read by the store at commit) or a list of sessions.
 *
 * Order: nothing before `store.append` awaits, so appends reach the store in the order frames arrived on
 * this connection, and the store assigns seqs in that order (order per sender is kept).
 *
 * The checks and the commit are also what the dashboard's composer uses (server/http/api/send.ts), with the
 * hub's operator as the sender and the message marked human.
 */
import type { Connection } from "../connection.js";
import { ErrorCode, RelayError, WarningCode } from "../errors.js";
import { Deferred } from "../inbound.js";
import { parseTarget, type RequestOf, type ResultOf, type Target, type Warning } from "../protocol.js";
import type { AppendInput } from "../store/store.js";
import { boundSession, type HandlerContext } from "./context.js";

declare global {
	interface String {
		/**
		 * ES2024, in Node 20. Declared here rather than raising tsconfig's lib to ES2024, which would also let
		 * ES2024 APIs that Node 20 lacks (Promise.withResolvers) type-check.
		 */
		isWellFormed(): boolean;
	}
}

/** E_TOO_LARGE or E_BAD_FRAME for a body the hub cannot store. */
export function checkBody(ctx: Pick<HandlerContext, "options">, body: string): void {
	// A UTF-16 code unit is 1 to 3 bytes of UTF-8, so most bodies are under the limit by their length alone;
	// only the rest are counted (a pass over the body: 40 us for 64 KiB).
	const max = ctx.options.maxBodyBytes;
	if (body.length * 3 > max) {
		const bytes = Buffer.byteLength(body, "utf8");
		if (bytes > max) {
			throw new RelayError(ErrorCode.TOO_LARGE, `Message body of ${bytes} bytes is over the ${max}-byte limit; split it or send a file path.`);
		}
	}
	// JSON allows a lone UTF-16 surrogate ("\ud800"); UTF-8 storage cannot hold one, so the stored body would
	// differ from the one pushed live. Refuse it rather than let readers see two versions of one message.
	// isWellFormed is native: 0.2 us for 256 bytes and 50 us for 64 KiB, where the regex it replaced took 1 and 240.
	if (!body.isWellFormed()) {
		throw new RelayError(ErrorCode.BAD_FRAME, "Message body contains an unpaired UTF-16 surrogate, which is not valid Unicode text.");
	}
}

/** The target of `to` and `to` as stored (normalized), or E_BAD_TARGET. */
export function checkTarget(to: string | readonly string[]): { target: Target; normalized: string } {
	const parsed = parseTarget(to);
	if (!parsed.ok) throw new RelayError(ErrorCode.BAD_TARGET, parsed.reason);
	return { target: parsed.target, normalized: parsed.normalized };
}

/**
 * Who gets a delivery, and the warnings to send back: a broadcast goes to every session the room has but the
 * sender; a topic's audience is read by the store at commit (`topic` says which); direct messages and lists
 * to their addressees, known or not (the hub's operator counts as known: it is the name the dashboard sends
 * as, and it reads everything there).
 */
export function recipientsFor(
	ctx: Pick<HandlerContext, "options">,
	known: ReadonlySet<string>,
	room: string,
	sender: string,
	target: Target,
): { recipients: string[]; warnings: Warning[]; topic?: string } {
	const warnings: Warning[] = [];
	if (target.kind === "broadcast") {
		const recipients = [...known].filter((id) => id !== sender);
		if (recipients.length === 0) {
			warnings.push({ code: WarningCode.NO_RECIPIENTS, message: `Nobody else has joined room ${room} yet; the message is stored but reaches no one.` });
		}
		return { recipients, warnings };
	}
	// The store reads the topic's subscribers in the append itself: the audience is who subscribed at commit.
	if (target.kind === "topic") return { recipients: [], warnings, topic: target.topic };
	const recipients = target.kind === "session" ? [target.session] : target.sessions;
	if (recipients.includes(sender)) throw new RelayError(ErrorCode.BAD_TARGET, "A session cannot send to itself.");
	const unknown = recipients.filter((r) => !known.has(r) && r !== ctx.options.operatorName);
	if (unknown.length > 0) {
		const who = unknown.join(", ");
		const one = unknown.length === 1;
		warnings.push({
			code: WarningCode.UNKNOWN_RECIPIENT,
			message: `${who} ${one ? "has" : "have"} never connected to room ${room}; the message is queued and will be delivered if ${one ? "it ever does" : "they ever do"}. Known: ${[...known].slice(0, 20).join(", ") || "none"}.`,
		});
	}
	return { recipients, warnings };
}

/**
 * Commits a message and publishes it, counting it for /metrics; `startedAt` (performance.now()) is when the
 * hub started handling it. Resolves with the send result.
 */
export async function commitMessage(
	ctx: Pick<HandlerContext, "store" | "fanout" | "presence" | "metrics">,
	input: AppendInput,
	warnings: Warning[],
	startedAt: number,
): Promise<ResultOf<"send">> {
	const result = await ctx.store.append(input);
	const committed = performance.now();
	ctx.metrics.sendCommit.record((committed - startedAt) / 1000);
	if (!result.duplicate) {
		ctx.metrics.committed(input.room, result.recipients.length, input.sentAt);
		const published = ctx.fanout.publish({ kind: "message", message: result.message, recipients: result.recipients });
		// The in-process fan-out has pushed to this hub's connections by now; another engine pushes later,
		// from whichever hub holds the recipient, where this hub cannot time it.
		if (ctx.fanout.kind === "local") ctx.metrics.commitPush.record((performance.now() - committed) / 1000);
		await published;
	}
	if (input.topic !== undefined && result.recipients.length === 0) {
		warnings.push({
			code: WarningCode.NO_SUBSCRIBERS,
			message: `Nobody else subscribes to #${input.topic} in room ${input.room}; the message is in its log (history {topic}) but reaches no one.`,
		});
	}
	const live: string[] = [];
	const queued: string[] = [];
	// Online on any hub sharing the store: that hub pushes it (the fan-out reaches every hub).
	for (const r of result.recipients) (ctx.presence.isOnline(input.room, r) ? live : queued).push(r);
	return { message: result.message, duplicate: result.duplicate, live, queued, warnings };
}

export async function handleSend(ctx: HandlerContext, conn: Connection, frame: RequestOf<"send">): Promise<ResultOf<"send">> {
	const startedAt = performance.now();
	const s = boundSession(conn);
	checkBody(ctx, frame.body);
	const { target, normalized } = checkTarget(frame.to);
	const { recipients, warnings, topic } = recipientsFor(ctx, ctx.presence.knownSessionsLoaded(s.room), s.room, s.session, target);

	// A broadcast costs a delivery (a row, kept until read) per recipient: the address's budget for them bounds
	// what a flood of legal-rate broadcasts to a full room can make the hub write. Over the budget, the
	// connection is slowed down, not refused (server/inbound.ts): throttled here, synchronously, before any
	// later frame of it is read, and this frame is handled again when the budget allows.
	if (target.kind === "broadcast" && recipients.length > 0 && !ctx.broadcasts.take(conn.remote, recipients.length)) {
		ctx.metrics.throttled.broadcast_budget++;
		conn.gate.throttle(ctx.broadcasts.waitMs(conn.remote, recipients.length));
		throw new Deferred();
	}

	const result = await commitMessage(
		ctx,
		{
			room: s.room,
			from: s.session,
			to: normalized,
			body: frame.body,
			replyTo: frame.replyTo ?? null,
			key: frame.key ?? null,
			recipients,
			...(topic !== undefined ? { topic } : {}),
			sentAt: Date.now(),
		},
		warnings,
		startedAt,
	);
	// A topic's audience is known only once committed (the store reads it in the append, for order), so its
	// deliveries are charged to the address's budget afterwards: past it, what this connection sends next
	// waits, as a broadcast would.
	if (topic !== undefined && !result.duplicate && result.message && !ctx.broadcasts.take(conn.remote, result.live.length + result.queued.length)) {
		ctx.metrics.throttled.broadcast_budget++;
		conn.gate.throttle(ctx.broadcasts.waitMs(conn.remote, result.live.length + result.queued.length));
	}
	return result;
}
