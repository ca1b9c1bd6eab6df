/**
 * Google Gemini CLI: the bridge as `mcpServers.relay` in Gemini's user settings,
 * `$GEMINI_CLI_HOME/.gemini/settings.json` (GEMINI_CLI_HOME replaces the home directory in Gemini CLI's
 * own path code; default ~/.gemini/settings.json), the entry `gemini mcp add -s user relay …` writes.
 *
 * Gemini CLI reads that file as JSON with comments (it strips them before parsing), so it is read with
 * jsonc-parser and edited as text at the places jsonc-parser finds: only our entry's text changes, other
 * settings, their layout and the user's comments stay byte for byte. The keys of our entry install does not write (`timeout`, `trust`,
 * `includeTools`, …) are kept.
 *
 * Gemini CLI passes its whole environment to MCP servers (CLAUDE_RELAY_SESSION_ID included) except
 * variables whose names look like secrets (…TOKEN…, …KEY…: checked with gemini-cli 0.61), so RELAY_TOKEN
 * and RELAY_TOKEN_FILE do not reach the bridge: a token hub's token goes in $RELAY_HOME/token, which the
 * bridge reads by itself. Gemini has hooks of its own, but nothing here installs them: see the README.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { applyEdits, createScanner, findNodeAtLocation, modify, type ParseError, parse, parseTree, printParseErrorCode } from "jsonc-parser/lib/esm/main.js";
import { UserError } from "../../sessions/cli-errors.js";
import type { Check } from "../claude/doctor.js";
import { runProgram } from "../claude/run.js";
import { sanitizeLine } from "../../server/sanitize.js";
import { type CliLocation, configFileHarness, entryCheck, type HarnessOptions } from "./harness.js";

export function geminiSettingsFile(env: NodeJS.ProcessEnv): string {
	return join(env.GEMINI_CLI_HOME?.trim() || env.HOME?.trim() || homedir(), ".gemini", "settings.json");
}

type GeminiEntry = Record<string, unknown> & { command: string; args: string[]; env?: Record<string, string> };

const OWNED = ["command", "args", "env"];

/** The file's indentation unit (a tab, or N spaces; default two) and line ending. */
function layout(text: string): { unit: string; eol: string } {
	return { unit: /^\{\r?\n([ \t]+)\S/.exec(text)?.[1] ?? "  ", eol: text.includes("\r\n") ? "\r\n" : "\n" };
}

/** `value` as JSON laid out like the file, its later lines indented by `base`. */
function pretty(value: unknown, base: string, l: { unit: string; eol: string }): string {
	return JSON.stringify(value, null, l.unit).split("\n").join(`${l.eol}${base}`);
}

/** The whitespace a line starts with, for the line holding `offset`. */
function indentAt(text: string, offset: number): string {
	const start = text.lastIndexOf("\n", offset - 1) + 1;
	return /^[ \t]*/.exec(text.slice(start))?.[0] ?? "";
}

/**
 * Adds property `key` with `value` at the end of the object at `path` (which exists), touching nothing
 * else: after its last property (a comma after that one's value; a comment ending its line stays on its
 * line), or inside its braces when it is empty. jsonc-parser's own formatting of an insertion re-lays out
 * the neighbouring properties and moves their comments, so the text of the insertion is made here.
 */
function insertProperty(text: string, path: string[], key: string, value: unknown): string {
	const l = layout(text);
	const root = parseTree(text);
	const node = root && (path.length === 0 ? root : findNodeAtLocation(root, path));
	if (node?.type !== "object") throw new Error(`no object at ${path.join(".") || "the top level"}`);
	const last = node.children?.[node.children.length - 1];
	if (last) {
		const indent = text.slice(node.offset, last.offset).includes("\n") ? indentAt(text, last.offset) : l.unit.repeat(path.length + 1);
		const at = last.offset + last.length;
		const lineEnd = at + (/^[ \t]*(\/\/[^\r\n]*|\/\*[^\r\n]*?\*\/[ \t]*)(?=\r?\n)/.exec(text.slice(at))?.[0].length ?? 0);
		return `${text.slice(0, at)},${text.slice(at, lineEnd)}${l.eol}${indent}${JSON.stringify(key)}: ${pretty(value, indent, l)}${text.slice(lineEnd)}`;
	}
	const outer = indentAt(text, node.offset);
	const indent = outer + l.unit;
	const at = node.offset + 1;
	const close = node.offset + node.length - 1;
	return `${text.slice(0, at)}${l.eol}${indent}${JSON.stringify(key)}: ${pretty(value, indent, l)}${l.eol}${outer}${text.slice(close)}`;
}

// jsonc-parser's SyntaxKind (a const enum its types declare, which this project's module settings cannot read).
const COMMA = 5;
const TRIVIA = [12, 13, 14, 15]; // line comment, block comment, line break, whitespace
const EOF = 17;

/** The offset of the comma between `from` and `to` (only whitespace, comments and it in between), or -1. */
function commaBetween(text: string, from: number, to: number): number {
	const scanner = createScanner(text.slice(from, to), false);
	for (let t: number = scanner.scan(); t !== EOF; t = scanner.scan()) {
		if (t === COMMA) return from + scanner.getTokenOffset();
		if (!TRIVIA.includes(t)) return -1;
	}
	return -1;
}

/**
 * Removes the property at `path` as insertProperty added it: its own lines and one comma, so that the
 * comments around it stay where they were. Falls back to jsonc-parser's removal for other layouts.
 */
function removeProperty(text: string, path: string[]): string {
	const root = parseTree(text);
	const prop = root && findNodeAtLocation(root, path)?.parent;
	const siblings = prop?.parent?.children;
	if (prop?.type !== "property" || !siblings) return edit(text, path, undefined);
	const i = siblings.indexOf(prop);
	const end = prop.offset + prop.length;
	const lineStart = text.lastIndexOf("\n", prop.offset - 1);
	const ownLine = lineStart >= 0 && text.slice(lineStart + 1, prop.offset).trim() === "";
	const start = ownLine ? (text[lineStart - 1] === "\r" ? lineStart - 1 : lineStart) : prop.offset;
	const prev = siblings[i - 1];
	const next = siblings[i + 1];
	if (prev && !next) {
		const comma = commaBetween(text, prev.offset + prev.length, prop.offset);
		if (comma < 0 || start <= comma) return edit(text, path, undefined);
		return `${text.slice(0, comma)}${text.slice(comma + 1, start)}${text.slice(end)}`;
	}
	if (next) {
		const comma = commaBetween(text, end, next.offset);
		if (comma < 0) return edit(text, path, undefined);
		return `${text.slice(0, start)}${text.slice(comma + 1)}`;
	}
	return edit(text, path, undefined);
}

/** Sets or removes one property with jsonc-parser's edit, unformatted: only that value's text changes. */
function edit(text: string, path: (string | number)[], value: unknown): string {
	return applyEdits(text, modify(text, path, value, {}));
}

function parseSettingsText(text: string, file: string): Record<string, unknown> {
	if (text.trim() === "") return {};
	const errors: ParseError[] = [];
	const value = parse(text, errors, { allowTrailingComma: false, disallowComments: false });
	const first = errors[0];
	if (first) {
		const line = text.slice(0, first.offset).split("\n").length;
		throw new UserError(`${file} is not valid JSON (${printParseErrorCode(first.error)} on line ${line}); fix it by hand first. Nothing was changed.`);
	}
	if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UserError(`${file} does not hold a JSON object; fix it by hand first. Nothing was changed.`);
	return value as Record<string, unknown>;
}

export const gemini = configFileHarness<GeminiEntry>({
	name: "gemini",
	client: "gemini",
	title: "Gemini CLI",
	format: {
		file: geminiSettingsFile,
		read(text, file) {
			const servers = parseSettingsText(text, file).mcpServers;
			if (servers === undefined) return undefined;
			if (typeof servers !== "object" || servers === null || Array.isArray(servers)) throw new UserError(`"mcpServers" in ${file} is not an object; fix it by hand first. Nothing was changed.`);
			return Object.hasOwn(servers, "relay") ? (servers as Record<string, unknown>).relay : undefined;
		},
		write(text, entry, file) {
			let out = text === undefined || text.trim() === "" ? "{}\n" : text;
			const before = parseSettingsText(out, file);
			const servers = before.mcpServers as Record<string, unknown> | undefined;
			if (entry === undefined) {
				// The whole mcpServers when ours was its only server: it was ours to add.
				out = servers && Object.keys(servers).length === 1 ? removeProperty(out, ["mcpServers"]) : removeProperty(out, ["mcpServers", "relay"]);
			} else if (servers?.relay && typeof servers.relay === "object") {
				// Key by key, so that the rest of our entry keeps its layout too.
				for (const key of OWNED) {
					const has = Object.hasOwn(servers.relay as object, key);
					if (entry[key] === undefined) out = has ? removeProperty(out, ["mcpServers", "relay", key]) : out;
					else if (!has) out = insertProperty(out, ["mcpServers", "relay"], key, entry[key]);
					else if (!isDeepStrictEqual((servers.relay as Record<string, unknown>)[key], entry[key])) out = edit(out, ["mcpServers", "relay", key], entry[key]);
				}
			} else if (servers) out = insertProperty(out, ["mcpServers"], "relay", entry);
			else out = insertProperty(out, [], "mcpServers", { relay: entry });
			// Checked, like the TOML edit: the result must be the original with exactly our change.
			const after = parseSettingsText(out, `${file} (as it would be written)`);
			const expected = structuredClone(before);
			const rest = { ...(servers ?? {}) };
			if (entry === undefined) delete rest.relay;
			else rest.relay = entry;
			if (Object.keys(rest).length > 0) expected.mcpServers = rest;
			else delete expected.mcpServers;
			if (!isDeepStrictEqual(after, expected)) throw new UserError(`cannot edit mcpServers.relay in ${file} cleanly; edit it by hand. Nothing was changed.`);
			return out;
		},
		empty: (text) => {
			try {
				return Object.keys(parseSettingsText(text, "")).length === 0 && text.replace(/\s/g, "") === "{}";
			} catch {
				return false;
			}
		},
		desired(loc: CliLocation, opts: HarnessOptions, current: unknown): GeminiEntry {
			const fixed: Record<string, string> = {};
			if (opts.url) fixed.RELAY_URL = opts.url;
			if (opts.room) fixed.RELAY_ROOM = opts.room;
			if (opts.id) fixed.CLAUDE_RELAY_SESSION_ID = opts.id;
			const extras = Object.fromEntries(Object.entries(typeof current === "object" && current !== null ? current : {}).filter(([k]) => !OWNED.includes(k)));
			const entry: GeminiEntry = { command: loc.node, args: [loc.cli, "mcp"], ...extras };
			if (Object.keys(fixed).length > 0) entry.env = fixed;
			return entry;
		},
	},
	next: [
		"In each terminal, name the session before starting Gemini CLI: `claude-session GM-1 --harness gemini`, then `gemini`",
		"  (Gemini passes CLAUDE_RELAY_SESSION_ID on to the bridge; not RELAY_TOKEN: a hub token goes in $RELAY_HOME/token).",
		"Gemini CLI starts MCP servers only in folders it trusts; it has no channels and runs none of claude-relay's hooks:",
		"  the model reads mail with relay_receive / relay_wait, and `claude-relay autowake` can wake an idle session in tmux.",
		"Check: `claude-relay doctor --for gemini` (and `gemini mcp list`).",
	],
	async doctor(env, found): Promise<Check[]> {
		const out: Check[] = [entryCheck(found, "Gemini CLI", "`claude-relay install --for gemini`")];
		const list = await runProgram("gemini", ["mcp", "list"], { env, timeoutMs: 60_000 });
		const text = `${list.stdout}\n${list.stderr}`;
		const line = text.split("\n").find((l) => /\brelay:/.test(l));
		if (list.notFound) {
			out.push({ status: "fail", essential: true, text: "Gemini CLI's `gemini` command is not on PATH", fix: "install Gemini CLI (`npm install -g @google/gemini-cli`)" });
		} else if (list.timedOut) {
			out.push({ status: "fail", essential: true, text: "`gemini mcp list` did not finish within 60 s", fix: "run it yourself to see where it hangs" });
		} else if (!line) {
			out.push({ status: "fail", essential: true, text: "`gemini mcp list` does not list the relay server", fix: `is it the settings file install wrote (${geminiSettingsFile(env)})? \`claude-relay install --for gemini\`` });
		} else if (/- Connected\b/.test(line)) {
			out.push({ status: "ok", essential: true, text: "`gemini mcp list` started the bridge: Connected" });
		} else if (/- Disabled\b/.test(line) && /untrusted/i.test(text)) {
			out.push({
				status: "warn",
				essential: false,
				text: "Gemini CLI lists the relay server as disabled in this folder: it starts MCP servers only in folders it trusts",
				fix: "trust the folder in Gemini CLI (it asks at start; or /permissions), or run doctor from a trusted one",
			});
		} else {
			out.push({ status: "fail", essential: true, text: `Gemini CLI cannot start the bridge: ${sanitizeLine(line.trim())}`, fix: "run `gemini mcp list`; make sure dist/cli.js exists (`npm run build`) and `claude-relay install --for gemini` again" });
		}
		out.push({
			status: "warn",
			essential: false,
			text: "Gemini CLI gets the relay tools only: no channels and no claude-relay hooks, so mail waits until the model calls relay_receive or relay_wait",
			fix: "to wake idle sessions: `claude-relay autowake on GM-1` and run `claude-relay autowake` (tmux, or a [spawn.commands] gemini entry)",
		});
		return out;
	},
});
