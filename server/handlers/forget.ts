/**
 * forget: forget a session ID now (`claude-relay sessions forget ID`). Its record, unread mail and lost
 * counter are deleted and it leaves the room's broadcast audience on every hub; messages it sent or received
 * stay in history. Claiming the ID again afterwards starts from nothing (a new secret, an empty inbox).
 *
 * Allowed before hello: the tool that asks must not claim an ID to do it. Authorized by the ID's secret or
 * by the hub token presented in this frame (a token at the upgrade only gets the connection in). An ID with
 * no record (mail queued for a name nobody claimed) has no secret: the hub token forgets it, and a hub with no
 * token lets anyone, since anyone could claim that ID and read the mail anyway.
 *
 * A live holder is probed as hello probes one: if it answers, the forget is refused (E_SESSION_ONLINE) unless
 * `force`, which closes it (4009; the bridge then stops instead of claiming the ID again). A holder on another
 * hub sharing the store is probed through the directory, and closed when the forget reaches its hub.
 */
import { safeEqual, secretMatches } from "../auth.js";
import type { Connection } from "../connection.js";
import { ErrorCode, RelayError } from "../errors.js";
import { checkName, type RequestOf, type ResultOf } from "../protocol.js";
import type { HandlerContext } from "./context.js";
import { DEFAULT_ROOM } from "./hello.js";

export async function handleForget(ctx: HandlerContext, conn: Connection, frame: RequestOf<"forget">): Promise<ResultOf<"forget">> {
	const hubToken = ctx.options.token;
	let byToken = false;
	if (hubToken !== undefined && frame.token !== undefined) {
		if (!safeEqual(frame.token, hubToken)) {
			ctx.log.warn({ cid: conn.cid, remote: conn.remote }, "wrong token in forget");
			throw new RelayError(ErrorCode.AUTH, "Wrong hub token.");
		}
		byToken = true;
	}
	if (!conn.authenticated && !byToken) throw new RelayError(ErrorCode.AUTH, "This hub requires a token.");

	const room = frame.room ?? conn.session?.room ?? DEFAULT_ROOM;
	const roomCheck = checkName(room, "room name");
	if (!roomCheck.ok) throw new RelayError(ErrorCode.BAD_ID, roomCheck.reason);
	const session = frame.session;
	const idCheck = checkName(session, "session ID");
	if (!idCheck.ok) throw new RelayError(ErrorCode.BAD_ID, idCheck.reason);

	return ctx.presence.withClaimLock(room, session, async () => {
		const record = await ctx.store.getSession(room, session);
		if (!record && (await ctx.store.countPending(room, session)) === 0) {
			throw new RelayError(ErrorCode.NOT_FOUND, `Room ${room} has no session ${session} and no mail waiting for it: nothing to forget.`);
		}
		const bySecret = record !== null && secretMatches(frame.secret, record.secretHash);
		const allowed = byToken || bySecret || (record === null && hubToken === undefined);
		if (!allowed) {
			throw new RelayError(
				ErrorCode.FORBIDDEN,
				record === null
					? `${session} was never claimed in room ${room}; only the hub token can forget the mail queued for it.`
					: frame.secret === undefined
						? `Forgetting ${session} needs its secret (RELAY_HOME/secrets/${room}.${session}.secret on the machine that claimed it) or the hub token.`
						: `The secret presented for ${session} is wrong; forgetting it needs its own secret or the hub token.`,
			);
		}
		// Probed wherever it is held (this hub or another sharing the store), as hello probes one.
		const live = frame.force ? null : await ctx.presence.liveHolder(room, session);
		if (live) {
			const where = [live.meta.host, live.meta.pid && `pid ${live.meta.pid}`].filter(Boolean).join(", ");
			throw new RelayError(
				ErrorCode.SESSION_ONLINE,
				`${session} is held by a live connection${where ? ` (${where})` : ""}${live.remote ? " on another hub" : ""}. End that session first, or forget it with force, which closes it.`,
			);
		}
		// Whatever is still attached (a holder that did not answer, a forced one, observers) is closed with it.
		const r = await ctx.presence.forgetLocked(room, session, { close: true });
		ctx.log.info(
			{ session, room, existed: r.session, pending: r.pending, closed: r.closed, by: byToken ? "token" : bySecret ? "secret" : "open hub" },
			"session forgotten on request",
		);
		return { session, room, existed: r.session, pending: r.pending, closed: r.closed };
	});
}
