/**
 * What both edit guards share (the PreToolUse hook, hook-guard.ts, and the git pre-commit hook,
 * guard-git.ts): the guard modes, reading the live claims of a repository from the hub over HTTP
 * (GET /claims: no WebSocket, no session, one bounded request), which of them stand in the way of a path,
 * and the sentence that says who holds it and how to coordinate.
 */
import { patternCovers } from "../server/globs.js";
import type { ClaimInfo } from "../server/protocol.js";
import { formatDuration } from "./format.js";

export const GUARD_MODES = ["deny", "ask", "warn", "off"] as const;
export type GuardMode = (typeof GUARD_MODES)[number];
export const DEFAULT_GUARD_MODE: GuardMode = "ask";

/** The mode from --guard, else RELAY_GUARD, else ask; an unknown word counts as the default. */
export function guardMode(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): GuardMode {
	const raw = (flag ?? env.RELAY_GUARD ?? "").trim().toLowerCase();
	return (GUARD_MODES as readonly string[]).includes(raw) ? (raw as GuardMode) : DEFAULT_GUARD_MODE;
}

/** ws://host:port → http://host:port (wss → https): the hub answers HTTP on its WebSocket port. */
export function httpBase(wsUrl: string): string {
	const u = new URL(wsUrl);
	u.protocol = u.protocol === "wss:" ? "https:" : "http:";
	u.pathname = "/";
	u.search = "";
	return u.toString();
}

/** The live claims of `repo` in `room`, from GET /claims, within `timeoutMs`; throws on any failure. */
export async function fetchClaims(opts: { url: string; token?: string | undefined; room: string; repo: string; timeoutMs: number }): Promise<{ claims: ClaimInfo[]; now: number }> {
	const u = new URL("claims", httpBase(opts.url));
	u.searchParams.set("room", opts.room);
	u.searchParams.set("repo", opts.repo);
	const res = await fetch(u, {
		headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
		signal: AbortSignal.timeout(opts.timeoutMs),
	});
	if (!res.ok) throw new Error(`GET /claims answered ${res.status}`);
	const body = (await res.json()) as { claims?: ClaimInfo[]; now?: number };
	if (!Array.isArray(body.claims)) throw new Error("GET /claims answered without claims");
	return { claims: body.claims, now: typeof body.now === "number" ? body.now : Date.now() };
}

/** Other sessions' claims that cover `path` (repo-relative). */
export function blockingClaims(claims: readonly ClaimInfo[], path: string, self: string | undefined): ClaimInfo[] {
	return claims.filter((c) => c.session !== self && patternCovers(c.path, path));
}

/** Control characters as `?`: file names and reasons are printed to terminals. */
export function printable(text: string): string {
	// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
	return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "?");
}

const clock = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z").replace("T", " ");

/** One blocking claim: `CC-1 (pattern src/auth/**) until 2026-11-20 10:45:00Z (in 28m): "reason"`. */
export function holderLine(c: ClaimInfo, now: number): string {
	const reason = c.reason ? `: ${JSON.stringify(printable(c.reason))}` : " (no reason given)";
	return `${c.session} (pattern ${printable(c.path)}) until ${clock(c.expiresAt)} (in ${formatDuration(c.expiresAt - now)})${reason}`;
}

/** How to get past a claim without working around it. */
export function coordinateLine(blockers: readonly ClaimInfo[]): string {
	const holders = [...new Set(blockers.map((c) => c.session))];
	const first = holders[0] ?? "the holder";
	return `Coordinate with ${holders.join(", ")} before editing: relay_send {"to":"${first}","message":"…"} (from a shell: claude-relay send ${first} "…"), ask them to relay_release when done, or wait until the claim expires.`;
}

/** The guard's whole sentence for one file. */
export function guardReason(file: string, repo: string, blockers: readonly ClaimInfo[], now: number): string {
	const held = blockers.map((c) => holderLine(c, now)).join("; ");
	return `claude-relay: ${printable(file)} (in ${printable(repo)}) is claimed by another session: ${held}. ${coordinateLine(blockers)}`;
}
