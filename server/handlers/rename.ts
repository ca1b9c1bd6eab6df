/**
 * rename: the live session takes another ID (`relay_rename {to}`). The new ID is claimed with a new secret,
 * returned once like a first claim's; the old ID is released (its record is gone, so anyone may claim it
 * afresh later); the session's unread mail and its `lost` count move with it, because the mail was for this
 * session, which goes on under the new name (renaming CC-1 to API-1 mid-task must not strand what CC-1 was
 * sent), and so do its live file claims and its topic subscriptions. Peers see `peer_left {reason: "renamed", to}` and
 * `peer_joined {reason: "renamed", from}`.
 *
 * Refused: for an invalid ID (E_BAD_ID), the same ID (E_BAD_TARGET), an ID a live connection holds
 * (E_ID_TAKEN), or one that exists unless the frame carries its secret (a client taking back an ID it owned);
 * observers cannot rename. A new ID counts against --new-sessions-per-minute like a first claim, so renames
 * cannot churn the audience faster than hellos can.
 */
import { hashSecret, mintSecret, secretMatches } from "../auth.js";
import type { Connection } from "../connection.js";
import { ErrorCode, RelayError } from "../errors.js";
import { checkName, type RequestOf, type ResultOf } from "../protocol.js";
import { boundSession, type HandlerContext } from "./context.js";

export async function handleRename(ctx: HandlerContext, conn: Connection, frame: RequestOf<"rename">): Promise<ResultOf<"rename">> {
	const s = boundSession(conn);
	if (s.observer) throw new RelayError(ErrorCode.NOT_REGISTERED, "An observer cannot rename the session it observes; the session's own connection can.");
	const check = checkName(frame.to, "session ID");
	if (!check.ok) throw new RelayError(ErrorCode.BAD_ID, check.reason);
	const from = s.session;
	const to = frame.to;
	if (to === from) throw new RelayError(ErrorCode.BAD_TARGET, `This session is already ${from}.`);
	const room = s.room;
	// Both IDs' claim locks, always in the same order, so two crossing renames cannot deadlock.
	const [first, second] = from < to ? [from, to] : [to, from];
	return ctx.presence.withClaimLock(room, first, () =>
		ctx.presence.withClaimLock(room, second, async () => {
			if (!conn.open || conn.session?.session !== from) throw new RelayError(ErrorCode.INTERNAL, "The session changed during the rename; try again.");
			const existing = await ctx.store.getSession(room, to);
			if (existing && !secretMatches(frame.secret, existing.secretHash)) {
				throw new RelayError(
					ErrorCode.ID_TAKEN,
					`${to} already exists in room ${room}, and this rename does not carry its secret. Choose another ID, or forget ${to} first (claude-relay sessions forget ${to}).`,
				);
			}
			if (!existing && !ctx.newIds.take(conn.remote)) {
				throw new RelayError(
					ErrorCode.CLAIM_RATE,
					`Too many new session IDs from ${conn.remote} in the last minute (--new-sessions-per-minute ${ctx.options.newSessionsPerMinute}); retry in ${ctx.newIds.refillSeconds()} s.`,
				);
			}
			// The contest for `to`, on every hub that shares the directory, as a hello's: a live holder refuses it.
			const { old: oldClaim } = await ctx.presence.claimForRename(conn, to);
			const secret = existing ? undefined : mintSecret();
			const now = Date.now();
			let outcome: Awaited<ReturnType<typeof ctx.store.renameSession>>;
			try {
				outcome = await ctx.store.renameSession({ room, from, to, secretHash: secret ? hashSecret(secret) : "", meta: s.meta, now });
			} catch (err) {
				ctx.presence.revertRename(conn, to, oldClaim);
				throw err;
			}
			if (!outcome.renamed) {
				ctx.presence.revertRename(conn, to, oldClaim);
				throw new RelayError(ErrorCode.NOT_FOUND, `${from} has no record in room ${room} any more (was it forgotten?); nothing was renamed.`);
			}
			ctx.presence.commitRename(conn, from, oldClaim);
			const claims = await moveClaims(ctx, room, from, to, now);
			await moveSubscriptions(ctx, room, from, to, now);
			s.touchedAt = now;
			ctx.presence.renamed(conn, from, to);
			if (claims.lost.length > 0) ctx.log.warn({ from, to, lost: claims.lost }, "rename: some file claims could not move (another session claimed them meanwhile)");
			return { session: to, from, room, ...(secret ? { secret } : {}), moved: outcome.moved };
		}),
	);
}

/**
 * File claims go with the session too: it goes on editing those files under the new ID, and dropping them
 * mid-task would let another agent take files being edited. Through the ClaimStore interface (release, then
 * claim again with the same expiry and reason), so every backend does the same; in the moment between, a
 * third session could claim an overlapping path, and then that claim stays lost (logged, never granted twice).
 */
async function moveClaims(ctx: HandlerContext, room: string, from: string, to: string, now: number): Promise<{ moved: number; lost: string[] }> {
	const held = await ctx.store.claims.list(room, { session: from, now });
	if (held.length === 0) return { moved: 0, lost: [] };
	await ctx.store.claims.release({ room, session: from, now });
	const groups = new Map<string, typeof held>();
	for (const c of held) {
		const k = JSON.stringify([c.repo, c.reason, c.expiresAt]);
		groups.set(k, [...(groups.get(k) ?? []), c]);
	}
	const limits = { maxPerSession: ctx.options.claimMaxPerSession, maxPerRepo: ctx.options.claimMaxPerRepo };
	let moved = 0;
	const lost: string[] = [];
	for (const group of groups.values()) {
		const first = group[0] as (typeof held)[number];
		const paths = group.map((c) => c.path);
		const r = await ctx.store.claims.claim({ room, repo: first.repo, session: to, paths, reason: first.reason, now, expiresAt: first.expiresAt, limits });
		if (r.status === "granted") moved += paths.length;
		else lost.push(...paths);
	}
	return { moved, lost };
}

/** Topic subscriptions go with the session as well: what it listened to under the old ID, it hears under the new one. */
async function moveSubscriptions(ctx: HandlerContext, room: string, from: string, to: string, now: number): Promise<void> {
	const topics = await ctx.store.topics.subscriptions(room, from);
	for (const topic of topics) await ctx.store.topics.subscribe(room, topic, to, now, ctx.options.maxSubscriptionsPerSession);
	if (topics.length > 0) await ctx.store.topics.forgetSession(room, from);
}
