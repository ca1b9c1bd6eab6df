/**
 * Hub tokens and per-ID secrets. Both are compared in constant time (timingSafeEqual over fixed-length
 * digests, so neither the content nor the length of the expected value leaks through timing).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

function digest(value: string): Buffer {
	return createHash("sha256").update(value, "utf8").digest();
}

/** Constant-time equality of two strings of any length. */
export function safeEqual(presented: string, expected: string): boolean {
	return timingSafeEqual(digest(presented), digest(expected));
}

/** A new per-ID secret: 32 random bytes, base64url. Returned to the claimer once; only its hash is stored. */
export function mintSecret(): string {
	return randomBytes(32).toString("base64url");
}

export function hashSecret(secret: string): string {
	return digest(secret).toString("hex");
}

export function secretMatches(presented: string | undefined, storedHash: string): boolean {
	if (!presented) return false;
	const stored = Buffer.from(storedHash, "hex");
	const given = digest(presented);
	return stored.length === given.length && timingSafeEqual(stored, given);
}

/** The token a client offered at the HTTP upgrade: `Authorization: Bearer <t>` or `?token=<t>`. */
export function tokenFromUpgrade(req: IncomingMessage): string | undefined {
	const header = req.headers.authorization;
	if (header?.startsWith("Bearer ")) return header.slice(7).trim();
	try {
		const url = new URL(req.url ?? "/", "http://hub");
		return url.searchParams.get("token") ?? undefined;
	} catch {
		return undefined;
	}
}
