/**
 * The hub's HTTP side, after the Host and Origin checks (server/origin.ts, in Hub): finds the route for a
 * request, checks the hub token where the route needs it, runs it, and turns whatever it throws into a JSON
 * error with a stable code (counted for /metrics). Each route is a file of its own (routes.ts lists them).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { safeEqual, tokenFromUpgrade } from "../auth.js";
import { ErrorCode, isRelayError } from "../errors.js";
import { StorageError } from "../store/store.js";
import type { HttpContext } from "./context.js";
import { HttpError, httpError, sendError } from "./respond.js";

export interface Route {
	method: "GET" | "POST";
	/** The path, exact; or a prefix ending in "/", whose routes read the rest of the path themselves. */
	path: string;
	/**
	 * "open": never needs the token (/healthz, the dashboard's page, which holds no data);
	 * "token": the hub token when the hub has one (Authorization: Bearer, or ?token=);
	 * "metrics": the same, unless the hub runs with --metrics-public.
	 */
	access: "open" | "token" | "metrics";
	handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, url: URL): void | Promise<void>;
}

export class HttpRouter {
	readonly #exact = new Map<string, Route>();
	readonly #prefixes: Route[] = [];

	constructor(routes: readonly Route[]) {
		for (const r of routes) {
			if (r.path.endsWith("/") && r.path !== "/") this.#prefixes.push(r);
			else this.#exact.set(`${r.method} ${r.path}`, r);
		}
	}

	/** The route for a method and path, or what to answer instead (404, 405). */
	#find(method: string, path: string): Route | HttpError {
		const exact = this.#exact.get(`${method} ${path}`);
		if (exact) return exact;
		for (const r of this.#prefixes) if (r.method === method && path.startsWith(r.path) && path.length > r.path.length) return r;
		const other =
			[...this.#exact.values()].some((r) => r.path === path) ||
			this.#prefixes.some((r) => path.startsWith(r.path) && path.length > r.path.length);
		if (other) return new HttpError(405, ErrorCode.BAD_FRAME, `${method} is not allowed on ${path}.`);
		return new HttpError(404, ErrorCode.NOT_FOUND, `No such endpoint: ${path}. The dashboard is at /, its API under /api (docs/API.md).`);
	}

	handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): void {
		let url: URL;
		try {
			url = new URL(req.url ?? "/", "http://hub");
		} catch {
			this.#fail(ctx, res, new HttpError(400, ErrorCode.BAD_FRAME, "The request's URL cannot be read."));
			return;
		}
		const route = this.#find(req.method ?? "GET", url.pathname);
		if (route instanceof HttpError) {
			this.#fail(ctx, res, route);
			return;
		}
		const o = ctx.hub.options;
		const needsToken = route.access === "token" || (route.access === "metrics" && !o.metricsPublic);
		if (needsToken && o.token !== undefined) {
			const offered = tokenFromUpgrade(req);
			if (offered === undefined || !safeEqual(offered, o.token)) {
				this.#fail(ctx, res, new HttpError(401, ErrorCode.AUTH, "This hub requires a token: send it as Authorization: Bearer <token>.", { "www-authenticate": "Bearer" }));
				return;
			}
		}
		let done: void | Promise<void>;
		try {
			done = route.handle(ctx, req, res, url);
		} catch (err) {
			this.#failWith(ctx, res, err);
			return;
		}
		if (done) done.catch((err) => this.#failWith(ctx, res, err));
	}

	#failWith(ctx: HttpContext, res: ServerResponse, err: unknown): void {
		this.#fail(ctx, res, this.#asHttp(ctx, err));
	}

	#asHttp(ctx: HttpContext, err: unknown): HttpError {
		if (err instanceof HttpError) return err;
		if (isRelayError(err)) return httpError(err);
		if (err instanceof StorageError) {
			ctx.hub.log.error({ err, code: err.code }, "storage failed (HTTP)");
			return new HttpError(503, ErrorCode.STORAGE, `The hub's storage failed: ${err.message}. Retry later.`);
		}
		ctx.hub.log.error({ err }, "HTTP route failed");
		return new HttpError(500, ErrorCode.INTERNAL, "The hub failed to answer this request.");
	}

	#fail(ctx: HttpContext, res: ServerResponse, err: HttpError): void {
		ctx.hub.metrics.error(err.code);
		sendError(res, err);
	}
}
