/**
 * How the state and claims tools show what other agents wrote: values as indented JSON cut to a bound (JSON
 * escapes every control character, so a value cannot reach the model or a terminal as one), claims as one
 * line each with holder, reason and expiry, and the sentence on how to coordinate with a holder.
 */
import type { ClaimInfo, StateChangedPush, StateInfo } from "../server/protocol.js";
import { formatDuration, formatTime } from "./format.js";
import { neutralizeBody, safeName, safeText } from "./framing.js";

/** Most characters of a value shown in a tool's text (structuredContent has all of it). */
export const VALUE_SHOWN_CHARS = 4_000;

export function showValue(value: unknown, limit = VALUE_SHOWN_CHARS): string {
	// JSON escapes controls; what is left to neutralise is text that reads as one of our tags.
	const text = neutralizeBody(JSON.stringify(value, null, 2) ?? "null");
	return text.length > limit ? `${text.slice(0, limit)} … [${text.length - limit} more chars; structuredContent has the whole value]` : text;
}

export function stateLine(e: StateInfo, now = Date.now()): string {
	return `${safeText(e.key)}  v${e.version}  by ${safeName(e.updatedBy)} at ${formatTime(e.updatedAt, now)}  ${e.size} bytes`;
}

export function changeLine(c: StateChangedPush, now = Date.now()): string {
	return `${safeText(c.key)} ${c.deleted ? `deleted (was v${c.version})` : `is now v${c.version}`} by ${safeName(c.updatedBy)} at ${formatTime(c.updatedAt, now)}`;
}

/** `src/auth/** in github.com/a/b, held by CC-1 until 10:45:00 (in 28m): "reason"`. */
export function claimLine(c: ClaimInfo, now: number, opts: { repo?: boolean } = {}): string {
	const where = opts.repo ? ` in ${safeText(c.repo)}` : "";
	// The reason is the holder's free text: quoted, one line, no tags.
	const reason = c.reason ? `: ${safeText(JSON.stringify(c.reason))}` : "";
	return `${safeText(c.path)}${where}, held by ${safeName(c.session)} until ${formatTime(c.expiresAt, now)} (in ${formatDuration(c.expiresAt - now)})${reason}`;
}

/** What to do about claims held by others: ask the holder, or wait for the expiry. */
export function coordinateAdvice(conflicts: readonly ClaimInfo[]): string {
	const holders = [...new Set(conflicts.map((c) => safeName(c.session)))];
	const first = holders[0] ?? "the holder";
	return `Coordinate before touching these files: ask ${holders.join(", ")} with relay_send {"to":"${first}","message":"…"} (they can relay_release when done), or wait until the claim expires.`;
}
