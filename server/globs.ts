/**
 * Claim patterns: which repo-relative paths a file claim covers, and whether two claims overlap. Used by the
 * hub (a claim that overlaps another session's live claim is refused) and by the clients (the guard hook,
 * the git pre-commit guard, relay_peers). Pure functions over strings: no file system, no repository.
 *
 * A pattern is a repo-relative path with `/` separators that may use picomatch's glob syntax: `*` and `?`
 * within one segment, `**` for any number of segments, `[...]` classes, `{a,b}` alternatives, extglobs.
 * Matching is case-sensitive and `*` matches dotfiles too (a claim on `src/**` covers `src/.env`).
 *
 * THE RULE. A pattern covers the paths its glob matches. One that ends in a plain name (no glob characters in
 * its last segment) also covers everything below that name, which may be a directory: `src/auth` covers
 * `src/auth` and `src/auth/token.ts`, as a pathspec does in git; a trailing `/` says so explicitly
 * (`src/auth/` is stored as `src/auth/**`). `src/*.ts` covers `src/x.ts` but not `src/a/x.ts`. Two patterns
 * overlap when some path could be covered by both. That is decided segment by segment, `**` standing for
 * any run of segments:
 *   - two plain segments overlap when they are equal;
 *   - a plain and a glob segment overlap when the glob matches the plain one (or is spelt the same: a file
 *     named `[id].tsx` is covered by the pattern `[id].tsx`);
 *   - two glob segments overlap unless their literal beginnings or their literal endings rule it out:
 *     `*.ts` and `*.md` do not overlap, `auth*` and `*.ts` do (`auth.ts`), `a*` and `b*` do not.
 * The last case is conservative: two globs reported as overlapping may in rare cases have no common match
 * (`!(x)` and `x`-only patterns); a reported non-overlap is always true. For claims, a false "overlap" is a
 * refused claim with the holder named, a false "no overlap" would be two sessions editing one file.
 *
 * Examples: `src/auth/**` overlaps `src/**\/*.ts` (src/auth/token.ts), `src/auth/token.ts`, `src` and `**`;
 * it does not overlap `src/ui/**` or `src/authz/**`.
 */
import picomatch from "picomatch";

export const CLAIM_PATH_MAX_CHARS = 1024;
export const CLAIM_PATH_MAX_SEGMENTS = 64;
/** `{a,b}{c,d}` is 4 alternatives; a pattern may expand to at most this many. */
export const BRACE_MAX_EXPANSIONS = 32;

export type ClaimPathCheck = { ok: true; path: string } | { ok: false; reason: string };

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * The canonical form of a claim pattern, or why it is refused. Canonical: no leading `./`, no `.` or empty
 * segments, a trailing `/` turned into `/**`, repeated `**` segments collapsed. Refused: absolute paths (`/x`,
 * `C:\x`, `~/x`), `..` segments, backslashes, control characters, negation (`!x`), unbalanced or too many
 * `{}` alternatives, brace ranges (`{1..9}`), over 1,024 characters or 64 segments.
 */
export function normalizeClaimPath(raw: string): ClaimPathCheck {
	if (typeof raw !== "string") return { ok: false, reason: "a path must be a string" };
	const text = raw.trim();
	if (text === "") return { ok: false, reason: "a path is empty" };
	if (text.length > CLAIM_PATH_MAX_CHARS) return { ok: false, reason: `a path is longer than ${CLAIM_PATH_MAX_CHARS} characters` };
	if (CONTROL.test(text)) return { ok: false, reason: "a path contains control characters" };
	if (text.includes("\\")) return { ok: false, reason: `${show(text)} contains a backslash; use '/' between directories` };
	if (text.startsWith("/") || /^[A-Za-z]:/.test(text) || text.startsWith("~"))
		return { ok: false, reason: `${show(text)} is absolute; give it relative to the repository root (e.g. src/auth/**)` };
	if (text.startsWith("!")) return { ok: false, reason: `${show(text)} is a negation; claims name what they cover` };
	const dir = text.endsWith("/");
	const segments: string[] = [];
	for (const seg of text.split("/")) {
		if (seg === "" || seg === ".") continue;
		if (seg === "..") return { ok: false, reason: `${show(text)} contains '..'; paths stay inside the repository` };
		if (seg === "**" && segments[segments.length - 1] === "**") continue;
		segments.push(seg);
	}
	if (segments.length === 0) return { ok: false, reason: `${show(text)} names no path; the whole repository is **` };
	if (dir && segments[segments.length - 1] !== "**") segments.push("**");
	if (segments.length > CLAIM_PATH_MAX_SEGMENTS) return { ok: false, reason: `${show(text)} has more than ${CLAIM_PATH_MAX_SEGMENTS} segments` };
	const path = segments.join("/");
	const expanded = expandBraces(path);
	if (!expanded.ok) return { ok: false, reason: `${show(text)}: ${expanded.reason}` };
	for (const alt of expanded.patterns) {
		if (alt.split("/").some((s) => s === "..")) return { ok: false, reason: `${show(text)} contains '..' inside {}` };
		try {
			picomatch.makeRe(alt, { dot: true });
		} catch (err) {
			return { ok: false, reason: `${show(text)} is not a valid glob (${(err as Error).message})` };
		}
	}
	return { ok: true, path };
}

