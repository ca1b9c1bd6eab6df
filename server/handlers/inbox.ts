/**
 * inbox / ack / get: the recipient side of delivery state, which lives in the hub. `inbox` returns unacked
 * messages oldest first and (unless peek) acks exactly those; `remaining` says how many still wait, so a
 * client can page through any backlog without skipping. `ack` is for messages that arrived as pushes.
 *
 * Acking is what makes a delivery `seen` (its receipt, written in the same step): the bridge acks what it
 * handed to its model, so a consuming `inbox` is seen by the client that read it. Each sender is told.
 */
import { ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import { boundSession, type HandlerContext } from "./context.js";
import type { RequestOf, ResultOf } from "../protocol.js";
import { publishSeen } from "./receipts.js";

export async function handleInbox(ctx: HandlerContext, conn: Connection, frame: RequestOf<"inbox">): Promise<ResultOf<"inbox">> {
	const s = boundSession(conn);
	const query = {
		limit: frame.limit ?? ctx.options.inboxDefaultLimit,
		...(frame.from ? { from: frame.from } : {}),
		...(frame.replyTo ? { replyTo: frame.replyTo } : {}),
	};
	if (frame.peek) {
		const page = await ctx.store.pending(s.room, s.session, query);
		return { messages: page.messages, remaining: page.remaining, acked: false };
	}
	const seenAt = Date.now();
	const page = await ctx.store.takePending(s.room, s.session, { ...query, seenAt });
	publishSeen(ctx, s.room, s.session, page.messages.map((m) => ({ id: m.id, seq: m.seq, from: m.from, seenAt })));
	acked(ctx, s.room, s.session, page.messages.length, () => page.messages.map((m) => m.id));
	return { messages: page.messages, remaining: page.remaining, acked: true };
}

export async function handleAck(ctx: HandlerContext, conn: Connection, frame: RequestOf<"ack">): Promise<ResultOf<"ack">> {
	const s = boundSession(conn);
	const seen = await ctx.store.ackSeen(s.room, s.session, frame.ids, Date.now());
	publishSeen(ctx, s.room, s.session, seen);
	acked(ctx, s.room, s.session, seen.length, () => seen.map((d) => d.id));
	return { acked: seen.length };
}

/** Counts acks for /metrics and tells the dashboard (if anyone watches) which ids this session acked. */
function acked(ctx: HandlerContext, room: string, session: string, n: number, ids: () => string[]): void {
	if (n === 0) return;
	ctx.metrics.acked(room, n);
	ctx.events.sink?.({ kind: "acked", room, session, ids: ids() });
}

export async function handleGet(ctx: HandlerContext, conn: Connection, frame: RequestOf<"get">): Promise<ResultOf<"get">> {
	const s = boundSession(conn);
	const message = await ctx.store.getMessage(s.room, frame.message, s.session);
	if (!message) throw new RelayError(ErrorCode.NOT_FOUND, `No message ${frame.message} that ${s.session} may read (it may have been removed by retention).`);
	return { message };
}
