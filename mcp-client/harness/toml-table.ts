/**
 * Setting or removing one table of a TOML file (Codex's `[mcp_servers.relay]`) while every other byte of the
 * file stays as it was: other settings, their order and formatting, and the user's comments.
 *
 * Why not parse, change and `stringify` the whole file: smol-toml (like every TOML library for JS we know)
 * keeps values only. Its `stringify` drops every comment and rewrites the layout (spacing, quoting, key
 * order, inline tables), and people keep notes in ~/.codex/config.toml. So smol-toml does what a parser
 * must (read the file, find the table headers' keys, write our table's text), and this module only splices
 * lines:
 *
 * - a table header is a line that smol-toml parses on its own as `[a.b]` or `[[a.b]]` (quoted keys, spaces and
 *   a trailing comment included); our table is the headers at or under `path`, each running to the next
 *   header, less the blank and comment lines just before that next header (they belong to what follows);
 * - set: our table's lines are replaced by smol-toml's `stringify` of the new value, at the place of the
 *   first one (other pieces of it removed); absent, it is appended after a blank line;
 * - remove: those lines go, with the blank lines before them when nothing follows;
 * - then the result is parsed again and must equal the original with exactly that change. If it does not
 *   (the table is written as an inline table or dotted keys, a line inside a multi-line string looks like a
 *   header, the file defines `mcp_servers = {…}` inline), nothing is written: `TomlEditError` says why.
 *
 * Comments inside our own table are not kept (it is rewritten from its value); everything outside it is.
 */
import { isDeepStrictEqual } from "node:util";
import { parse, stringify, TomlError } from "smol-toml";

export class TomlEditError extends Error {
	override name = "TomlEditError";
}

type Table = Record<string, unknown>;

const isTable = (v: unknown): v is Table => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** Parses TOML; a syntax error is a TomlEditError naming the file, line and column. */
export function parseToml(text: string, file: string): Table {
	try {
		return parse(text) as Table;
	} catch (err) {
		const where = err instanceof TomlError ? ` (line ${err.line}, column ${err.column})` : "";
		throw new TomlEditError(`${file} is not valid TOML${where}: ${(err as Error).message.split("\n")[0]}; fix it by hand first. Nothing was changed.`);
	}
}

/** The value at `path`, or undefined. */
export function tableAt(doc: Table, path: readonly string[]): unknown {
	let v: unknown = doc;
	for (const key of path) {
		if (!isTable(v) || !Object.hasOwn(v, key)) return undefined;
		v = v[key];
	}
	return v;
}

/** The key path a header line names (`[a."b c"]` → ["a", "b c"]), or undefined when the line is no header. */
export function headerPath(line: string): string[] | undefined {
	if (!line.trimStart().startsWith("[")) return undefined;
	let doc: unknown;
	try {
		doc = parse(line);
	} catch {
		return undefined;
	}
	const path: string[] = [];
	for (;;) {
		if (Array.isArray(doc)) doc = doc[doc.length - 1]; // [[array of tables]]
		if (!isTable(doc)) return undefined;
		const keys = Object.keys(doc);
		if (keys.length === 0) return path.length > 0 ? path : undefined;
		if (keys.length !== 1) return undefined;
		const key = keys[0] as string;
		path.push(key);
		doc = doc[key];
	}
}

