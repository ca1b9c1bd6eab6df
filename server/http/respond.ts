/**
 * How the hub's HTTP endpoints answer: JSON with the headers every answer carries, errors as
 * `{"error":{"code","message"}}` with a stable code (server/errors.ts), and request bodies read with a bound.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, type RelayError } from "../errors.js";
import { checkName } from "../protocol.js";

/** Headers on every answer: nothing is cached, nothing is sniffed into another type, no page may frame it. */
export const BASE_HEADERS = {
	"cache-control": "no-store",
	"x-content-type-options": "nosniff",
	"x-frame-options": "DENY",
	"referrer-policy": "no-referrer",
} as const;

/** An error a route throws: the HTTP status, the stable code and a sentence saying what to do. */
export class HttpError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
		readonly headers: Record<string, string> = {},
	) {
		super(message);
		this.name = "HttpError";
	}
}

/** The HTTP status for a RelayError's code, when a route lets one through (the send checks, the store's). */
const STATUS: Partial<Record<string, number>> = {
	[ErrorCode.BAD_FRAME]: 400,
	[ErrorCode.BAD_ID]: 400,
	[ErrorCode.BAD_TARGET]: 400,
	[ErrorCode.BAD_KEY]: 400,
	[ErrorCode.BAD_PATH]: 400,
	[ErrorCode.TOO_LARGE]: 413,
	[ErrorCode.AUTH]: 401,
	[ErrorCode.NOT_FOUND]: 404,
	[ErrorCode.RATE_LIMITED]: 429,
	[ErrorCode.LIMIT]: 429,
	[ErrorCode.SHUTTING_DOWN]: 503,
	[ErrorCode.STORAGE]: 503,
};

export function httpError(err: RelayError): HttpError {
	return new HttpError(STATUS[err.code] ?? 400, err.code, err.message);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
	const json = JSON.stringify(body);
	res.writeHead(status, { ...BASE_HEADERS, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(json), ...headers });
	res.end(json);
}

export function sendError(res: ServerResponse, err: HttpError): void {
	if (res.headersSent) {
		res.destroy();
		return;
	}
	sendJson(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);
}

/**
 * The request's JSON body, read up to `max` bytes (E_TOO_LARGE, 413, past it: the rest is not read) and only
 * as `application/json`: a form or a `text/plain` POST, which a page of another site could send without a
 * CORS preflight, is refused (415) before its body is looked at.
 */
export async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
	const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
	if (type !== "application/json") {
		throw new HttpError(415, ErrorCode.BAD_FRAME, "Send the request body as JSON, with Content-Type: application/json.");
	}
	const declared = Number(req.headers["content-length"] ?? Number.NaN);
	if (declared > max) throw new HttpError(413, ErrorCode.TOO_LARGE, `Request body of ${declared} bytes is over the ${max}-byte limit.`);
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of req as AsyncIterable<Buffer>) {
		size += chunk.length;
		if (size > max) throw new HttpError(413, ErrorCode.TOO_LARGE, `Request body is over the ${max}-byte limit.`);
		chunks.push(chunk);
	}
	try {
		return JSON.parse(Buffer.concat(chunks).toString("utf8"));
	} catch {
		throw new HttpError(400, ErrorCode.BAD_FRAME, "Request body is not valid JSON.");
	}
}

/** An integer query parameter within [min, max], undefined when absent; 400 E_BAD_FRAME otherwise. */
export function intParam(url: URL, name: string, min: number, max: number): number | undefined {
	const raw = url.searchParams.get(name);
	if (raw === null) return undefined;
	const n = Number(raw);
	if (raw.trim() === "" || !Number.isSafeInteger(n) || n < min || n > max) {
		throw new HttpError(400, ErrorCode.BAD_FRAME, `${name} must be an integer from ${min} to ${max}.`);
	}
	return n;
}

/** `?room=`, the default room when absent; 400 E_BAD_ID for a malformed name. */
export function roomParam(url: URL): string {
	const room = url.searchParams.get("room") ?? "default";
	const check = checkName(room, "room name");
	if (!check.ok) throw new HttpError(400, ErrorCode.BAD_ID, check.reason);
	return room;
}

/** An optional session ID parameter; 400 E_BAD_ID for a malformed one. */
export function sessionParam(url: URL, name: string): string | undefined {
	const session = url.searchParams.get(name);
	if (session === null) return undefined;
	const check = checkName(session, name);
	if (!check.ok) throw new HttpError(400, ErrorCode.BAD_ID, check.reason);
	return session;
}
