/**
 * GET /api/sessions?room=&limit=&cursor=: one page of a room's sessions (the `sessions` answer, docs/PROTOCOL.md),
 * each with `idleMs` (since its last frame) while it is online.
 */
import { MAX_SESSIONS_PAGE, sessionPage } from "../../handlers/presence.js";
import { ErrorCode } from "../../errors.js";
import type { Route } from "../router.js";
import { HttpError, intParam, roomParam, sendJson } from "../respond.js";

export const apiSessionsRoute: Route = {
	method: "GET",
	path: "/api/sessions",
	access: "token",
	async handle(ctx, _req, res, url) {
		const room = roomParam(url);
		const limit = intParam(url, "limit", 1, MAX_SESSIONS_PAGE);
		const cursor = url.searchParams.get("cursor") ?? undefined;
		if (cursor !== undefined && cursor.length > 256) throw new HttpError(400, ErrorCode.BAD_FRAME, "cursor is longer than 256 characters.");
		const page = await sessionPage(ctx.hub, room, { limit, cursor });
		const now = Date.now();
		const sessions = page.sessions.map((s) => {
			const holder = ctx.hub.presence.holder(room, s.session);
			return { ...s, idleMs: holder?.open ? now - holder.lastActive : null };
		});
		sendJson(res, 200, { room, ...page, sessions });
	},
};
