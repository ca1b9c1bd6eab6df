/**
 * One message, opened from the stream (or from its thread): its fields, its full body, its receipts per
 * recipient (queued, pushed, seen, with times, live), the whole thread it belongs to (oldest first, a click
 * opens another of its messages), and a reply from the composer.
 */
import { replyTarget } from "../model.js";
import { Body, Line } from "../text.js";
import { clock } from "../time.js";
import type { MessagePreview, ReceiptRow } from "../types.js";
import type { Panel, PanelProps } from "./index.js";

const STATE_TEXT: Record<ReceiptRow["state"], string> = {
	queued: "queued (not pushed yet)",
	pushed: "pushed (not read yet)",
	seen: "seen",
};
const STATE_CLASS: Record<ReceiptRow["state"], string> = { queued: "warn", pushed: "muted", seen: "ok" };

function Receipts({ receipts, sentAt }: { receipts: ReceiptRow[]; sentAt: number }) {
	if (receipts.length === 0) return <p class="muted">Nobody else was in its audience: stored, delivered to no one.</p>;
	return (
		<ul class="rows" id="receipts">
			{receipts.map((r) => (
				<li key={r.recipient} class={`receipt${r.online ? " online" : ""}`} data-recipient={r.recipient} data-state={r.state}>
					<span class="dot" title={r.online ? "online" : "offline"} />{" "}
					<strong>
						<Line text={r.recipient} max={64} />
					</strong>{" "}
					<span class={`state ${STATE_CLASS[r.state]}`}>{STATE_TEXT[r.state]}</span>
					<div class="times muted">
						queued {clock(sentAt)}
						{r.pushedAt !== null && <> · pushed {clock(r.pushedAt)}</>}
						{r.seenAt !== null && <> · seen {clock(r.seenAt)}</>}
					</div>
				</li>
			))}
		</ul>
	);
}

function ThreadList({ messages, current, select }: { messages: MessagePreview[]; current: string; select: (id: string) => void }) {
	return (
		<ol class="rows thread" id="thread">
			{messages.map((m) => (
				<li key={m.id} class={`thread-item${m.id === current ? " current" : ""}${m.human ? " human" : ""}`} data-id={m.id} aria-current={m.id === current ? "true" : undefined}>
					<button type="button" class="row" disabled={m.id === current} onClick={() => select(m.id)}>
						<span class="muted">{clock(m.sentAt)}</span>
						<strong>
							<Line text={m.from} max={64} />
						</strong>
						{m.human && <span class="badge person">person</span>}
						<span class="muted">
							→ {m.to === "*" ? "everyone" : <Line text={m.to} max={80} />}
						</span>
						<span class="snippet">
							<Line text={m.body} max={120} />
						</span>
					</button>
				</li>
			))}
		</ol>
	);
}

function Inspector({ model, actions }: PanelProps) {
	const d = model.detail;
	if (!model.selected) return <p class="muted">Click a message to see its thread and, per recipient, whether it was pushed and seen.</p>;
	if (!d || d.message.id !== model.selected) return <p class="muted">loading…</p>;
	const m = d.message;
	const t = model.thread?.thread === d.thread ? model.thread : null;
	const asPreview: MessagePreview = { ...m, bodyChars: m.body.length, truncated: false };
	const inThread = model.filter?.kind === "thread" && model.filter.value === d.thread;
	return (
		<section id="inspector" data-id={m.id} data-thread={d.thread}>
			<dl class="facts">
				<dt>id</dt>
				<dd>
					<code>
						<Line text={m.id} />
					</code>{" "}
					(seq {m.seq})
				</dd>
				<dt>from</dt>
				<dd>
					<Line text={m.from} max={64} /> {m.human && <span class="badge person">person</span>}
				</dd>
				<dt>to</dt>
				<dd>{m.to === "*" ? "everyone (*)" : <Line text={m.to} />}</dd>
				<dt>sent</dt>
				<dd>{clock(m.sentAt)}</dd>
				{m.replyTo && (
					<>
						<dt>reply to</dt>
						<dd>
							<button type="button" class="link" onClick={() => actions.select(m.replyTo)}>
								<Line text={m.replyTo} />
							</button>
						</dd>
					</>
				)}
			</dl>
			<Body text={m.body} total={m.body.length} limit={4_000} />
			<div class="toolbar">
				<button type="button" id="reply" onClick={() => actions.reply(asPreview)}>
					reply (to {replyTarget(m)})
				</button>
			</div>
			<h3>Receipts</h3>
			<Receipts receipts={d.receipts} sentAt={m.sentAt} />
			<h3>
				Thread{" "}
				<span class="muted">
					{t ? `${t.messages.length}${t.hasMore ? "+" : ""} ${t.messages.length === 1 ? "message" : "messages"}` : "loading…"}
				</span>
			</h3>
			{t && (
				<>
					<ThreadList messages={t.messages} current={m.id} select={(id) => actions.select(id)} />
					{t.hasMore && (
						<button type="button" onClick={() => void actions.loadMoreThread()}>
							more of this thread
						</button>
					)}
					{t.messages.length > 1 && (
						<button type="button" id="thread-filter" disabled={inThread} onClick={() => actions.filter({ kind: "thread", value: d.thread })}>
							{inThread ? "the stream shows this thread" : "show only this thread in the stream"}
						</button>
					)}
				</>
			)}
		</section>
	);
}

export const inspectorPanel: Panel = { id: "inspector", title: "Message", area: "aside", component: Inspector };
