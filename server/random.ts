/**
 * Cryptographically random bytes from a pool refilled 4 KiB at a time. `crypto.randomBytes` costs about
 * 9 µs a call; a hello drew twice (its claim id, and a new ID's secret), which profiling put at 4% of the
 * hub's time in a connection storm. Bytes handed out are zeroed in the pool, so a secret does not linger
 * there beside the next one.
 */
import { randomFillSync } from "node:crypto";

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let at = POOL_BYTES;

/** `n` random bytes (at most 1024), as a new Buffer. */
export function randomBytesPooled(n: number): Buffer {
	if (n > 1024) throw new RangeError("randomBytesPooled: at most 1024 bytes");
	if (at + n > POOL_BYTES) {
		randomFillSync(pool);
		at = 0;
	}
	const out = Buffer.from(pool.subarray(at, at + n));
	pool.fill(0, at, at + n);
	at += n;
	return out;
}
