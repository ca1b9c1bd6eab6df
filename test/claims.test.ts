/**
 * File claims through a real hub on port 0: grant, all-or-nothing conflicts naming the holder, renewal,
 * release, TTL bounds and expiry, repo and room scoping, and bad input (absolute paths, `..`, control
 * characters in reasons) answered with stable codes.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import { ErrorCode, RelayError } from "../server/errors.js";
import { connectClient, RawClient, startHub, type TestHub } from "./fixtures/hub.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

const REPO = "github.com/acme/api";

async function hubWith(opts: Parameters<typeof startHub>[0] = {}): Promise<TestHub> {
	const h = await startHub(opts);
	cleanups.push(h.stop);
	return h;
}
async function client(url: string, session: string, extra: Parameters<typeof connectClient>[2] = {}): Promise<HubClient> {
	const c = await connectClient(url, session, extra);
	cleanups.push(() => c.close({ bye: false }));
	return c;
}
async function rawSession(url: string, session: string): Promise<RawClient> {
	const r = new RawClient(url);
	cleanups.push(() => r.close());
	await r.opened();
	expect(await r.request({ type: "hello", session })).toMatchObject({ type: "result" });
	return r;
}
async function failure(p: Promise<unknown>): Promise<RelayError> {
	try {
		await p;
	} catch (err) {
		if (err instanceof RelayError) return err;
		throw err;
	}
	throw new Error("expected the request to fail");
}

describe("claim", () => {
	it("grants, lists, refuses an overlapping claim with the holder named, and grants nothing of it", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const b = await client(url, "B");
		const before = Date.now();
		const granted = await a.request("claim", { repo: REPO, paths: ["./src/auth/", "docs/auth.md"], reason: "token refresh rework", ttlSeconds: 600 });
		expect(granted.granted).toBe(true);
		expect(granted.conflicts).toEqual([]);
		expect(granted.claims.map((c) => c.path)).toEqual(["docs/auth.md", "src/auth/**"]);
		const [first] = granted.claims;
		expect(first).toEqual({ repo: REPO, session: "A", path: "docs/auth.md", reason: "token refresh rework", claimedAt: granted.now, expiresAt: granted.now + 600_000 });
		expect(granted.now).toBeGreaterThanOrEqual(before);

		const refused = await b.request("claim", { repo: REPO, paths: ["src/ui/**", "src/**/*.ts"] });
		expect(refused.granted).toBe(false);
		expect(refused.claims).toEqual([]);
		expect(refused.conflicts).toEqual([granted.claims[1]]);
		const listed = await b.request("claims", {});
		expect(listed.claims.map((c) => `${c.session}:${c.path}`)).toEqual(["A:docs/auth.md", "A:src/auth/**"]);
		expect(listed.now).toBeGreaterThanOrEqual(granted.now);
		expect((await b.request("claims", { session: "B" })).claims).toEqual([]);
		expect((await b.request("claim", { repo: REPO, paths: ["src/ui/**"] })).granted).toBe(true);
	});

	it("the holder renews by claiming again; the default TTL is claimDefaultTtlSeconds", async () => {
		const { url } = await hubWith({ claimDefaultTtlSeconds: 120 });
		const a = await client(url, "A");
		const first = await a.request("claim", { repo: REPO, paths: ["src/**"], reason: "first" });
		expect(first.claims[0]?.expiresAt).toBe(first.now + 120_000);
		await new Promise((r) => setTimeout(r, 5));
		const again = await a.request("claim", { repo: REPO, paths: ["src/**"], ttlSeconds: 300 });
		expect(again.claims).toEqual([{ repo: REPO, session: "A", path: "src/**", reason: "first", claimedAt: first.now, expiresAt: again.now + 300_000 }]);
		expect((await a.request("claims", { repo: REPO })).claims).toHaveLength(1);
	});

	it("a TTL over claimMaxTtlSeconds is E_LIMIT; a claim expires after its TTL and frees the paths", async () => {
		const { url } = await hubWith({ claimMaxTtlSeconds: 60 });
		const a = await client(url, "A");
		const b = await client(url, "B");
		const over = await failure(a.request("claim", { repo: REPO, paths: ["x"], ttlSeconds: 61 }));
		expect(over.code).toBe(ErrorCode.LIMIT);
		expect(over.message).toMatch(/maximum of 60 s/);
		await a.request("claim", { repo: REPO, paths: ["src/**"], ttlSeconds: 1 });
		expect((await b.request("claim", { repo: REPO, paths: ["src/x.ts"] })).granted).toBe(false);
		await new Promise((r) => setTimeout(r, 1_050));
		expect((await b.request("claims", {})).claims).toEqual([]);
		expect((await b.request("claim", { repo: REPO, paths: ["src/x.ts"] })).granted).toBe(true);
	});

	it("release some or all of one's own claims, never another session's", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const b = await client(url, "B");
		await a.request("claim", { repo: REPO, paths: ["a/**", "b/**"] });
		await a.request("claim", { repo: "github.com/acme/web", paths: ["c/**"] });
		await b.request("claim", { repo: REPO, paths: ["z/**"] });
		expect((await b.request("release", { paths: ["a/**"] })).released).toEqual([]);
		expect((await a.request("release", { repo: REPO, paths: ["a/"] })).released.map((c) => c.path)).toEqual(["a/**"]);
		expect((await a.request("release", {})).released.map((c) => `${c.repo}:${c.path}`)).toEqual([`${REPO}:b/**`, "github.com/acme/web:c/**"]);
		expect((await a.request("claims", {})).claims.map((c) => c.session)).toEqual(["B"]);
	});

	it("repositories and rooms are scopes", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const b = await client(url, "B");
		const elsewhere = await client(url, "B", { room: "other" });
		await a.request("claim", { repo: REPO, paths: ["src/**"] });
		expect((await b.request("claim", { repo: "github.com/acme/web", paths: ["src/**"] })).granted).toBe(true);
		expect((await elsewhere.request("claim", { repo: REPO, paths: ["src/**"] })).granted).toBe(true);
		expect((await elsewhere.request("claims", {})).claims.map((c) => c.session)).toEqual(["B"]);
	});

	it("bounds: claimMaxPerSession and claimMaxPerRepo are E_LIMIT; at most 64 paths per request", async () => {
		const { url } = await hubWith({ claimMaxPerSession: 3, claimMaxPerRepo: 4 });
		const a = await client(url, "A");
		const b = await client(url, "B");
		await a.request("claim", { repo: REPO, paths: ["a", "b", "c"] });
		expect(await failure(a.request("claim", { repo: "other", paths: ["d"] }))).toMatchObject({ code: ErrorCode.LIMIT, message: expect.stringMatching(/A holds 3/) });
		await b.request("claim", { repo: REPO, paths: ["x"] });
		expect(await failure(b.request("claim", { repo: REPO, paths: ["y"] }))).toMatchObject({ code: ErrorCode.LIMIT, message: expect.stringMatching(/4 live claims/) });
		const r = await rawSession(url, "C");
		const many = Array.from({ length: 65 }, (_, i) => `f${i}`);
		expect(await r.request({ type: "claim", repo: REPO, paths: many })).toMatchObject({ code: ErrorCode.BAD_FRAME });
		expect(await r.request({ type: "claim", repo: REPO, paths: [] })).toMatchObject({ code: ErrorCode.BAD_FRAME });
	});

	it("refuses absolute paths, '..', bad globs and bad repositories with E_BAD_PATH; the connection stays usable", async () => {
		const { url } = await hubWith();
		const r = await rawSession(url, "A");
		for (const path of ["/etc/passwd", "../secret", "src/../../x", "C:\\x", "src/\u0000x", "!src", "a/{b", "~/x"]) {
			const res = await r.request({ type: "claim", repo: REPO, paths: ["ok/**", path] });
			expect(res, JSON.stringify(path)).toMatchObject({ type: "error", code: ErrorCode.BAD_PATH });
		}
		for (const repo of ["", " x", "a\nb", "x".repeat(513)]) {
			expect(await r.request({ type: "claim", repo, paths: ["a"] }), JSON.stringify(repo)).toMatchObject({ code: ErrorCode.BAD_PATH });
		}
		expect(await r.request({ type: "release", paths: ["../x"] })).toMatchObject({ code: ErrorCode.BAD_PATH });
		expect(await r.request({ type: "claims", session: "../x" })).toMatchObject({ code: ErrorCode.BAD_ID });
		expect(await r.request({ type: "claims", repo: "a\u001b" })).toMatchObject({ code: ErrorCode.BAD_PATH });
		// Nothing of the refused requests was granted.
		expect(await r.request({ type: "claims" })).toMatchObject({ result: { claims: [] } });
	});

	it("a reason cannot carry control or bidirectional characters to whoever reads it", async () => {
		const { url } = await hubWith();
		const a = await client(url, "A");
		const out = await a.request("claim", { repo: REPO, paths: ["x"], reason: "fix\u001b[2J\u0007 the\nbug \u202eevil\u202c  now\u0000" });
		expect(out.claims[0]?.reason).toBe("fix [2J the bug evil now");
		const blank = await a.request("claim", { repo: REPO, paths: ["y"], reason: "\u0000\n " });
		expect(blank.claims[0]?.reason).toBeNull();
	});
});
