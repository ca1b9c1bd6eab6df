/**
 * GET /api/threads/<id>?room=&after=&limit=: the whole thread of a message, from any of its ids: its root
 * first, then the replies by seq, every one of them (direct messages between other sessions too: the operator
 * sees everything), bodies cut to a preview, paged forwards with `after`. The room is the named message's
 * (`room=` for an id retention deleted whose replies remain).
 */
import { ErrorCode } from "../../errors.js";
import { preview } from "../preview.js";
import type { Route } from "../router.js";
import { HttpError, intParam, roomParam, sendJson } from "../respond.js";
import { idFromPath } from "./message.js";

export const THREADS_PREFIX = "/api/threads/";

export const threadRoute: Route = {
	method: "GET",
	path: THREADS_PREFIX,
	access: "token",
	async handle(ctx, _req, res, url) {
		const o = ctx.hub.options;
		const id = idFromPath(url, THREADS_PREFIX);
		const limit = intParam(url, "limit", 1, o.apiPageMax) ?? Math.min(100, o.apiPageMax);
		const after = intParam(url, "after", 0, Number.MAX_SAFE_INTEGER);
		const store = ctx.hub.store;
		const room = url.searchParams.has("room") ? roomParam(url) : (await store.operator.deliveries(id))?.message.room;
		const page = room === undefined ? null : await store.operator.thread(room, id, { limit, ...(after !== undefined ? { after } : {}) });
		if (!page || room === undefined) throw new HttpError(404, ErrorCode.NOT_FOUND, `No message ${id}, and no thread of that id${room === undefined ? "" : ` in room ${room}`} (retention may have removed it).`);
		sendJson(res, 200, { room, thread: page.thread, messages: page.messages.map((m) => preview(m)), hasMore: page.hasMore });
	},
};
