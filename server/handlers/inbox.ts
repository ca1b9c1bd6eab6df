/**
 * inbox / ack / get: the recipient side of delivery state, which lives in the hub. `inbox` returns unacked
 * messages oldest first and (unless peek) acks exactly those; `remaining` says how many still wait, so a
 * client can page through any backlog without skipping. `ack` is for messages that arrived as pushes.
 */
import { ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import { boundSession, type HandlerContext } from "./context.js";
import type { RequestOf, ResultOf } from "../protocol.js";

export async function handleInbox(ctx: HandlerContext, conn: Connection, frame: RequestOf<"inbox">): Promise<ResultOf<"inbox">> {
	const s = boundSession(conn);
	const query = { limit: frame.limit ?? ctx.options.inboxDefaultLimit, ...(frame.from ? { from: frame.from } : {}) };
	const page = frame.peek ? await ctx.store.pending(s.room, s.session, query) : await ctx.store.takePending(s.room, s.session, query);
	if (!frame.peek) acked(ctx, s.room, s.session, page.messages.length, () => page.messages.map((m) => m.id));
	return { messages: page.messages, remaining: page.remaining, acked: !frame.peek };
}

export async function handleAck(ctx: HandlerContext, conn: Connection, frame: RequestOf<"ack">): Promise<ResultOf<"ack">> {
	const s = boundSession(conn);
	const n = await ctx.store.ack(s.room, s.session, frame.ids);
	// The ids asked for are all acked now (those that changed, and those that already were).
	acked(ctx, s.room, s.session, n, () => frame.ids);
	return { acked: n };
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
