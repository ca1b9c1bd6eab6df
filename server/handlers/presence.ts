/** peers (who is online in my room) and sessions (everyone the room has seen, online or not). */
import { ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import type { Hub } from "../hub.js";
import type { RequestOf, ResultOf, SessionInfo } from "../protocol.js";

export async function handlePeers(hub: Hub, conn: Connection, _frame: RequestOf<"peers">): Promise<ResultOf<"peers">> {
	const s = conn.session;
	if (!s) throw new RelayError(ErrorCode.NOT_REGISTERED, "Say hello first.");
	const now = Date.now();
	return { peers: hub.online(s.room).filter((c) => c !== conn).map((c) => c.peerInfo(now)) };
}

export async function handleSessions(hub: Hub, conn: Connection, _frame: RequestOf<"sessions">): Promise<ResultOf<"sessions">> {
	const s = conn.session;
	if (!s) throw new RelayError(ErrorCode.NOT_REGISTERED, "Say hello first.");
	return { sessions: await sessionInfos(hub, s.room) };
}

/** Every session the room has seen, online first, then most recently seen. Also served as GET /sessions. */
export async function sessionInfos(hub: Hub, room: string): Promise<SessionInfo[]> {
	const records = await hub.store.listSessions(room);
	const sessions = await Promise.all(
		records.map(async (r) => {
			const holder = hub.holder(r.room, r.session);
			return {
				session: r.session,
				room: r.room,
				online: Boolean(holder?.open),
				meta: holder?.session?.meta ?? r.meta,
				firstSeen: r.firstSeen,
				lastSeen: holder?.open ? Date.now() : r.lastSeen,
				pending: await hub.store.countPending(r.room, r.session),
			};
		}),
	);
	sessions.sort((a, b) => Number(b.online) - Number(a.online) || b.lastSeen - a.lastSeen);
	return sessions;
}
