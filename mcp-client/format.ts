/**
 * The compact text the tools hand the model: one line per message, bodies bounded so that one huge message
 * cannot flood the context (the rest stays fetchable with relay_get), times in local time.
 */
import type { Message } from "../server/protocol.js";

/** Most body characters shown for one message. */
export const BODY_LIMIT = 4_000;
/** Body characters one result shows in all; messages past it get a short preview. */
export const RESULT_BUDGET = 16_000;
/** What a message past the budget still shows. */
export const PREVIEW_CHARS = 300;

/** A message as a tool returns it: the body cut to the bound, with its full length. */
export type ShownMessage = Message & { bodyChars: number; truncated: boolean };

const pad = (n: number) => String(n).padStart(2, "0");

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

/** The continuation hint for a body cut at `offset`. */
export function moreHint(id: string, offset: number, total: number): string {
	return `… [${total - offset} more chars: relay_get {"id":"${id}","offset":${offset}}]`;
}

function indent(text: string): string {
	return text.replace(/\n/g, "\n  ");
}

/** `[seq] FROM → TO (time, id[, re id]): body`, body cut at `limit` characters with a relay_get hint. */
export function messageLine(
	m: Message,
	limit = BODY_LIMIT,
	now = Date.now(),
): string {
	const head = `[${m.seq}] ${m.from} → ${m.to} (${formatTime(m.sentAt, now)}, ${m.id}${m.replyTo ? `, re ${m.replyTo}` : ""})`;
	const cut = m.body.length > limit;
	const body = cut
		? `${m.body.slice(0, limit)} ${moreHint(m.id, limit, m.body.length)}`
		: m.body;
	return `${head}: ${indent(body)}`;
}

/** Lines and structured copies of a page of messages, within the result budget. */
export function present(
	messages: readonly Message[],
	now = Date.now(),
): { lines: string[]; shown: ShownMessage[] } {
	let budget = RESULT_BUDGET;
	const lines: string[] = [];
	const shown: ShownMessage[] = [];
	for (const m of messages) {
		const limit = Math.min(BODY_LIMIT, Math.max(PREVIEW_CHARS, budget));
		budget -= Math.min(m.body.length, limit);
		lines.push(messageLine(m, limit, now));
		const truncated = m.body.length > limit;
		shown.push({
			...m,
			body: truncated ? m.body.slice(0, limit) : m.body,
			bodyChars: m.body.length,
			truncated,
		});
	}
	return { lines, shown };
}

export function plural(n: number, one: string, many = `${one}s`): string {
	return `${n} ${n === 1 ? one : many}`;
}
