/**
 * GET /api/topics?room=&after=&limit=: a room's topics (those with a subscriber or a message in the log), by
 * name: every subscriber, online or not, with when it subscribed; how many messages the log holds; the last
 * activity (newest message or subscription).
 */
import { lastActivity, topicName } from "../../handlers/topics.js";
import type { Route } from "../router.js";
import { intParam, roomParam, sendJson } from "../respond.js";

/** Most topics per answer (a room's topics are as many as names were sent to, until retention). */
export const MAX_TOPICS_PAGE = 1_000;

export const topicsRoute: Route = {
	method: "GET",
	path: "/api/topics",
	access: "token",
	async handle(ctx, _req, res, url) {
		const room = roomParam(url);
		const limit = intParam(url, "limit", 1, MAX_TOPICS_PAGE) ?? MAX_TOPICS_PAGE;
		const raw = url.searchParams.get("after");
		const after = raw === null ? undefined : topicName(raw);
		const { store, presence } = ctx.hub;
		// Topic names are ASCII: code-unit order is the stores' byte order.
		const all = (await store.topics.list(room)).filter((t) => after === undefined || t.topic > after);
		sendJson(res, 200, {
			room,
			topics: all.slice(0, limit).map((t) => ({
				topic: t.topic,
				subscribers: t.subscribers.map((s) => ({ session: s.session, since: s.since, online: presence.isOnline(room, s.session) })),
				messages: t.messages,
				lastMessageAt: t.lastMessageAt,
				lastActivity: lastActivity(t),
			})),
			hasMore: all.length > limit,
		});
	},
};
