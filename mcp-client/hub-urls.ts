/**
 * Hub URLs as every client takes them: one URL, or several hubs sharing one Redis, comma-separated
 * (`RELAY_URL=ws://a:9999,ws://b:9999`, `--url ws://a:9999,ws://b:9999`). A client talks to one hub at a
 * time and moves to the next in the list when that one dies or refuses it (mcp-client/hub-client.ts).
 */

/** Most URLs a list may hold: a handful of hubs, not a scan. */
export const MAX_HUB_URLS = 16;

const WS_URL = /^wss?:\/\/[^/\s,]+/i;

export type HubUrls = { ok: true; urls: string[] } | { ok: false; problem: string };

/** Splits and checks a URL list; duplicates are dropped, the order is kept. `what` names the setting for the fix. */
export function parseHubUrls(text: string | readonly string[], what = "RELAY_URL"): HubUrls {
	const parts = (typeof text === "string" ? text.split(",") : text.flatMap((t) => t.split(","))).map((u) => u.trim()).filter(Boolean);
	if (parts.length === 0) return { ok: false, problem: `No hub URL given; set ${what} to ws://HOST:PORT (several hubs: comma-separated).` };
	const urls = [...new Set(parts)];
	if (urls.length > MAX_HUB_URLS) return { ok: false, problem: `${what} lists ${urls.length} hub URLs; at most ${MAX_HUB_URLS}.` };
	for (const u of urls) {
		if (!WS_URL.test(u)) return { ok: false, problem: `The hub URL ${JSON.stringify(u)} is not a ws:// or wss:// URL; fix ${what}.` };
		try {
			new URL(u);
		} catch {
			return { ok: false, problem: `The hub URL ${JSON.stringify(u)} is not a valid URL; fix ${what}.` };
		}
	}
	return { ok: true, urls };
}

/** `ws://HOST:PORT/...` → `http://HOST:PORT` (for /healthz and /sessions). */
export function httpBase(wsUrl: string): string {
	const u = new URL(wsUrl);
	return `${u.protocol === "wss:" ? "https:" : "http:"}//${u.host}`;
}
