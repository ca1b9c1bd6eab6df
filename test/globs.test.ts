/**
 * The claim-pattern rule (server/globs.ts): normalization, what a pattern covers, and overlap. The overlap
 * rule may say "overlap" where none exists (conservative) but must never miss one: a brute-force check over
 * generated patterns and paths holds it to that.
 */
import picomatch from "picomatch";
import { describe, expect, it } from "vitest";
import {
	BRACE_MAX_EXPANSIONS,
	CLAIM_PATH_MAX_SEGMENTS,
	expandBraces,
	normalizeClaimPath,
	overlappingPairs,
	patternCovers,
	patternsOverlap,
} from "../server/globs.js";

const norm = (p: string) => {
	const r = normalizeClaimPath(p);
	if (!r.ok) throw new Error(`refused ${p}: ${r.reason}`);
	return r.path;
};
const refused = (p: string) => {
	const r = normalizeClaimPath(p);
	return r.ok ? null : r.reason;
};

describe("normalizeClaimPath", () => {
	it("canonicalizes: ./, empty and . segments, trailing / as /**, repeated **", () => {
		expect(norm("./src/auth/")).toBe("src/auth/**");
		expect(norm("src//auth/./token.ts")).toBe("src/auth/token.ts");
		expect(norm("  src/**/**/x.ts ")).toBe("src/**/x.ts");
		expect(norm("src/**/")).toBe("src/**");
		expect(norm("**")).toBe("**");
		expect(norm("app/[id]/page.tsx")).toBe("app/[id]/page.tsx");
		expect(norm("src/{a,b}/*.ts")).toBe("src/{a,b}/*.ts");
	});

	it("refuses absolute paths, .., backslashes, control characters, negation and empties, with a reason", () => {
		for (const p of ["/etc/passwd", "C:/x", "c:\\x", "~/x", "~"]) expect(refused(p)).toMatch(/absolute|backslash/);
		for (const p of ["../x", "src/../../x", "a/..", "src/{a,..}/x"]) expect(refused(p)).toMatch(/\.\./);
		expect(refused("src\\auth")).toMatch(/backslash/);
		expect(refused("src/\u0000x")).toMatch(/control/);
		expect(refused("src/\u001b[31mx")).toMatch(/control/);
		expect(refused("!src/x")).toMatch(/negation/);
		for (const p of ["", "   ", "./", ".", "//"]) expect(refused(p)).not.toBeNull();
		expect(refused("x".repeat(1025))).toMatch(/longer/);
		expect(refused(Array.from({ length: CLAIM_PATH_MAX_SEGMENTS + 1 }, () => "d").join("/"))).toMatch(/segments/);
	});

	it("refuses unbalanced braces, ranges and too many alternatives", () => {
		expect(refused("src/{a,b")).toMatch(/not closed/);
		expect(refused("src/a}")).toMatch(/no '\{'/);
		expect(refused("file{1..9}.ts")).toMatch(/ranges/);
		expect(refused("{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}")).toMatch(/alternatives/);
		expect(normalizeClaimPath("{a,b}{c,d}{e,f}{g,h}{i,j}").ok).toBe(true); // 32: the bound itself
	});

	it("is idempotent", () => {
		for (const p of ["./a/b/", "a//**/**/c", "x/{a,b}/", "**/"]) expect(norm(norm(p))).toBe(norm(p));
	});
});

describe("expandBraces", () => {
	it("expands nested alternatives and leaves braces without commas alone", () => {
		expect(expandBraces("src/{a,b/{c,d}}/x")).toEqual({ ok: true, patterns: ["src/a/x", "src/b/c/x", "src/b/d/x"] });
		expect(expandBraces("a{x}b")).toEqual({ ok: true, patterns: ["a{x}b"] });
		expect(expandBraces("{,x}y")).toEqual({ ok: true, patterns: ["xy", "y"] });
		const many = expandBraces("{a,b}{c,d}{e,f}{g,h}{i,j}");
		expect(many.ok && many.patterns.length).toBe(BRACE_MAX_EXPANSIONS);
	});
});

describe("patternCovers: a pattern covers what it names and everything below", () => {
	const cases: Array<[string, string, boolean]> = [
		["src/auth/**", "src/auth/token.ts", true],
		["src/auth/**", "src/auth/deep/er/x.ts", true],
		["src/auth/**", "src/auth", true],
		["src/auth/**", "src/authz/x.ts", false],
		["src/auth/**", "src/ui/x.ts", false],
		["src/auth", "src/auth/token.ts", true],
		["src/auth", "src/authz", false],
		["src/auth/token.ts", "src/auth/token.ts", true],
		["src/auth/token.ts", "src/auth/token.tsx", false],
		["src/**/*.ts", "src/auth/token.ts", true],
		["src/**/*.ts", "src/x.ts", true],
		["src/**/*.ts", "src/x.md", false],
		["src/**/*.ts", "lib/x.ts", false],
		["src/*.ts", "src/a/b.ts", false],
		["src/*", "src/a/b.ts", false],
		["src/*", "src/a", true],
		["**", "anything/at/all", true],
		["**/*.md", "README.md", true],
		["src/**", "src/.env", true],
		["src/*", "src/.env", true],
		["app/[id]/page.tsx", "app/[id]/page.tsx", true],
		["app/[id]/page.tsx", "app/i/page.tsx", true],
		["app/[id]/page.tsx", "app/x/page.tsx", false],
		["src/{auth,ui}/**", "src/ui/button.tsx", true],
		["src/{auth,ui}/**", "src/db/x.ts", false],
		["src/file?.ts", "src/file1.ts", true],
		["src/file?.ts", "src/file12.ts", false],
		["Src/x.ts", "src/x.ts", false],
	];
	it.each(cases)("%s covers %s: %s", (pattern, file, want) => {
		expect(patternCovers(norm(pattern), file)).toBe(want);
	});
});

