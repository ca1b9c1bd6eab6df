/**
 * The text the tools hand the model: each message in the relay's framing (framing.ts), bodies bounded so
 * that one huge message cannot flood the context (the rest stays fetchable with relay_get).
 */
import type { Message, Receipt } from "../server/protocol.js";
import { cutAt, Framing, safeName } from "./framing.js";

export { moreHint } from "./framing.js";

/** Most body characters shown for one message. */
export const BODY_LIMIT = 4_000;
/** Body characters one result shows in all; messages past it get a short preview. */
export const RESULT_BUDGET = 16_000;
/** What a message past the budget still shows. */
export const PREVIEW_CHARS = 300;

/** A message as a tool returns it: the body cut to the bound, with its full length. */
export type ShownMessage = Message & { bodyChars: number; truncated: boolean };

const pad = (n: number) => String(n).padStart(2, "0");

/** A time as the tools show it: local hh:mm:ss today, with the date otherwise. */
export function formatTime(ms: number, now = Date.now()): string {
	const d = new Date(ms);
	const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
	if (new Date(now).toDateString() === d.toDateString()) return hms;
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}`;
}

export function formatDuration(ms: number): string {
	const s = Math.max(0, Math.round(ms / 1000));
	if (s < 90) return `${s}s`;
	const m = Math.round(s / 60);
	if (m < 90) return `${m}m`;
	const h = Math.round(m / 60);
	return h < 48 ? `${h}h` : `${Math.round(h / 24)}d`;
}

/**
 * A page of messages for one tool result, within the result budget: the framing note (say it before the
 * blocks), one framed block per message (one nonce for the whole result), and the structured copies.
 */
export function present(
	messages: readonly Message[],
	framing = new Framing(),
): { note: string; blocks: string[]; shown: ShownMessage[] } {
	let budget = RESULT_BUDGET;
	const blocks: string[] = [];
	const shown: ShownMessage[] = [];
	for (const m of messages) {
		const limit = Math.min(BODY_LIMIT, Math.max(PREVIEW_CHARS, budget));
		budget -= Math.min(m.body.length, limit);
		blocks.push(framing.message(m, { limit }));
		const truncated = m.body.length > limit;
		shown.push({
			...m,
			body: truncated ? cutAt(m.body, limit) : m.body,
			bodyChars: m.body.length,
			truncated,
		});
	}
	return { note: framing.note(), blocks, shown };
}

export function plural(n: number, one: string, many = `${one}s`): string {
	return `${n} ${n === 1 ? one : many}`;
}

/** One line for a message's receipts: "CC-2 seen 10:15:02Z, CC-3 pushed 10:15:00Z, CC-4 queued" (names validated). */
export function describeReceipts(receipts: readonly Receipt[]): string {
	if (receipts.length === 0) return "no recipients";
	return receipts
		.map((r) => `${safeName(r.recipient)} ${r.state}${r.state === "queued" ? "" : ` ${new Date(r.at).toISOString().slice(11, 19)}Z`}`)
		.join(", ");
}
