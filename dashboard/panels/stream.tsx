/**
 * The message stream of the room, newest at the bottom, every message (direct ones between others too),
 * filterable by session; a click opens one in the inspector. Bodies are text, cut with "show all".
 */
import { useLayoutEffect, useRef } from "preact/hooks";
import type { MessagePreview } from "../types.js";
import { Body, Line } from "../text.js";
import { clock } from "../time.js";
import type { Panel, PanelProps } from "./index.js";

/** Body characters a message shows in the stream before "show all". */
export const STREAM_CHARS = 500;

function Item({ m, selected, onSelect }: { m: MessagePreview; selected: boolean; onSelect: () => void }) {
	return (
		<li class={`message${selected ? " selected" : ""}${m.human ? " human" : ""}`} data-id={m.id} data-from={m.from} data-human={String(m.human === true)}>
			<button type="button" class="head" aria-pressed={selected} onClick={onSelect}>
				<time>{clock(m.sentAt)}</time> <strong class="from">{m.from}</strong>
				{m.human && <span class="badge person">person</span>} → <span class="to">{m.to === "*" ? "everyone (*)" : m.to}</span>
				{m.replyTo && (
					<span class="muted">
						{" "}
						re <Line text={m.replyTo} />
					</span>
				)}
				<span class="muted seq"> #{m.seq}</span>
			</button>
			<Body text={m.body} total={m.bodyChars} id={m.id} limit={STREAM_CHARS} />
		</li>
	);
}

function Stream({ model, actions }: PanelProps) {
	const list = useRef<HTMLOListElement>(null);
	const atBottom = useRef(true);
	const last = model.messages.at(-1)?.id;
	// Keep to the newest while the reader is at the bottom; leave them where they are if they scrolled up.
	useLayoutEffect(() => {
		const el = list.current;
		if (el && atBottom.current) el.scrollTop = el.scrollHeight;
	}, [last]);
	return (
		<div class="stream-panel">
			<div class="toolbar">
				<label>
					from or to{" "}
					<select id="stream-filter" value={model.filter ?? ""} onChange={(e) => actions.filter((e.currentTarget as HTMLSelectElement).value || null)}>
						<option value="">every session</option>
						{model.sessions.map((s) => (
							<option key={s.session} value={s.session}>
								{s.session}
							</option>
						))}
					</select>
				</label>
				{model.older && (
					<button type="button" onClick={() => void actions.loadOlder()}>
						older messages
					</button>
				)}
			</div>
			<ol
				id="stream"
				class="messages"
				ref={list}
				onScroll={(e) => {
					const el = e.currentTarget as HTMLOListElement;
					atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
				}}
			>
				{model.messages.length === 0 && <li class="muted">No messages{model.filter ? ` from or to ${model.filter}` : ""} yet.</li>}
				{model.messages.map((m) => (
					<Item key={m.id} m={m} selected={model.selected === m.id} onSelect={() => actions.select(model.selected === m.id ? null : m.id)} />
				))}
			</ol>
		</div>
	);
}

export const streamPanel: Panel = { id: "stream", title: "Messages", area: "main", component: Stream };
