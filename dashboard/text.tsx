/**
 * Untrusted text on the page: message bodies, names, hosts, paths, state values, claim reasons. Always a text
 * node (preact escapes it; nothing here sets innerHTML), with terminal controls made visible (ESC as ^[, bidi
 * overrides as \u202e: server/sanitize.ts, the same as the terminal commands), and long text cut with a
 * "show all" that reveals the rest (reading the full message from the hub when only a preview is here).
 */
import { useState } from "preact/hooks";
import { sanitize } from "../server/sanitize.js";
import { get } from "./api.js";
import type { MessageDetail } from "./types.js";

/** A single-line field (a name, a host, a path): controls and newlines shown as text. */
export function Line({ text, max = 200 }: { text: string; max?: number }) {
	const clean = sanitize(text, false);
	return <span title={clean.length > max ? clean : undefined}>{clean.length > max ? `${clean.slice(0, max)}…` : clean}</span>;
}

interface BodyProps {
	/** What the page has of it (a preview may be cut at the hub). */
	text: string;
	/** Its full length (bodyChars). */
	total: number;
	/** The message it belongs to, to read the rest when `text` is a preview. */
	id?: string;
	/** Characters shown before "show all". */
	limit: number;
}

export function Body({ text, total, id, limit }: BodyProps) {
	const [full, setFull] = useState<string | null>(null);
	const [busy, setBusy] = useState(false);
	const [failed, setFailed] = useState<string | null>(null);
	const shown = full ?? text;
	const cut = full === null && total > limit;
	const visible = sanitize(cut ? shown.slice(0, limit) : shown, true);
	const showAll = async () => {
		if (text.length >= total || !id) {
			setFull(text);
			return;
		}
		setBusy(true);
		try {
			const detail = await get<MessageDetail>(`api/messages/${encodeURIComponent(id)}`);
			setFull(detail.message.body);
		} catch (err) {
			setFailed((err as Error).message);
		} finally {
			setBusy(false);
		}
	};
	return (
		<div class="body">
			<pre class="text">{visible}</pre>
			{cut && (
				<button type="button" class="show-all" disabled={busy} onClick={showAll}>
					{busy ? "loading…" : `show all (${total.toLocaleString()} characters)`}
				</button>
			)}
			{failed && <span class="error">{failed}</span>}
		</div>
	);
}
