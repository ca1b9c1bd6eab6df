/**
 * GET / (the dashboard's page) and GET /dashboard/<file> (its script and style): static files built into
 * dist/dashboard/ (server/http/dashboard.ts). Open without the token: they hold no data; everything the page
 * shows comes from /api, which needs the token when the hub has one (the page asks for it).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode } from "../errors.js";
import type { HttpContext } from "./context.js";
import { CONTENT_SECURITY_POLICY } from "./dashboard.js";
import type { Route } from "./router.js";
import { BASE_HEADERS, HttpError } from "./respond.js";

export const ASSETS = "/dashboard/";

function serve(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, name: string): void {
	const file = ctx.dashboard.get(name);
	if (file === null) {
		throw new HttpError(503, ErrorCode.INTERNAL, "The dashboard is not built in this installation: run `npm run build` (or `npm install`) in claude-relay's directory.");
	}
	if (!file) throw new HttpError(404, ErrorCode.NOT_FOUND, `No such file: ${name}.`);
	const headers = {
		...BASE_HEADERS,
		// Revalidated every time (cheap: an ETag), so a rebuilt hub never serves yesterday's script.
		"cache-control": "no-cache",
		etag: file.etag,
		"content-security-policy": CONTENT_SECURITY_POLICY,
	};
	if (req.headers["if-none-match"] === file.etag) {
		res.writeHead(304, headers);
		res.end();
		return;
	}
	res.writeHead(200, { ...headers, "content-type": file.type, "content-length": file.body.length });
	res.end(file.body);
}

export const pageRoute: Route = {
	method: "GET",
	path: "/",
	access: "open",
	handle(ctx, req, res) {
		serve(ctx, req, res, "index.html");
	},
};

export const assetsRoute: Route = {
	method: "GET",
	path: ASSETS,
	access: "open",
	handle(ctx, req, res, url) {
		const name = url.pathname.slice(ASSETS.length);
		// A plain file name: no directory, nothing hidden.
		if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name) || name === "index.html") throw new HttpError(404, ErrorCode.NOT_FOUND, "No such file.");
		serve(ctx, req, res, name);
	},
};
