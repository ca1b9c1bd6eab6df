/**
 * hello: claim a session ID in a room. The first claim mints a per-ID secret (returned once, stored only
 * as a hash), or adopts the one the client brings from another hub; every later claim must present it. If a
 * live connection holds the ID, on this hub or on another one sharing the store, it is probed with a ping:
 * if it answers, the newcomer is refused (two Claude sessions must not share an ID); if not, the newcomer
 * takes over (the usual case: a bridge restarted before the hub noticed the old socket died). The contest
 * itself is presence's (Presence.takeOver).
 */
import { adoptableSecret, hashSecret, mintSecret, safeEqual, secretMatches } from "../auth.js";
import { ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import type { HandlerContext } from "./context.js";
import { checkName, PROTOCOL_VERSION, type RequestOf, type ResultOf } from "../protocol.js";
import { VERSION } from "../version.js";

export const DEFAULT_ROOM = "default";

/**
 * Connections with a hello under way. A connection holds one ID, but the check that it has none cannot be
 * the only guard: a second hello pipelined behind the first is dispatched while the first awaits its claim
 * lock, finds no session yet, and (for another ID, under another lock) would bind a second ID to the same
 * socket, which stays "online" after the socket closes. So a hello in flight refuses the next one, and the
 * check runs again once the lock is held.
 */
const helloInFlight = new WeakSet<Connection>();

export async function handleHello(ctx: HandlerContext, conn: Connection, frame: RequestOf<"hello">): Promise<ResultOf<"hello">> {
	if (helloInFlight.has(conn)) {
		throw new RelayError(ErrorCode.ALREADY_REGISTERED, "A hello is already in progress on this connection; wait for its answer (one connection holds one ID).");
	}
	helloInFlight.add(conn);
	try {
		return await claim(ctx, conn, frame);
	} finally {
		helloInFlight.delete(conn);
	}
}

function alreadyRegistered(conn: Connection): RelayError {
	return new RelayError(ErrorCode.ALREADY_REGISTERED, `This connection is already ${conn.session?.session}; open another connection for another ID.`);
}

async function claim(ctx: HandlerContext, conn: Connection, frame: RequestOf<"hello">): Promise<ResultOf<"hello">> {
	if (!conn.authenticated) {
		const token = ctx.options.token;
		if (token === undefined) conn.authenticated = true;
		else if (frame.token === undefined || !safeEqual(frame.token, token)) {
			ctx.log.warn({ cid: conn.cid, remote: conn.remote }, "missing or wrong token in hello");
			throw new RelayError(ErrorCode.AUTH, frame.token === undefined ? "This hub requires a token." : "Wrong hub token.");
		} else conn.authenticated = true;
	}
	if (conn.session) throw alreadyRegistered(conn);
	const room = frame.room ?? DEFAULT_ROOM;
	const roomCheck = checkName(room, "room name");
	if (!roomCheck.ok) throw new RelayError(ErrorCode.BAD_ID, roomCheck.reason);
	const idCheck = checkName(frame.session, "session ID");
	if (!idCheck.ok) throw new RelayError(ErrorCode.BAD_ID, idCheck.reason);
	// The dashboard writes as the operator: a session with that name could pass for the person.
	if (frame.session.toLowerCase() === ctx.options.operatorName.toLowerCase()) {
		throw new RelayError(
			ErrorCode.BAD_ID,
			`session ID '${frame.session}' is reserved on this hub for the person at its dashboard (--operator-name); choose another ID.`,
		);
	}
	const session = frame.session;
	const meta = frame.meta ?? {};

	return ctx.presence.withClaimLock(room, session, async () => {
		if (conn.ws.readyState !== conn.ws.OPEN) throw new RelayError(ErrorCode.INTERNAL, "connection closed during hello");
		// Checked again under the lock: the wait for it is where a racing hello could have bound this connection.
		if (conn.session) throw alreadyRegistered(conn);
		const now = Date.now();
		const known = await ctx.presence.knownSessions(room);
		// Thousands of hellos may have waited for this one load: they go on at the turn budget's pace.
		const paced = ctx.turns.pace();
		if (paced) await paced;
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
			// A new ID: every session a room has is a recipient of every broadcast there, so rooms and the rate
			// at which IDs appear are bounded. IDs the room already has are never refused for either.
			const cap = ctx.options.maxSessionsPerRoom;
			if (cap > 0 && known.size >= cap) {
				throw new RelayError(
					ErrorCode.ROOM_FULL,
					`Room ${room} has ${known.size} sessions, its limit (--max-sessions-per-room ${cap}), so ${session} cannot join it. Forget sessions no longer used (claude-relay sessions forget ID), use another room, or raise the limit.`,
				);
			}
			if (!ctx.newIds.take(conn.remote)) {
				throw new RelayError(
					ErrorCode.CLAIM_RATE,
					`Too many new session IDs from ${conn.remote} in the last minute (--new-sessions-per-minute ${ctx.options.newSessionsPerMinute}); retry in ${ctx.newIds.refillSeconds()} s, or reuse an ID this machine already has.`,
				);
			}
			// A client that already holds a secret for this room and ID (from another hub) keeps it: nothing is
			// returned, so it has nothing to overwrite. Otherwise a fresh one is minted and returned once.
			let kept: string;
			if (adoptableSecret(frame.secret)) kept = frame.secret;
			else {
				secret = mintSecret();
				kept = secret;
			}
			const created = await ctx.store.createSession({
				room,
				session,
				secretHash: hashSecret(kept),
				meta,
				firstSeen: now,
				lastSeen: now,
				ephemeral: frame.ephemeral === true,
			});
			if (!created) throw new RelayError(ErrorCode.ID_TAKEN, `${session} was claimed by another client a moment ago; choose another ID.`);
		}

		// The contest for the ID, on every hub that shares the directory (server/presence.ts).
		if (!observer) await ctx.presence.takeOver(conn, { room, session, meta, connectedAt: now, lastActive: conn.lastActive });
		if (conn.ws.readyState !== conn.ws.OPEN || conn.session) {
			ctx.presence.abandonClaim(conn, room, session);
			if (conn.session) throw alreadyRegistered(conn);
			throw new RelayError(ErrorCode.INTERNAL, "connection closed during hello");
		}

		// Fixed at the first claim: a later hello cannot make a named session ephemeral, or the reverse.
		const ephemeral = record ? record.ephemeral : frame.ephemeral === true;
		conn.bind({ room, session, meta, connectedAt: now, observer, ephemeral, touchedAt: now, presence: !observer && frame.presence !== false });
		ctx.presence.register(conn);
		// A session created by this hello was written with this meta and time: one write per new ID, not two.
		if (!observer && record) {
			await ctx.store.touchSession(room, session, meta, now);
			// The turn's touches are written together, and resolve together.
			const paced = ctx.turns.pace();
			if (paced) await paced;
		}
		const [pending, lost, topics] = await Promise.all([
			ctx.store.countPending(room, session),
			observer ? Promise.resolve(0) : ctx.store.takeLost(room, session),
			ctx.store.topics.subscriptions(room, session),
		]);
		// Registered before the count: a message committed after it reaches deliver(), or, if its event was lost
		// while a Redis fan-out's subscriber was away, the resume's catch-up of every registered connection.
		if (pending === 0 && !observer) conn.noBacklog();
		ctx.log.info({ session, room, host: meta.host, pending, observer }, observer ? "observer attached" : "session online");
		const online = ctx.presence.peers(room, conn, now, frame.peers ?? ctx.options.helloPeers);
		return {
			session,
			room,
			...(secret ? { secret } : {}),
			peers: online.peers,
			peersTotal: online.total,
			pending,
			lost,
			ephemeral,
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