const show = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);

/**
 * Expands `{a,b}` alternatives (nested too) into plain globs, so that overlap can be decided segment by
 * segment. Braces without a comma are left as they are (picomatch reads them literally); ranges are refused.
 */
export function expandBraces(pattern: string): { ok: true; patterns: string[] } | { ok: false; reason: string } {
	let depth = 0;
	for (const c of pattern) {
		if (c === "{") depth++;
		else if (c === "}" && --depth < 0) return { ok: false, reason: "a '}' has no '{'" };
	}
	if (depth !== 0) return { ok: false, reason: "a '{' is not closed" };
	const out: string[] = [];
	const pending = [pattern];
	while (pending.length > 0) {
		const p = pending.pop() as string;
		const group = firstGroup(p);
		if (!group) {
			out.push(p);
			if (out.length > BRACE_MAX_EXPANSIONS) return { ok: false, reason: `more than ${BRACE_MAX_EXPANSIONS} alternatives in {}` };
			continue;
		}
		if (group.range) return { ok: false, reason: "brace ranges ({1..9}) are not supported in claims; list the paths" };
		const head = p.slice(0, group.start);
		const tail = p.slice(group.end + 1);
		for (const alt of group.alternatives) pending.push(head + alt + tail);
		if (pending.length + out.length > BRACE_MAX_EXPANSIONS * 4) return { ok: false, reason: `more than ${BRACE_MAX_EXPANSIONS} alternatives in {}` };
	}
	return { ok: true, patterns: [...new Set(out)].sort() };
}

/** The first `{...}` group with a top-level comma (or a range), with its alternatives. */
function firstGroup(p: string): { start: number; end: number; alternatives: string[]; range: boolean } | null {
	for (let start = p.indexOf("{"); start >= 0; start = p.indexOf("{", start + 1)) {
		let depth = 0;
		const cuts: number[] = [];
		let end = -1;
		for (let i = start; i < p.length; i++) {
			const c = p[i];
			if (c === "{") depth++;
			else if (c === "}") {
				depth--;
				if (depth === 0) {
					end = i;
					break;
				}
			} else if (c === "," && depth === 1) cuts.push(i);
		}
		if (end < 0) return null;
		const inner = p.slice(start + 1, end);
		if (cuts.length === 0) {
			if (/^[^{}]*\.\.[^{}]*$/.test(inner)) return { start, end, alternatives: [], range: true };
			continue; // `{x}`: literal to picomatch, nothing to expand
		}
		const alternatives: string[] = [];
		let from = start + 1;
		for (const cut of [...cuts, end]) {
			alternatives.push(p.slice(from, cut));
			from = cut + 1;
		}
		return { start, end, alternatives, range: false };
	}
	return null;
}

// ----- segments ---------------------------------------------------------------------------------------------

type Segment =
	| { kind: "globstar" }
	| { kind: "plain"; text: string }
	| { kind: "glob"; text: string; match: (s: string) => boolean; prefix: string; suffix: string };

/** Characters that end a glob segment's literal beginning or begin its literal ending. */
const SPECIAL = /[*?[\]{}()!+@]/;

