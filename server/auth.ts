/**
 * Hub tokens and per-ID secrets. Both are compared in constant time (timingSafeEqual over fixed-length
 * digests, so neither the content nor the length of the expected value leaks through timing).
 */
import { hash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { randomBytesPooled } from "./random.js";

// One-shot (Node ≥ 20.12): no Hash object per call; a hello hashes once or twice (2.5 µs against 6 µs here).
function digest(value: string): Buffer {
	return hash("sha256", value, "buffer");
}

/** Constant-time equality of two strings of any length. */
export function safeEqual(presented: string, expected: string): boolean {
	return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * A secret a client brings to the first claim of an ID on this hub, adopted instead of minting a new one
 * when it is shaped like one we mint (at least 32 bytes of base64url). The case: the same ID used on two
 * hubs (a laptop's and a remote one) from one RELAY_HOME, which keeps one secret per room and ID. Minting
 * here would overwrite the client's secret for the other hub and lock it out of its own ID there.
 */
export function adoptableSecret(presented: string | undefined): presented is string {
	return presented !== undefined && /^[A-Za-z0-9_-]{43,256}$/.test(presented);
}

/** A new per-ID secret: 32 random bytes, base64url. Returned to the claimer once; only its hash is stored. */
export function mintSecret(): string {
	return randomBytesPooled(32).toString("base64url");
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
	// No query, no token: a WHATWG URL parse per upgrade was a tenth of a reconnect storm's upgrade work.
	if (!req.url?.includes("?")) return undefined;
	try {
		const url = new URL(req.url, "http://hub");
		return url.searchParams.get("token") ?? undefined;
	} catch {
		return undefined;
	}
}
