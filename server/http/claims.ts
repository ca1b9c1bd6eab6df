/**
 * GET /claims?room=NAME[&repo=ID]: the live file claims, for the edit guards (the PreToolUse hook and the git
 * pre-commit hook), which must answer fast and must not need a session of their own. Behind the hub token
 * when there is one.
 */
import { answerClaims } from "./api/claims.js";
import type { Route } from "./router.js";

export const claimsRoute: Route = {
	method: "GET",
	path: "/claims",
	access: "token",
	handle: (ctx, _req, res, url) => answerClaims(ctx, res, url, false),
};
