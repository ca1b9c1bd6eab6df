/**
 * GET /api/topics/<name>?room=&before=&after=&limit=: a topic's log (every message sent to `#name`, whoever
 * subscribed), by seq, oldest first, paged as /api/messages, bodies cut to a preview. `<name>` with or
 * without its `#` (as `%23`).
 */
import { topicName } from "../../handlers/topics.js";
import { ErrorCode } from "../../errors.js";
import { preview } from "../preview.js";
import type { Route } from "../router.js";
import { HttpError, intParam, roomParam, sendJson } from "../respond.js";

export const TOPIC_PREFIX_PATH = "/api/topics/";

export const topicLogRoute: Route = {
	method: "GET",
	path: TOPIC_PREFIX_PATH,
	access: "token",
	async handle(ctx, _req, res, url) {
		const o = ctx.hub.options;
		let raw: string;
		try {
			raw = decodeURIComponent(url.pathname.slice(TOPIC_PREFIX_PATH.length));
		} catch {
			throw new HttpError(400, ErrorCode.BAD_TARGET, "The topic name in the path is not valid percent-encoding.");
		}
		const topic = topicName(raw);
		const room = roomParam(url);
		const limit = intParam(url, "limit", 1, o.apiPageMax) ?? Math.min(100, o.apiPageMax);
		const before = intParam(url, "before", 0, Number.MAX_SAFE_INTEGER);
		const after = intParam(url, "after", 0, Number.MAX_SAFE_INTEGER);
		// A topic's log is public in its room: the viewer does not narrow it.
		const page = await ctx.hub.store.history(room, {
			viewer: o.operatorName,
			topic,
			limit,
			...(before !== undefined ? { before } : {}),
			...(after !== undefined ? { after } : {}),
		});
		sendJson(res, 200, { room, topic, messages: page.messages.map((m) => preview(m)), hasMore: page.hasMore });
	},
};
