/**
 * GET /api/messages?room=&before=&after=&limit=&session=: a room's messages by seq, oldest first, every one of
 * them (direct messages between two other sessions too: the operator sees everything), bodies cut to a
 * preview (server/http/preview.ts). `session=X`: only what X sent or was sent directly.
 */
import type { Route } from "../router.js";
import { preview } from "../preview.js";
import { intParam, roomParam, sendJson, sessionParam } from "../respond.js";

export const messagesRoute: Route = {
	method: "GET",
	path: "/api/messages",
	access: "token",
	async handle(ctx, _req, res, url) {
		const o = ctx.hub.options;
		const room = roomParam(url);
		const limit = intParam(url, "limit", 1, o.apiPageMax) ?? Math.min(100, o.apiPageMax);
		const before = intParam(url, "before", 0, Number.MAX_SAFE_INTEGER);
		const after = intParam(url, "after", 0, Number.MAX_SAFE_INTEGER);
		const session = sessionParam(url, "session");
		const store = ctx.hub.store;
		const [page, oldestSeq] = await Promise.all([
			store.operator.messages(room, {
				limit,
				...(before !== undefined ? { before } : {}),
				...(after !== undefined ? { after } : {}),
				...(session !== undefined ? { session } : {}),
			}),
			store.oldestSeq(room),
		]);
		sendJson(res, 200, { room, messages: page.messages.map((m) => preview(m)), hasMore: page.hasMore, oldestSeq });
	},
};
