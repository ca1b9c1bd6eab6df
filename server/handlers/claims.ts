/**
 * claim / release / claims: file claims, scoped to a room and a repository identity (the normalized origin
 * URL, computed by the client). Paths are repo-relative patterns (server/globs.ts: normalization and the
 * overlap rule). A claim is all or nothing: granted when no requested pattern overlaps another session's
 * live claim, else refused with those claims and nothing granted. Claiming a held pattern again renews it.
 * A session that goes away keeps its claims until they expire (it may come back) unless it released them.
 */
import { ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import { normalizeClaimPath } from "../globs.js";
import { boundSession, type HandlerContext } from "./context.js";
import { checkName, checkRepo, type ClaimInfo, type RequestOf, type ResultOf } from "../protocol.js";
import type { ClaimRecord } from "../store/store.js";

function validRepo(repo: string): string {
	const check = checkRepo(repo);
	if (!check.ok) throw new RelayError(ErrorCode.BAD_PATH, `${check.reason}; it is the normalized origin URL (github.com/owner/repo) or the repository's directory name.`);
	return repo;
}

/** Canonical, distinct patterns, or E_BAD_PATH naming the first bad one. */
function validPaths(paths: readonly string[]): string[] {
	const out = new Set<string>();
	for (const raw of paths) {
		const r = normalizeClaimPath(raw);
		if (!r.ok) throw new RelayError(ErrorCode.BAD_PATH, `${r.reason}.`);
		out.add(r.path);
	}
	return [...out];
}

/**
 * A reason is shown to other agents and printed by the guard in terminals: control and bidirectional
 * formatting characters become spaces, so it can neither move a cursor nor reorder what is shown.
 */
export function cleanReason(reason: string | undefined): string | null {
	if (reason === undefined) return null;
	// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
	const clean = reason.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, " ").replace(/\s+/g, " ").trim();
	return clean === "" ? null : clean;
}

const info = (c: ClaimRecord): ClaimInfo => ({
	repo: c.repo,
	session: c.session,
	path: c.path,
	reason: c.reason,
	claimedAt: c.claimedAt,
	expiresAt: c.expiresAt,
});

export async function handleClaim(ctx: HandlerContext, conn: Connection, frame: RequestOf<"claim">): Promise<ResultOf<"claim">> {
	const s = boundSession(conn);
	const repo = validRepo(frame.repo);
	const paths = validPaths(frame.paths);
	const max = ctx.options.claimMaxTtlSeconds;
	// A hub configured with a maximum below the default claims for the maximum by default.
	const ttl = frame.ttlSeconds ?? Math.min(ctx.options.claimDefaultTtlSeconds, max);
	if (ttl > max) {
		throw new RelayError(ErrorCode.LIMIT, `ttlSeconds ${ttl} is over this hub's maximum of ${max} s; claim for less and claim again (a renewal) before it expires.`);
	}
	const now = Date.now();
	const out = await ctx.store.claims.claim({
		room: s.room,
		repo,
		session: s.session,
		paths,
		reason: cleanReason(frame.reason),
		now,
		expiresAt: now + ttl * 1000,
		limits: { maxPerSession: ctx.options.claimMaxPerSession, maxPerRepo: ctx.options.claimMaxPerRepo },
	});
	if (out.status === "limit") throw new RelayError(ErrorCode.LIMIT, out.reason);
	if (out.status === "conflict") return { granted: false, claims: [], conflicts: out.conflicts.map(info), now };
	ctx.log.debug({ session: s.session, room: s.room, repo, paths }, "claim granted");
	const claims = out.claims.map(info);
	ctx.events.sink?.({ kind: "claims", room: s.room, session: s.session, claimed: claims, released: [] });
	return { granted: true, claims, conflicts: [], now };
}

export async function handleRelease(ctx: HandlerContext, conn: Connection, frame: RequestOf<"release">): Promise<ResultOf<"release">> {
	const s = boundSession(conn);
	const released = await ctx.store.claims.release({
		room: s.room,
		session: s.session,
		...(frame.repo !== undefined ? { repo: validRepo(frame.repo) } : {}),
		...(frame.paths !== undefined ? { paths: validPaths(frame.paths) } : {}),
		now: Date.now(),
	});
	const out = released.map(info);
	if (out.length > 0) ctx.events.sink?.({ kind: "claims", room: s.room, session: s.session, claimed: [], released: out });
	return { released: out };
}

export async function handleClaims(ctx: HandlerContext, conn: Connection, frame: RequestOf<"claims">): Promise<ResultOf<"claims">> {
	const s = boundSession(conn);
	if (frame.session !== undefined) {
		const check = checkName(frame.session);
		if (!check.ok) throw new RelayError(ErrorCode.BAD_ID, check.reason);
	}
	const now = Date.now();
	const claims = await ctx.store.claims.list(s.room, {
		...(frame.repo !== undefined ? { repo: validRepo(frame.repo) } : {}),
		...(frame.session !== undefined ? { session: frame.session } : {}),
		now,
	});
	return { claims: claims.map(info), now };
}
