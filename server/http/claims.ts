/**
 * GET /claims?room=NAME[&repo=ID]: the live file claims, for the edit guards (the PreToolUse hook and the git
 * pre-commit hook), which must answer fast and must not need a session of their own. Behind the hub token
 * when there is one.
 */
import { ErrorCode } from "../errors.js";
import { checkRepo } from "../protocol.js";
import type { Route } from "./router.js";
import { HttpError, roomParam, sendJson } from "./respond.js";

export const claimsRoute: Route = {
	method: "GET",
	path: "/claims",
	access: "token",
	async handle(ctx, _req, res, url) {
		const room = roomParam(url);
		const repo = url.searchParams.get("repo") ?? undefined;
		if (repo !== undefined) {
			const r = checkRepo(repo);
			if (!r.ok) throw new HttpError(400, ErrorCode.BAD_PATH, r.reason);
		}
		const now = Date.now();
		const claims = await ctx.hub.store.claims.list(room, { ...(repo !== undefined ? { repo } : {}), now });
		sendJson(res, 200, { room, claims: claims.map(({ room: _, ...c }) => c), now });
	},
};
