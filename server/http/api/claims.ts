/** GET /api/claims?room=&repo=&session=: a room's live file claims, by repository, session and path. */
import { ErrorCode } from "../../errors.js";
import { checkRepo } from "../../protocol.js";
import type { Route } from "../router.js";
import { HttpError, roomParam, sendJson, sessionParam } from "../respond.js";

export const apiClaimsRoute: Route = {
	method: "GET",
	path: "/api/claims",
	access: "token",
	async handle(ctx, _req, res, url) {
		const room = roomParam(url);
		const repo = url.searchParams.get("repo") ?? undefined;
		if (repo !== undefined) {
			const r = checkRepo(repo);
			if (!r.ok) throw new HttpError(400, ErrorCode.BAD_PATH, r.reason);
		}
		const session = sessionParam(url, "session");
		const now = Date.now();
		const claims = await ctx.hub.store.claims.list(room, {
			now,
			...(repo !== undefined ? { repo } : {}),
			...(session !== undefined ? { session } : {}),
		});
		sendJson(res, 200, { room, claims: claims.map(({ room: _, ...c }) => c), now });
	},
};
