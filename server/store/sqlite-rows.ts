/**
 * How a row of `messages` becomes a Message, shared by the SQLite store and its sub-stores that read messages.
 */
import type { Message } from "../protocol.js";

/** Columns of `messages m` aliased to the fields of Message; `toMessage` makes a row a Message. */
export const MESSAGE = `m.id, m.seq, m.room, m.sender AS "from", m.recipient AS "to", m.body,
	m.reply_to AS replyTo, coalesce(m.thread, m.id) AS thread, m.sent_at AS sentAt, m.human`;

/** A row of MESSAGE: `human` is 1 or NULL (migration 6). */
export type MessageRow = Omit<Message, "human"> & { human: number | null };

/**
 * A row as a Message: `human` only when set, as every backend returns it. A literal rather than deleting the
 * key, so every message object has one of two shapes (V8 keeps them fast to serialize).
 */
export function toMessage(r: MessageRow): Message {
	const m: Message = { id: r.id, seq: r.seq, room: r.room, from: r.from, to: r.to, body: r.body, replyTo: r.replyTo, thread: r.thread, sentAt: r.sentAt };
	if (r.human === 1) m.human = true;
	return m;
}

