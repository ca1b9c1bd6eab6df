/**
 * history: read the log without touching anyone's inbox. A session sees broadcasts in its room and its own
 * direct messages, never a direct conversation between two others; with `topic`, a topic's whole log
 * (topics are public in their room). Paged by seq; `truncated` says the page reached back past what
 * retention kept.
 */
import { ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import { boundSession, type HandlerContext } from "./context.js";
import { checkName, type RequestOf, type ResultOf } from "../protocol.js";
import { topicName } from "./topics.js";

export async function handleHistory(ctx: HandlerContext, conn: Connection, frame: RequestOf<"history">): Promise<ResultOf<"history">> {
	const s = boundSession(conn);
	if (frame.with !== undefined) {
		const check = checkName(frame.with, "peer ID");
		if (!check.ok) throw new RelayError(ErrorCode.BAD_TARGET, check.reason);
	}
	if (frame.topic !== undefined && frame.with !== undefined) {
		throw new RelayError(ErrorCode.BAD_FRAME, "history takes `with` (a conversation) or `topic` (a topic's log), not both.");
	}
	const topic = frame.topic === undefined ? undefined : topicName(frame.topic);
	const limit = frame.limit ?? 50;
	const page = await ctx.store.history(s.room, {
		viewer: s.session,
		limit,
		...(frame.with !== undefined ? { with: frame.with } : {}),
		...(topic !== undefined ? { topic } : {}),
		...(frame.before !== undefined ? { before: frame.before } : {}),
		...(frame.after !== undefined ? { after: frame.after } : {}),
	});
	const [oldestSeq, prunedThrough] = await Promise.all([ctx.store.oldestSeq(s.room), ctx.store.prunedThrough(s.room)]);
	// Say when a page reached into history that retention deleted, instead of silently returning less:
	// paging forward from a cursor at or below the watermark, or paging back to the start of what is left.
	const pagingBack = frame.after === undefined;
	const truncated = prunedThrough > 0 && ((frame.after !== undefined && frame.after < prunedThrough) || (pagingBack && !page.hasMore));
	return { messages: page.messages, hasMore: page.hasMore, oldestSeq, truncated };
}
