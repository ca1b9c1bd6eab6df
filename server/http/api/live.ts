/** GET /api/live?room=: the live stream (server-sent events; server/http/live.ts). */
import type { Route } from "../router.js";
import { roomParam } from "../respond.js";

export const liveRoute: Route = {
	method: "GET",
	path: "/api/live",
	access: "token",
	handle(ctx, req, res, url) {
		ctx.live.open(req, res, url.searchParams.has("room") ? roomParam(url) : undefined);
	},
};