describe("patternsOverlap", () => {
	const cases: Array<[string, string, boolean]> = [
		// the examples
		["src/auth/**", "src/**/*.ts", true],
		["src/auth/**", "src/auth/token.ts", true],
		["src/auth/**", "src/ui/x.ts", false],
		["src/auth/**", "src/ui/**", false],
		["src/auth/**", "src/authz/**", false],
		["src/auth/**", "src", true],
		["src/auth/**", "**", true],
		["src/auth/**", "**/token.ts", true],
		["src/auth/**", "**/auth/**", true],
		["src/auth/**", "lib/**", false],
		// segment globs
		["src/*.ts", "src/*.md", false],
		["src/*.ts", "src/*.test.ts", true],
		["src/auth*", "src/*.ts", true],
		["src/a*", "src/b*", false],
		["src/a*x", "src/ab*", true],
		["src/*.ts", "src/index.ts", true],
		["src/*.ts", "src/index.md", false],
		["src/*/x.ts", "src/a/b/x.ts", false],
		["src/**/x.ts", "src/a/b/x.ts", true],
		["src/**/*.ts", "src/**/*.md", false],
		// plain last names may be directories: src/x.ts/y.ts is below both
		["src/**/x.ts", "src/**/y.ts", true],
		["src/**/x.ts", "**/src/x.ts", true],
		["a/**/b/**/c", "a/b/c", true],
		["a/**/b", "a/c", true], // a/c/b
		["a/**/*.ts", "a/c", true], // a/c/x.ts
		["a/*.ts", "a/c", false],
		["src/*", "src/auth/token.ts", false],
		["*/b", "a/*", true],
		["docs/**", "src/**", false],
		// braces are alternatives
		["src/{auth,ui}/**", "src/ui/x.ts", true],
		["src/{auth,ui}/**", "src/db/**", false],
		// descendants: a file claim and its directory
		["src/auth/token.ts", "src/auth", true],
		["src/auth/token.ts", "src/auth/token.ts.bak", false],
		["src/auth/token.ts", "src/auth/token.ts/x", true],
	];
	it.each(cases)("%s vs %s: %s", (a, b, want) => {
		expect(patternsOverlap(norm(a), norm(b))).toBe(want);
		expect(patternsOverlap(norm(b), norm(a))).toBe(want);
	});

	it("overlappingPairs lists exactly the overlapping pairs", () => {
		expect(overlappingPairs([norm("src/auth/**"), norm("docs/x.md")], [norm("src/**/*.ts"), norm("lib/**")])).toEqual([["src/auth/**", "src/**/*.ts"]]);
	});

	it("never misses an overlap: any path covered by both patterns means they overlap (brute force)", () => {
		// A seeded generator over a tiny alphabet, so that collisions are common and the run is repeatable.
		let seed = 12345;
		const rand = (n: number) => {
			seed = (seed * 1103515245 + 12345) & 0x7fffffff;
			return seed % n;
		};
		const pick = <T>(xs: readonly T[]) => xs[rand(xs.length)] as T;
		const names = ["a", "b", "ab", "a.ts", "b.ts", "a.md", ".x"];
		const globSegs = ["*", "**", "a*", "*.ts", "*b", "?", "a?", "[ab]", "*.md", "{a,b}", "{a,b}.ts", "?.ts"];
		const pattern = () => Array.from({ length: 1 + rand(4) }, () => (rand(2) ? pick(names) : pick(globSegs))).join("/");
		const paths: string[] = [];
		const walk = (prefix: string, depth: number) => {
			if (depth > 0) paths.push(prefix);
			if (depth === 4) return;
			for (const n of names) walk(prefix ? `${prefix}/${n}` : n, depth + 1);
		};
		walk("", 0); // every path of 1 to 4 segments over the alphabet: 2,800
		// An oracle independent of globs.ts: picomatch on whole paths, plus the rule's "a plain last name also
		// covers what is below it".
		const oracle = (pattern: string) => {
			const whole = picomatch(pattern, { dot: true });
			const last = pattern.split("/").pop() ?? "";
			const below = picomatch.scan(last).isGlob ? () => false : picomatch(`${pattern}/**`, { dot: true });
			return (p: string) => whole(p) || below(p);
		};
		let checked = 0;
		let overlapping = 0;
		for (let i = 0; i < 400; i++) {
			const a = normalizeClaimPath(pattern());
			const b = normalizeClaimPath(pattern());
			if (!a.ok || !b.ok) continue;
			const [inA, inB] = [oracle(a.path), oracle(b.path)];
			for (const p of paths.slice(0, 400)) expect(patternCovers(a.path, p), `${a.path} covers ${p}`).toBe(inA(p));
			const common = paths.find((p) => inA(p) && inB(p));
			const said = patternsOverlap(a.path, b.path);
			if (common !== undefined) {
				overlapping++;
				expect(said, `${a.path} and ${b.path} both cover ${common}`).toBe(true);
			}
			checked++;
		}
		expect(checked).toBeGreaterThan(300);
		// The generator must produce both outcomes, or the check proves nothing.
		expect(overlapping).toBeGreaterThan(50);
		expect(overlapping).toBeLessThan(checked);
	});

	it("is exact for plain paths: overlap iff one is an ancestor of (or equal to) the other", () => {
		const plain = ["a", "a/b", "a/b/c", "a/c", "b", "b/a", "ab", "a/bc"];
		for (const x of plain)
			for (const y of plain) {
				const want = x === y || y.startsWith(`${x}/`) || x.startsWith(`${y}/`);
				expect(patternsOverlap(x, y), `${x} vs ${y}`).toBe(want);
			}
	});
});
