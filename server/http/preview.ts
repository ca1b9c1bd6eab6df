/**
 * Messages as the dashboard's lists and live stream carry them: the body cut to a preview (a room's page of
 * 64 KiB bodies would be megabytes), with its full length, so the page can offer "show all", which reads the
 * message by id (GET /api/messages/<id>).
 */
import type { Message } from "../protocol.js";

/** Body characters a list or a live event carries per message. */
export const PREVIEW_CHARS = 2_000;

export type MessagePreview = Message & { bodyChars: number; truncated: boolean };

export function preview(m: Message, limit = PREVIEW_CHARS): MessagePreview {
	if (m.body.length <= limit) return { ...m, bodyChars: m.body.length, truncated: false };
	// Never end inside a surrogate pair.
	const code = m.body.charCodeAt(limit - 1);
	const end = code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit;
	return { ...m, body: m.body.slice(0, end), bodyChars: m.body.length, truncated: true };
}
