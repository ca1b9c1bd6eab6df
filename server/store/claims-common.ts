/**
 * What every ClaimStore backend shares: deciding a claim against the live claims of its repository. Pure;
 * each backend runs it inside its atomic step (SQLite: a transaction; memory: synchronously; Redis: between
 * a read and a write conditional on the repository's version).
 */
import { patternsOverlap } from "../globs.js";
import type { ClaimInput, ClaimRecord } from "./store.js";

export type ClaimPlan =
	| { status: "granted"; claims: ClaimRecord[]; added: number }
	| { status: "conflict"; conflicts: ClaimRecord[] }
	| { status: "limit"; reason: string };

const byHolder = (a: ClaimRecord, b: ClaimRecord) =>
	a.session < b.session ? -1 : a.session > b.session ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0;

/**
 * `liveInRepo`: every live claim in the input's room and repository; `sessionLive`: how many live claims the
 * claiming session holds across all repositories. Renewing a path this session holds keeps its claimedAt,
 * and its reason unless a new one is given.
 */
export function planClaim(input: ClaimInput, liveInRepo: readonly ClaimRecord[], sessionLive: number): ClaimPlan {
	const conflicts = liveInRepo.filter((c) => c.session !== input.session && input.paths.some((p) => patternsOverlap(p, c.path)));
	if (conflicts.length > 0) return { status: "conflict", conflicts: [...conflicts].sort(byHolder) };
	const own = new Map(liveInRepo.filter((c) => c.session === input.session).map((c) => [c.path, c]));
	const added = input.paths.filter((p) => !own.has(p)).length;
	if (liveInRepo.length + added > input.limits.maxPerRepo) {
		return {
			status: "limit",
			reason: `Repository ${input.repo} has ${liveInRepo.length} live claims, and this hub allows ${input.limits.maxPerRepo}; release claims that are done first.`,
		};
	}
	if (sessionLive + added > input.limits.maxPerSession) {
		return {
			status: "limit",
			reason: `${input.session} holds ${sessionLive} live claims, and this hub allows ${input.limits.maxPerSession} per session; release some (relay_release) or claim a broader pattern.`,
		};
	}
	const claims = input.paths.map((path) => {
		const held = own.get(path);
		return {
			room: input.room,
			repo: input.repo,
			session: input.session,
			path,
			reason: input.reason ?? held?.reason ?? null,
			claimedAt: held?.claimedAt ?? input.now,
			expiresAt: input.expiresAt,
		};
	});
	return { status: "granted", claims: claims.sort(byHolder), added };
}

/** Sorts for `list`: repository, then session, then path. */
export function sortClaims(records: ClaimRecord[]): ClaimRecord[] {
	return records.sort((a, b) => (a.repo < b.repo ? -1 : a.repo > b.repo ? 1 : byHolder(a, b)));
}
