/**
 * hello: claim a session ID in a room. The first claim mints a per-ID secret (returned once, stored only
 * as a hash), or adopts the one the client brings from another hub; every later claim must present it. If a live connection holds the ID, it is probed with a
 * ping: if it answers, the newcomer is refused (two Claude sessions must not share an ID); if not, the
 * newcomer takes over (the usual case: a bridge restarted before the hub noticed the old socket died).
 */
import { adoptableSecret, hashSecret, mintSecret, safeEqual, secretMatches } from "../auth.js";
import { CloseCode, ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import type { HandlerContext } from "./context.js";
import { checkName, PROTOCOL_VERSION, type RequestOf, type ResultOf } from "../protocol.js";
import { VERSION } from "../version.js";

export const DEFAULT_ROOM = "default";

export async function handleHello(ctx: HandlerContext, conn: Connection, frame: RequestOf<"hello">): Promise<ResultOf<"hello">> {
	if (!conn.authenticated) {
		const token = ctx.options.token;
		if (token === undefined) conn.authenticated = true;
		else if (frame.token === undefined || !safeEqual(frame.token, token)) {
			ctx.log.warn({ cid: conn.cid, remote: conn.remote }, "missing or wrong token in hello");
			throw new RelayError(ErrorCode.AUTH, frame.token === undefined ? "This hub requires a token." : "Wrong hub token.");
		} else conn.authenticated = true;
	}
	if (conn.session) {
		throw new RelayError(ErrorCode.ALREADY_REGISTERED, `This connection is already ${conn.session.session}; open another connection for another ID.`);
	}
	const room = frame.room ?? DEFAULT_ROOM;
	const roomCheck = checkName(room, "room name");
	if (!roomCheck.ok) throw new RelayError(ErrorCode.BAD_ID, roomCheck.reason);
	const idCheck = checkName(frame.session, "session ID");
	if (!idCheck.ok) throw new RelayError(ErrorCode.BAD_ID, idCheck.reason);
	const session = frame.session;
	const meta = frame.meta ?? {};

	return ctx.presence.withClaimLock(room, session, async () => {
		if (conn.ws.readyState !== conn.ws.OPEN) throw new RelayError(ErrorCode.INTERNAL, "connection closed during hello");
		const now = Date.now();
		await ctx.presence.knownSessions(room);
		let secret: string | undefined;
		const observer = frame.observer === true;
		const record = await ctx.store.getSession(room, session);
		if (observer && !record) {
			throw new RelayError(ErrorCode.NOT_REGISTERED, `${session} has never connected to room ${room}; an observer can only attach to an existing session.`);
		}
		if (record) {
			if (!secretMatches(frame.secret, record.secretHash)) {
				throw new RelayError(
					ErrorCode.ID_TAKEN,
					frame.secret === undefined
						? `${session} is already registered in room ${room} and this hello has no secret. The session that first claimed it keeps its secret under RELAY_HOME/secrets; use that, or choose another ID.`
						: `The secret presented for ${session} is wrong. Use the one stored when the ID was first claimed, or choose another ID.`,
				);
			}
		} else {
			// A client that already holds a secret for this room and ID (from another hub) keeps it: nothing is
			// returned, so it has nothing to overwrite. Otherwise a fresh one is minted and returned once.
			let kept: string;
			if (adoptableSecret(frame.secret)) kept = frame.secret;
			else {
				secret = mintSecret();
				kept = secret;
			}
			const created = await ctx.store.createSession({ room, session, secretHash: hashSecret(kept), meta, firstSeen: now, lastSeen: now });
			if (!created) throw new RelayError(ErrorCode.ID_TAKEN, `${session} was claimed by another client a moment ago; choose another ID.`);
		}

		const holder = observer ? undefined : ctx.presence.holder(room, session);
		if (holder && holder !== conn) {
			const alive = await holder.probe(ctx.options.livenessProbeMs);
			if (alive) {
				const where = [holder.session?.meta.host, holder.session?.meta.pid && `pid ${holder.session.meta.pid}`].filter(Boolean).join(", ");
				throw new RelayError(ErrorCode.ID_TAKEN, `${session} is in use by a live connection${where ? ` (${where})` : ""}. Pick another ID for this session.`);
			}
			ctx.log.info({ session, room }, "previous holder did not answer the liveness ping; replacing it");
			holder.leaving = "replaced";
			ctx.presence.leave(holder, "replaced");
			holder.close(CloseCode.REPLACED, "replaced by a new connection for this ID");
			holder.ws.terminate();
		}
		if (conn.ws.readyState !== conn.ws.OPEN) throw new RelayError(ErrorCode.INTERNAL, "connection closed during hello");

		conn.bind({ room, session, meta, connectedAt: now, observer });
		ctx.presence.register(conn);
		if (!observer) await ctx.store.touchSession(room, session, meta, now);
		const [pending, lost, topics] = await Promise.all([
			ctx.store.countPending(room, session),
			observer ? Promise.resolve(0) : ctx.store.takeLost(room, session),
			ctx.store.topics.subscriptions(room, session),
		]);
		ctx.log.info({ session, room, host: meta.host, pending, observer }, observer ? "observer attached" : "session online");
		return {
			session,
			room,
			...(secret ? { secret } : {}),
			peers: ctx.presence.online(room).filter((c) => c !== conn).map((c) => c.peerInfo(now)),
			pending,
			lost,
			topics,
			hub: {
				version: VERSION,
				protocol: PROTOCOL_VERSION,
				maxBodyBytes: ctx.options.maxBodyBytes,
				maxFrameBytes: ctx.options.maxFrameBytes,
				heartbeatMs: ctx.options.heartbeatMs,
			},
		};
	});
}
