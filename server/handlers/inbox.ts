/**
 * inbox / ack / get: the recipient side of delivery state, which lives in the hub. `inbox` returns unacked
 * messages oldest first and (unless peek) acks exactly those; `remaining` says how many still wait, so a
 * client can page through any backlog without skipping. `ack` is for messages that arrived as pushes.
 */
import { ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import type { Hub } from "../hub.js";
import type { RequestOf, ResultOf } from "../protocol.js";

function bound(conn: Connection) {
	const s = conn.session;
	if (!s) throw new RelayError(ErrorCode.NOT_REGISTERED, "Say hello first.");
	return s;
}

export async function handleInbox(hub: Hub, conn: Connection, frame: RequestOf<"inbox">): Promise<ResultOf<"inbox">> {
	const s = bound(conn);
	const query = { limit: frame.limit ?? hub.options.inboxDefaultLimit, ...(frame.from ? { from: frame.from } : {}) };
	const page = frame.peek ? await hub.store.pending(s.room, s.session, query) : await hub.store.takePending(s.room, s.session, query);
	return { messages: page.messages, remaining: page.remaining, acked: !frame.peek };
}

export async function handleAck(hub: Hub, conn: Connection, frame: RequestOf<"ack">): Promise<ResultOf<"ack">> {
	const s = bound(conn);
	return { acked: await hub.store.ack(s.room, s.session, frame.ids) };
}

export async function handleGet(hub: Hub, conn: Connection, frame: RequestOf<"get">): Promise<ResultOf<"get">> {
	const s = bound(conn);
	const message = await hub.store.getMessage(s.room, frame.message, s.session);
	if (!message) throw new RelayError(ErrorCode.NOT_FOUND, `No message ${frame.message} that ${s.session} may read (it may have been removed by retention).`);
	return { message };
}
