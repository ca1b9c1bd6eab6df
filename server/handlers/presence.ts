/**
 * peers (who is online in my room, on every hub) and sessions (every session the room has, online or not,
 * page by page).
 */
import type { Connection } from "../connection.js";
import { boundSession, type HandlerContext } from "./context.js";
import type { RequestOf, ResultOf, SessionInfo } from "../protocol.js";

/** The largest page the protocol allows (SessionsRequest.limit). */
export const MAX_SESSIONS_PAGE = 500;

/** The largest page of peers (PeersRequest.limit, HelloRequest.peers). */
export const MAX_PEERS_PAGE = 500;

export async function handlePeers(ctx: HandlerContext, conn: Connection, frame: RequestOf<"peers">): Promise<ResultOf<"peers">> {
	const s = boundSession(conn);
	const limit = Math.max(1, Math.min(MAX_PEERS_PAGE, frame.limit ?? MAX_PEERS_PAGE));
	const page = ctx.presence.peerPage(s.room, conn, limit, frame.cursor);
	return { peers: page.peers, total: page.total, hasMore: page.hasMore, nextCursor: page.hasMore ? (page.peers.at(-1)?.session ?? null) : null };
}

export async function handleSessions(ctx: HandlerContext, conn: Connection, frame: RequestOf<"sessions">): Promise<ResultOf<"sessions">> {
	const s = boundSession(conn);
	return sessionPage(ctx, s.room, { limit: frame.limit, cursor: frame.cursor });
}

/**
 * One page of the room's sessions, in ID order, after `cursor` (the last ID of the previous page). Also
 * served as GET /sessions. Pages are bounded because an answer with every session of a crowded room was
 * megabytes (5,000 sessions with full metadata: 24 MB).
 */
export async function sessionPage(
	ctx: Pick<HandlerContext, "store" | "presence" | "options">,
	room: string,
	query: { limit?: number | undefined; cursor?: string | undefined },
): Promise<ResultOf<"sessions">> {
	const limit = Math.max(1, Math.min(MAX_SESSIONS_PAGE, query.limit ?? ctx.options.sessionsPageLimit));
	// One more than asked tells whether there are more.
	const [records, total] = await Promise.all([
		ctx.store.listSessions(room, { limit: limit + 1, ...(query.cursor !== undefined ? { after: query.cursor } : {}) }),
		ctx.store.countSessions(room),
	]);
	const page = records.slice(0, limit);
	const now = Date.now();
	const sessions: SessionInfo[] = await Promise.all(
		page.map(async (r) => {
			// Online on any hub; the meta a live session gave at its hello beats the stored one.
			const holder = ctx.presence.holder(r.room, r.session);
			const online = ctx.presence.isOnline(r.room, r.session);
			return {
				session: r.session,
				room: r.room,
				online,
				meta: (holder?.open ? holder.session?.meta : undefined) ?? ctx.presence.remoteMeta(r.room, r.session) ?? r.meta,
				firstSeen: r.firstSeen,
				lastSeen: online ? now : r.lastSeen,
				pending: await ctx.store.countPending(r.room, r.session),
				ephemeral: r.ephemeral,
			};
		}),
	);
	const hasMore = records.length > limit;
	return { sessions, hasMore, nextCursor: hasMore ? (page.at(-1)?.session ?? null) : null, total };
}
