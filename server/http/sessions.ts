/**
 * GET /sessions?room=NAME&limit=N&cursor=C: the `sessions` answer (one page) for tools that must not claim an
 * ID to ask (`claude-relay sessions`). Behind the hub token when there is one, like the WebSocket.
 */
import { ErrorCode } from "../errors.js";
import { MAX_SESSIONS_PAGE, sessionPage } from "../handlers/presence.js";
import type { Route } from "./router.js";
import { HttpError, intParam, roomParam, sendJson } from "./respond.js";

export const sessionsRoute: Route = {
	method: "GET",
	path: "/sessions",
	access: "token",
	async handle(ctx, _req, res, url) {
		const room = roomParam(url);
		const limit = intParam(url, "limit", 1, MAX_SESSIONS_PAGE);
		const cursor = url.searchParams.get("cursor") ?? undefined;
		if (cursor !== undefined && cursor.length > 256) throw new HttpError(400, ErrorCode.BAD_FRAME, "cursor is longer than 256 characters.");
		sendJson(res, 200, { room, ...(await sessionPage(ctx.hub, room, { limit, cursor })) });
	},
};
