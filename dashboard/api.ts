/**
 * The page's only way to the hub: fetch() to its own origin, with the hub token (when it has one) as an
 * Authorization header, kept in sessionStorage for this tab only. No cookie, so another site cannot make the
 * browser send it (no CSRF); nothing is fetched from anywhere else.
 */
import type { LiveEvents } from "./types.js";

const TOKEN_KEY = "claude-relay-token";

export class AuthError extends Error {
	override name = "AuthError";
}

export class ApiError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
	) {
		super(message);
		this.name = "ApiError";
	}
}

export function token(): string | null {
	return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value: string | null): void {
	if (value === null) sessionStorage.removeItem(TOKEN_KEY);
	else sessionStorage.setItem(TOKEN_KEY, value);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
	const t = token();
	return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

async function answer<T>(res: Response): Promise<T> {
	if (res.status === 401) throw new AuthError("The hub needs its token.");
	const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
	if (!res.ok) throw new ApiError(res.status, body?.error?.code ?? "E_HTTP", body?.error?.message ?? `HTTP ${res.status}`);
	return body as T;
}

/** GET a path of the API (relative to the page: works behind a tunnel or a proxy's sub-path too). */
export async function get<T>(path: string, params: Record<string, string | number | undefined> = {}): Promise<T> {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
	const query = q.toString();
	return answer<T>(await fetch(`${path}${query ? `?${query}` : ""}`, { headers: headers(), cache: "no-store" }));
}

export async function post<T>(path: string, body: unknown): Promise<T> {
	return answer<T>(await fetch(path, { method: "POST", headers: headers({ "content-type": "application/json" }), body: JSON.stringify(body) }));
}

type Handler = <K extends keyof LiveEvents>(event: K, data: LiveEvents[K]) => void;

/**
 * Reads the live stream (server-sent events over fetch: EventSource cannot send the Authorization header)
 * until `signal` aborts or the hub ends it. Resolves when the stream ends; rejects with AuthError on 401.
 */
export async function live(room: string, onEvent: Handler, signal: AbortSignal): Promise<void> {
	const res = await fetch(`api/live?room=${encodeURIComponent(room)}`, { headers: headers(), signal, cache: "no-store" });
	if (res.status === 401) throw new AuthError("The hub needs its token.");
	if (!res.ok || !res.body) throw new ApiError(res.status, "E_HTTP", `live stream: HTTP ${res.status}`);
	const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
	let buffer = "";
	for (;;) {
		const { value, done } = await reader.read();
		if (done) return;
		buffer += value;
		for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
			const block = buffer.slice(0, end);
			buffer = buffer.slice(end + 2);
			let event = "message";
			let data = "";
			for (const line of block.split("\n")) {
				if (line.startsWith("event: ")) event = line.slice(7);
				else if (line.startsWith("data: ")) data += line.slice(6);
			}
			if (!data) continue;
			try {
				onEvent(event as keyof LiveEvents, JSON.parse(data));
			} catch (err) {
				console.error("live event", event, err);
			}
		}
	}
}
