/** GET /api/claims?room=&repo=&session=: a room's live file claims, by repository, session and path. */
import { ErrorCode } from "../../errors.js";
import { checkRepo } from "../../protocol.js";
import type { ServerResponse } from "node:http";
import type { HttpContext } from "../context.js";
import type { Route } from "../router.js";
import { HttpError, roomParam, sendJson, sessionParam } from "../respond.js";

/**
 * A room's live claims as both claim routes answer them: filtered by `repo` (checked like a claim's repo),
 * and, with `bySession`, by `session` too.
 */
export async function answerClaims(ctx: HttpContext, res: ServerResponse, url: URL, bySession: boolean): Promise<void> {
	const room = roomParam(url);
	const repo = url.searchParams.get("repo") ?? undefined;
	if (repo !== undefined) {
		const r = checkRepo(repo);
		if (!r.ok) throw new HttpError(400, ErrorCode.BAD_PATH, r.reason);
	}
	const session = bySession ? sessionParam(url, "session") : undefined;
	const now = Date.now();
	const claims = await ctx.hub.store.claims.list(room, {
		now,
		...(repo !== undefined ? { repo } : {}),
		...(session !== undefined ? { session } : {}),
	});
	sendJson(res, 200, { room, claims: claims.map(({ room: _, ...c }) => c), now });
}

export const apiClaimsRoute: Route = {
	method: "GET",
	path: "/api/claims",
	access: "token",
	handle: (ctx, _req, res, url) => answerClaims(ctx, res, url, true),
};
