/** GET /api/rooms: the rooms that have a session or a message, in byte order, with how many sessions are online in each. */
import type { Route } from "../router.js";
import { intParam, sendJson } from "../respond.js";

export const MAX_ROOMS_PAGE = 1_000;

export const roomsRoute: Route = {
	method: "GET",
	path: "/api/rooms",
	access: "token",
	async handle(ctx, _req, res, url) {
		const limit = intParam(url, "limit", 1, MAX_ROOMS_PAGE) ?? MAX_ROOMS_PAGE;
		const after = url.searchParams.get("after") ?? undefined;
		const { store, presence } = ctx.hub;
		const stored = await store.operator.rooms({ limit: limit + 1, ...(after !== undefined ? { after } : {}) });
		const page = stored.slice(0, limit);
		sendJson(res, 200, {
			rooms: page.map((room) => ({ room, online: presence.online(room).length })),
			hasMore: stored.length > limit,
		});
	},
};
