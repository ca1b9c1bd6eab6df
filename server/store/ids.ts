/**
 * Message ids and recipient lists, shared by every Store backend so that ids look the same whatever stores
 * them (clients dedupe by id; a model sees them and passes them back to relay_get).
 */
import { randomInt } from "node:crypto";

const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/**
 * `m-<seq>-<6 random [a-z0-9]>`: short, because ids end up in a model's context. The seq makes it unique;
 * the random tail makes it unguessable enough that an id cannot be derived from a seq cursor.
 */
export function newMessageId(seq: number): string {
	let tail = "";
	for (let i = 0; i < 6; i++) tail += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
	return `m-${seq}-${tail}`;
}

/**
 * The seq inside a message id (`m-<seq>-<tail>`), or null for anything not shaped like one. Lets SQLite find a
 * message by its primary key instead of keeping a second unique index on the id (one B-tree less to update
 * on every append).
 */
export function seqOfMessageId(id: string): number | null {
	const m = /^m-(\d{1,15})-[a-z0-9]{6}$/.exec(id);
	return m ? Number(m[1]) : null;
}

/** Recipients without repeats (one delivery each), first occurrence order kept. */
export function uniqueRecipients(recipients: readonly string[]): string[] {
	return [...new Set(recipients)];
}
