/**
 * GET /metrics: Prometheus text format (server/metrics.ts). Behind the hub token when there is one, unless the
 * hub runs with --metrics-public (a scraper that cannot send a bearer token).
 */
import type { Route } from "./router.js";
import { BASE_HEADERS } from "./respond.js";

export const metricsRoute: Route = {
	method: "GET",
	path: "/metrics",
	access: "metrics",
	async handle(ctx, _req, res) {
		const { contentType, text } = await ctx.hub.metrics.scrape();
		res.writeHead(200, { ...BASE_HEADERS, "content-type": contentType, "content-length": Buffer.byteLength(text) });
		res.end(text);
	},
};