function segment(text: string): Segment {
	if (text === "**") return { kind: "globstar" };
	if (!picomatch.scan(text).isGlob) return { kind: "plain", text };
	let p = 0;
	while (p < text.length && !SPECIAL.test(text[p] as string)) p++;
	let s = text.length;
	while (s > p && !SPECIAL.test(text[s - 1] as string)) s--;
	return { kind: "glob", text, match: picomatch(text, { dot: true }), prefix: text.slice(0, p), suffix: text.slice(s) };
}

const compatible = (a: string, b: string, ends: "start" | "end") =>
	ends === "start" ? a.startsWith(b) || b.startsWith(a) : a.endsWith(b) || b.endsWith(a);

function segmentsOverlap(a: Segment, b: Segment): boolean {
	if (a.kind === "globstar" || b.kind === "globstar") return true;
	if (a.kind === "plain" && b.kind === "plain") return a.text === b.text;
	if (a.kind === "plain") return b.text === a.text || (b as Extract<Segment, { kind: "glob" }>).match(a.text);
	if (b.kind === "plain") return a.text === b.text || a.match(b.text);
	return a.text === b.text || (compatible(a.prefix, b.prefix, "start") && compatible(a.suffix, b.suffix, "end"));
}

/** Whether two segment sequences (with `**` as any run of segments) can match one common path. */
function sequencesOverlap(a: readonly Segment[], b: readonly Segment[]): boolean {
	// memo[i][j]: a[i..] and b[j..] overlap; 0 unknown, 1 yes, 2 no. At most 66 x 66 cells.
	const memo = new Uint8Array((a.length + 1) * (b.length + 1));
	const width = b.length + 1;
	const go = (i: number, j: number): boolean => {
		const cell = i * width + j;
		const known = memo[cell];
		if (known) return known === 1;
		let r: boolean;
		const x = a[i];
		const y = b[j];
		if (!x && !y) r = true;
		else if (x?.kind === "globstar") r = go(i + 1, j) || (y !== undefined && go(i, j + 1));
		else if (y?.kind === "globstar") r = go(i, j + 1) || (x !== undefined && go(i + 1, j));
		else if (!x || !y) r = false;
		else r = segmentsOverlap(x, y) && go(i + 1, j + 1);
		memo[cell] = r ? 1 : 2;
		return r;
	};
	return go(0, 0);
}

/** Compiled claim patterns, by canonical text: conflict checks compare one claim with many. */
const compiled = new Map<string, Segment[][]>();
const COMPILED_MAX = 10_000;

/**
 * The alternatives of a canonical pattern as segment lists. One that ends in a plain name gets a `**` after
 * it: the name may be a directory, and then the claim covers what is below it.
 */
function compile(pattern: string): Segment[][] {
	let c = compiled.get(pattern);
	if (c) return c;
	const expanded = expandBraces(pattern);
	const alternatives = expanded.ok ? expanded.patterns : [pattern];
	c = alternatives.map((alt) => {
		const segs = alt.split("/").filter((s) => s !== "" && s !== ".").map(segment);
		if (segs[segs.length - 1]?.kind === "plain") segs.push({ kind: "globstar" });
		return segs;
	});
	if (compiled.size >= COMPILED_MAX) compiled.clear();
	compiled.set(pattern, c);
	return c;
}

/** Whether two claim patterns (canonical, see normalizeClaimPath) can cover one common path. */
export function patternsOverlap(a: string, b: string): boolean {
	if (a === b) return true;
	const as = compile(a);
	const bs = compile(b);
	return as.some((x) => bs.some((y) => sequencesOverlap(x, y)));
}

/**
 * Whether a claim pattern covers a file: a repo-relative path whose segments are taken literally (a file
 * may well be called `[id].tsx`).
 */
export function patternCovers(pattern: string, file: string): boolean {
	const segs: Segment[] = file
		.split("/")
		.filter((s) => s !== "" && s !== ".")
		.map((text) => ({ kind: "plain", text }));
	return compile(pattern).some((alt) => sequencesOverlap(alt, segs));
}

/** The pairs (a from `as`, b from `bs`) that overlap. */
export function overlappingPairs(as: readonly string[], bs: readonly string[]): Array<[string, string]> {
	const out: Array<[string, string]> = [];
	for (const a of as) for (const b of bs) if (patternsOverlap(a, b)) out.push([a, b]);
	return out;
}
