/**
 * unread: what waits for some sessions, as headers (id, seq, sender, the sender's client, replyTo, thread,
 * time) and never bodies; nothing is acked. For the autowake daemon (claude-relay autowake), which decides
 * whether to wake a session from who wrote to it and when, and must neither claim an ID, nor read mail, nor
 * mark it read. Allowed before hello.
 *
 * Authorized per session by that session's secret (the daemon reads them from $RELAY_HOME/secrets, as the
 * hooks do), or for all of them by the hub token presented in this frame. A session that fails its check
 * gets an `error` entry; the others are answered. Bounded: at most 50 sessions and 50 headers each.
 */
import { safeEqual, secretMatches } from "../auth.js";
import type { Connection } from "../connection.js";
import { ErrorCode, RelayError } from "../errors.js";
import { checkName, type Message, type MessageHeader, type RequestOf, type ResultOf } from "../protocol.js";
import type { HandlerContext } from "./context.js";
import { DEFAULT_ROOM } from "./hello.js";

type Entry = ResultOf<"unread">["sessions"][number];

export async function handleUnread(ctx: HandlerContext, conn: Connection, frame: RequestOf<"unread">): Promise<ResultOf<"unread">> {
	const hubToken = ctx.options.token;
	let byToken = false;
	if (hubToken !== undefined && frame.token !== undefined) {
		if (!safeEqual(frame.token, hubToken)) {
			ctx.log.warn({ cid: conn.cid, remote: conn.remote }, "wrong token in unread");
			throw new RelayError(ErrorCode.AUTH, "Wrong hub token.");
		}
		byToken = true;
	}
	if (!conn.authenticated && !byToken) throw new RelayError(ErrorCode.AUTH, "This hub requires a token.");
	const room = frame.room ?? conn.session?.room ?? DEFAULT_ROOM;
	const roomCheck = checkName(room, "room name");
	if (!roomCheck.ok) throw new RelayError(ErrorCode.BAD_ID, roomCheck.reason);
	const limit = frame.limit ?? 20;
	// One lookup per sender per request, however many messages it sent.
	const clients = new Map<string, Promise<string | undefined>>();
	const clientOf = (sender: string) => {
		let found = clients.get(sender);
		if (!found) {
			const live = ctx.presence.holder(room, sender)?.session?.meta.client;
			found = live !== undefined ? Promise.resolve(live) : ctx.store.getSession(room, sender).then((r) => r?.meta.client);
			clients.set(sender, found);
		}
		return found;
	};
	const header = async (m: Message): Promise<MessageHeader> => {
		const fromClient = await clientOf(m.from);
		// Threads come with a later protocol: passed on when the stored message has one.
		const thread = (m as { thread?: unknown }).thread;
		return {
			id: m.id,
			seq: m.seq,
			from: m.from,
			...(fromClient !== undefined ? { fromClient } : {}),
			to: m.to,
			replyTo: m.replyTo,
			...(typeof thread === "string" ? { thread } : {}),
			sentAt: m.sentAt,
		};
	};
	const one = async ({ session, secret }: { session: string; secret?: string | undefined }): Promise<Entry> => {
		const fail = (code: string, message: string): Entry => ({ session, error: { code, message } });
		const check = checkName(session, "session ID");
		if (!check.ok) return fail(ErrorCode.BAD_ID, check.reason);
		const record = await ctx.store.getSession(room, session);
		if (!record) return fail(ErrorCode.NOT_FOUND, `Room ${room} has no session ${session}.`);
		if (!byToken && !secretMatches(secret, record.secretHash)) {
			return fail(ErrorCode.FORBIDDEN, secret === undefined ? `Reading what waits for ${session} needs its secret or the hub token.` : `The secret presented for ${session} is wrong.`);
		}
		const holder = ctx.presence.holder(room, session);
		const page = await ctx.store.pending(room, session, { limit });
		return {
			session,
			online: Boolean(holder?.open),
			meta: holder?.session?.meta ?? record.meta,
			pending: page.messages.length + page.remaining,
			messages: await Promise.all(page.messages.map(header)),
		};
	};
	return { room, sessions: await Promise.all(frame.sessions.map(one)) };
}
