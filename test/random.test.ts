/** The pooled random bytes behind secrets and claim ids (server/random.ts). */
import { describe, expect, it } from "vitest";
import { mintSecret } from "../server/auth.js";
import { newClaimId } from "../server/directory.js";
import { randomBytesPooled } from "../server/random.js";

describe("randomBytesPooled", () => {
	it("hands out fresh bytes of the asked length across pool refills, each draw distinct", () => {
		const seen = new Set<string>();
		// 32 bytes x 1,000 is eight refills of the 4 KiB pool.
		for (let i = 0; i < 1_000; i++) {
			const b = randomBytesPooled(32);
			expect(b.length).toBe(32);
			seen.add(b.toString("hex"));
		}
		expect(seen.size).toBe(1_000);
		// Every byte value shows up over 64 KiB: not a constant or zeroed pool.
		const values = new Set(randomBytesPooled(1024));
		for (let i = 0; i < 63; i++) for (const v of randomBytesPooled(1024)) values.add(v);
		expect(values.size).toBe(256);
		expect(() => randomBytesPooled(1025)).toThrow(RangeError);
	});

	it("a returned buffer is the caller's: changing it does not change the next draw", () => {
		const a = randomBytesPooled(16);
		a.fill(0);
		expect(randomBytesPooled(16).equals(Buffer.alloc(16))).toBe(false);
	});

	it("secrets and claim ids keep their shapes", () => {
		expect(mintSecret()).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(newClaimId()).toMatch(/^[A-Za-z0-9_-]{16}$/);
		expect(new Set(Array.from({ length: 500 }, () => mintSecret())).size).toBe(500);
	});
});
