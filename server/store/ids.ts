/**
 * Message ids and recipient lists, shared by every Store backend so that ids look the same whatever stores
 * them (clients dedupe by id; a model sees them and passes them back to relay_get).
 */
import { randomFillSync } from "node:crypto";
import { MESSAGE_ID_PATTERN } from "../protocol.js";

const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
/** Random bytes below this map evenly onto the alphabet (7 x 36); the rest are skipped, so no letter is favoured. */
const UNBIASED_BELOW = 252;

/**
 * Random bytes are drawn from one pool refilled 4 KiB at a time: one crypto call per ~600 ids instead of six
 * per id (they were 2.5% of the hub's time under load).
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function randomByte(): number {
	if (poolAt === pool.length) {
		randomFillSync(pool);
		poolAt = 0;
	}
	return pool[poolAt++] as number;
}

/**
 * `m-<seq>-<6 random [a-z0-9]>` (MESSAGE_ID_PATTERN, which the protocol checks every client-sent id against):
 * short, because ids end up in a model's context. The seq makes it unique;
 * the random tail makes it unguessable enough that an id cannot be derived from a seq cursor.
 */
export function newMessageId(seq: number): string {
	let tail = "";
	while (tail.length < 6) {
		const b = randomByte();
		if (b < UNBIASED_BELOW) tail += ID_ALPHABET[b % ID_ALPHABET.length];
	}
	return `m-${seq}-${tail}`;
}

/**
 * The seq inside a message id (`m-<seq>-<tail>`), or null for anything not shaped like one. Lets SQLite find a
 * message by its primary key instead of keeping a second unique index on the id (one B-tree less to update
 * on every append).
 */
export function seqOfMessageId(id: string): number | null {
	return MESSAGE_ID_PATTERN.test(id) ? Number(id.slice(2, id.lastIndexOf("-"))) : null;
}

/** Recipients without repeats (one delivery each), first occurrence order kept. */
export function uniqueRecipients(recipients: readonly string[]): string[] {
	return recipients.length < 2 ? [...recipients] : [...new Set(recipients)];
}
