/**
 * GET /healthz: whether the hub works (200) or not (503: stopping, or its storage failing), with its counts.
 * No token, so launchd checks and scripts can probe it; behind the Host check like everything else.
 */
import type { Route } from "./router.js";
import { sendJson } from "./respond.js";

export const healthzRoute: Route = {
	method: "GET",
	path: "/healthz",
	access: "open",
	async handle(ctx, _req, res) {
		try {
			const body = await ctx.health();
			// 503 when not ok (stopping, or storage failing), so `curl -f` and service monitors notice.
			sendJson(res, body.ok ? 200 : 503, body);
		} catch (err) {
			ctx.hub.log.error({ err }, "health check failed");
			const { ok, lastError } = ctx.hub.store.health;
			sendJson(res, 503, { ok: false, error: "store unavailable", store: ctx.hub.store.kind, storage: lastError ? { ok, lastError: { ...lastError } } : { ok } });
		}
	},
};
