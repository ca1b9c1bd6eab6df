/**
 * The message stream of the room, newest at the bottom, every message (direct ones between others too),
 * filterable by session, topic or thread; a click opens one in the inspector. Bodies are text, cut with
 * "show all".
 */
import { useLayoutEffect, useRef } from "preact/hooks";
import { type Filter, threadOf } from "../model.js";
import type { MessagePreview } from "../types.js";
import { Body, Line } from "../text.js";
import { clock } from "../time.js";
import type { Panel, PanelProps } from "./index.js";

/** Body characters a message shows in the stream before "show all". */
export const STREAM_CHARS = 500;

function Item({ m, selected, onSelect }: { m: MessagePreview; selected: boolean; onSelect: () => void }) {
	return (
		<li
			class={`message${selected ? " selected" : ""}${m.human ? " human" : ""}`}
			data-id={m.id}
			data-from={m.from}
			data-to={m.to}
			data-thread={threadOf(m)}
			data-human={String(m.human === true)}
		>
			<button type="button" class="head" aria-pressed={selected} onClick={onSelect}>
				<time>{clock(m.sentAt)}</time>{" "}
				<strong class="from">
					<Line text={m.from} max={64} />
				</strong>
				{m.human && <span class="badge person">person</span>} →{" "}
				<span class="to">{m.to === "*" ? "everyone (*)" : <Line text={m.to} max={200} />}</span>
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

/** A filter as the select's value (`kind:value`; a topic name may hold ':', so only the first one splits). */
function encodeFilter(f: Filter | null): string {
	return f ? `${f.kind}:${f.value}` : "";
}

function decodeFilter(v: string): Filter | null {
	const at = v.indexOf(":");
	const kind = v.slice(0, at);
	if (at < 0 || (kind !== "session" && kind !== "topic" && kind !== "thread")) return null;
	return { kind, value: v.slice(at + 1) };
}

function describe(f: Filter | null): string {
	if (!f) return "";
	if (f.kind === "session") return ` from or to ${f.value}`;
	return f.kind === "topic" ? ` to #${f.value}` : ` in thread ${f.value}`;
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
					show{" "}
					<select id="stream-filter" value={encodeFilter(model.filter)} onChange={(e) => actions.filter(decodeFilter((e.currentTarget as HTMLSelectElement).value))}>
						<option value="">every message</option>
						<optgroup label="from or to a session">
							{model.sessions.map((s) => (
								<option key={s.session} value={`session:${s.session}`}>
									{s.session}
								</option>
							))}
						</optgroup>
						<optgroup label="a topic">
							{model.topics.map((t) => (
								<option key={t.topic} value={`topic:${t.topic}`}>
									#{t.topic}
								</option>
							))}
						</optgroup>
						{model.filter?.kind === "thread" && (
							<optgroup label="a thread">
								<option value={`thread:${model.filter.value}`}>thread {model.filter.value}</option>
							</optgroup>
						)}
					</select>
				</label>
				{model.filter && (
					<button type="button" id="stream-filter-clear" onClick={() => actions.filter(null)}>
						show every message
					</button>
				)}
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
				{model.messages.length === 0 && <li class="muted">No messages{describe(model.filter)} yet.</li>}
				{model.messages.map((m) => (
					<Item key={m.id} m={m} selected={model.selected === m.id} onSelect={() => actions.select(model.selected === m.id ? null : m.id)} />
				))}
				{model.newer && (
					<li>
						<button type="button" onClick={() => void actions.loadNewer()}>
							later messages of this thread
						</button>
					</li>
				)}
			</ol>
		</div>
	);
}

export const streamPanel: Panel = { id: "stream", title: "Messages", area: "main", component: Stream };
