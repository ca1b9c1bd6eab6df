/**
 * Untrusted text on its way to a person's terminal: message bodies, reply ids, a peer's host and cwd, the
 * sessions registry, error sentences that quote any of them. Every command prints such strings through
 * these functions (one implementation: scripts/format.ts, sessions/, the doctor, the CLI's error line).
 *
 * What a terminal would act on is shown as visible text instead:
 * - C0 controls and DEL in caret notation (ESC is `^[`, BEL `^G`), so an escape sequence (CSI, OSC 52 that
 *   writes the clipboard, a title change) becomes inert text;
 * - C1 controls (U+0080-U+009F; xterm acts on U+009B as CSI even inside UTF-8), bidirectional overrides and
 *   isolates (which reorder what is shown, "Trojan Source"), and the Unicode line and paragraph separators,
 *   as `\uXXXX`.
 * Newlines and tabs are kept only where a multi-line body is printed (`keepNewlines`); everywhere else they
 * are shown as `\n` and `\t`, so one field can never fake a line of its own. CR is dropped in multi-line
 * text (it would move the cursor back over what was printed) and shown as `\r` otherwise.
 *
 * No imports: the bridge and the hooks may load it without cost.
 */

/** Characters shown as `\uXXXX`: C1 controls, bidi controls, line and paragraph separators. */
const UNICODE_ESCAPED = /[\u0080-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what it looks for
const ANY_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const hex = (c: number) => `\\u${c.toString(16).padStart(4, "0")}`;

/** The text with every terminal control made visible (see the file header). */
export function sanitize(text: string, keepNewlines: boolean): string {
	if (!ANY_UNSAFE.test(text)) return text;
	let out = "";
	for (const ch of text) {
		const c = ch.codePointAt(0) ?? 0;
		if (ch === "\n") out += keepNewlines ? "\n" : "\\n";
		else if (ch === "\t") out += keepNewlines ? "\t" : "\\t";
		else if (ch === "\r") out += keepNewlines ? "" : "\\r";
		else if (c < 0x20) out += `^${String.fromCharCode(c + 64)}`;
		else if (c === 0x7f) out += "^?";
		else if (UNICODE_ESCAPED.test(ch)) out += hex(c);
		else out += ch;
	}
	return out;
}

/** A single-line field (a host, a cwd, an id, an error sentence): nothing in it can break the line. */
export function sanitizeLine(text: string): string {
	return sanitize(text, false);
}

/**
 * JSON text made terminal-safe without changing what it parses to: JSON.stringify escapes C0 controls but
 * writes DEL, C1, bidi controls and U+2028/2029 raw; these become `\uXXXX` escapes.
 */
export function terminalSafeJson(json: string): string {
	return json.replace(/[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (ch) => hex(ch.charCodeAt(0)));
}
