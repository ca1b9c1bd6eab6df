/**
 * thread: every message of the thread a message belongs to (whichever of its messages is named), root first
 * then replies in seq order, paged forwards with `after`; only those the asking session may see.
 */
import { ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import type { RequestOf, ResultOf } from "../protocol.js";
import { boundSession, type HandlerContext } from "./context.js";

export const THREAD_DEFAULT_LIMIT = 50;

export async function handleThread(ctx: HandlerContext, conn: Connection, frame: RequestOf<"thread">): Promise<ResultOf<"thread">> {
	const s = boundSession(conn);
	const page = await ctx.store.thread(s.room, frame.message, {
		viewer: s.session,
		limit: frame.limit ?? THREAD_DEFAULT_LIMIT,
		...(frame.after !== undefined ? { after: frame.after } : {}),
	});
	if (!page) throw new RelayError(ErrorCode.NOT_FOUND, `No message ${frame.message} that ${s.session} may read (it may have been removed by retention).`);
	return page;
}