const under = (p: readonly string[], root: readonly string[]) => p.length >= root.length && root.every((k, i) => p[i] === k);
const trivia = (line: string) => /^\s*(#.*)?$/.test(line);
const blank = (line: string) => /^\s*$/.test(line);

/** `value` nested under `path`, as smol-toml writes it: `[a.b]` then its keys, sub-tables after. */
function tableText(path: readonly string[], value: Table): string[] {
	let doc: Table = value;
	for (let i = path.length - 1; i >= 0; i--) doc = { [path[i] as string]: doc };
	return stringify(doc).replace(/\n+$/, "").split("\n");
}

/** A copy of the parsed document without `path`, and without the tables on the way that this leaves empty. */
function without(doc: Table, path: readonly string[]): Table {
	const copy = structuredClone(doc);
	const chain: Table[] = [copy];
	for (const key of path.slice(0, -1)) {
		const next = (chain[chain.length - 1] as Table)[key];
		if (!isTable(next)) return copy;
		chain.push(next);
	}
	delete (chain[chain.length - 1] as Table)[path[path.length - 1] as string];
	for (let i = chain.length - 1; i > 0; i--) {
		if (Object.keys(chain[i] as Table).length > 0) break;
		delete (chain[i - 1] as Table)[path[i - 1] as string];
	}
	return copy;
}

/**
 * `text` with the table at `path` set to `value` (undefined: removed), every line outside that table kept
 * byte for byte. Throws TomlEditError when the file is not TOML or the table cannot be edited that way.
 */
export function setTable(text: string, path: readonly string[], value: Table | undefined, file: string): string {
	const before = parseToml(text, file);
	const lines = text.split("\n");
	const headers = lines.flatMap((line, i) => {
		const p = headerPath(line);
		return p ? [{ line: i, path: p }] : [];
	});
	// Our pieces: [start, end) line ranges.
	const spans: Array<[number, number]> = [];
	headers.forEach((h, k) => {
		if (!under(h.path, path)) return;
		const following = headers[k + 1];
		let end = following?.line ?? lines.length;
		// Comments just before the next piece of ours are inside ours; before anybody else's, theirs.
		if (following && under(following.path, path)) {
			spans.push([h.line, end]);
			return;
		}
		if (following) while (end - 1 > h.line && trivia(lines[end - 1] ?? "")) end--;
		else while (end - 1 > h.line && blank(lines[end - 1] ?? "")) end--;
		spans.push([h.line, end]);
	});

	let out: string[];
	if (spans.length > 0) {
		const first = spans[0]?.[0] ?? 0;
		const kept = lines.filter((_, i) => !spans.some(([s, e]) => i >= s && i < e));
		const at = first; // no piece of ours comes before the first one
		if (value !== undefined) out = [...kept.slice(0, at), ...tableText(path, value), ...kept.slice(at)];
		else if (kept.slice(at).every(blank)) {
			// Nothing after what was removed: the blank lines that separated it go too.
			let s = at;
			while (s > 0 && blank(kept[s - 1] ?? "")) s--;
			out = [...kept.slice(0, s), ...(s > 0 ? [""] : [])];
		} else {
			// Between two other things: one blank line where there were two.
			out = at > 0 && blank(kept[at - 1] ?? "") && blank(kept[at] ?? "") ? [...kept.slice(0, at), ...kept.slice(at + 1)] : kept;
		}
	} else if (value === undefined) {
		out = lines;
	} else {
		const body = tableText(path, value);
		// A file ending in "\n" splits into [..., ""]: the new table goes after one blank line.
		const head = lines[lines.length - 1] === "" ? lines.slice(0, -1) : lines;
		const sep = head.length === 0 || blank(head[head.length - 1] ?? "x") ? [] : [""];
		out = [...head, ...sep, ...body, ""];
	}
	const next = out.join("\n");

	let after: Table | undefined;
	try {
		after = parse(next) as Table;
	} catch {
		after = undefined; // e.g. a table added to one defined inline: refused below
	}
	const ok =
		after !== undefined &&
		isDeepStrictEqual(without(after, path), without(before, path)) && isDeepStrictEqual(tableAt(after, path), value === undefined ? undefined : tableAt(parseToml(tableText(path, value).join("\n"), file), path));
	if (!ok) {
		throw new TomlEditError(
			`cannot ${value === undefined ? "remove" : "write"} [${path.join(".")}] in ${file} without touching the rest of the file (is it written as an inline table or with dotted keys?); edit that part by hand${value === undefined ? "" : ", or remove it and run this again"}. Nothing was changed.`,
		);
	}
	return next;
}
