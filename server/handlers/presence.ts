/** peers (who is online in my room) and sessions (everyone the room has seen, online or not). */
import type { Connection } from "../connection.js";
import { boundSession, type HandlerContext } from "./context.js";
import type { RequestOf, ResultOf, SessionInfo } from "../protocol.js";

export async function handlePeers(ctx: HandlerContext, conn: Connection, _frame: RequestOf<"peers">): Promise<ResultOf<"peers">> {
	const s = boundSession(conn);
	const now = Date.now();
	return { peers: ctx.presence.online(s.room).filter((c) => c !== conn).map((c) => c.peerInfo(now)) };
}

export async function handleSessions(ctx: HandlerContext, conn: Connection, _frame: RequestOf<"sessions">): Promise<ResultOf<"sessions">> {
	const s = boundSession(conn);
	return { sessions: await sessionInfos(ctx, s.room) };
}

/** Every session the room has seen, online first, then most recently seen. Also served as GET /sessions. */
export async function sessionInfos(ctx: Pick<HandlerContext, "store" | "presence">, room: string): Promise<SessionInfo[]> {
	const records = await ctx.store.listSessions(room);
	const sessions = await Promise.all(
		records.map(async (r) => {
			const holder = ctx.presence.holder(r.room, r.session);
			return {
				session: r.session,
				room: r.room,
				online: Boolean(holder?.open),
				meta: holder?.session?.meta ?? r.meta,
				firstSeen: r.firstSeen,
				lastSeen: holder?.open ? Date.now() : r.lastSeen,
				pending: await ctx.store.countPending(r.room, r.session),
			};
		}),
	);
	sessions.sort((a, b) => Number(b.online) - Number(a.online) || b.lastSeen - a.lastSeen);
	return sessions;
}
