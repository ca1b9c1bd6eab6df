/**
 * GET /api/health: /healthz's answer plus what the dashboard shows and needs: the storage's size, messages
 * committed per minute over the last hour, open live streams, the operator's name and the hub's limits.
 */
import type { Route } from "../router.js";
import { sendJson } from "../respond.js";

export const apiHealthRoute: Route = {
	method: "GET",
	path: "/api/health",
	access: "token",
	async handle(ctx, _req, res) {
		const { options: o, store, metrics } = ctx.hub;
		const [health, storeBytes] = await Promise.all([ctx.health(), store.operator.sizeBytes()]);
		sendJson(res, 200, {
			...health,
			storeBytes,
			viewers: ctx.live.size,
			messagesPerMinute: metrics.minutes.series(Date.now()),
			operator: o.operatorName,
			startedAt: ctx.startedAt,
			limits: { maxBodyBytes: o.maxBodyBytes, maxViewers: o.maxViewers, liveTickMs: o.liveTickMs, apiPageMax: o.apiPageMax },
		});
	},
};
