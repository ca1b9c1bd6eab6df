/**
 * One message, opened from the stream: its fields, its full body, and each recipient's delivery state as the
 * hub knows it (waiting or acked), live; and a reply from the composer.
 */
import { Body, Line } from "../text.js";
import { clock } from "../time.js";
import type { Panel, PanelProps } from "./index.js";

function Inspector({ model, actions }: PanelProps) {
	const d = model.detail;
	if (!model.selected) return <p class="muted">Click a message to see its recipients and whether each has read it.</p>;
	if (!d || d.message.id !== model.selected) return <p class="muted">loading…</p>;
	const m = d.message;
	const preview = model.messages.find((x) => x.id === m.id);
	return (
		<section id="inspector" data-id={m.id}>
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
					{m.from} {m.human && <span class="badge person">person</span>}
				</dd>
				<dt>to</dt>
				<dd>{m.to === "*" ? "everyone (*)" : m.to}</dd>
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
			<h3>Recipients</h3>
			{d.recipients.length === 0 ? (
				<p class="muted">Nobody else was in the room: stored, delivered to no one.</p>
			) : (
				<ul class="rows" id="recipients">
					{d.recipients.map((r) => (
						<li key={r.session} data-recipient={r.session} data-state={r.acked ? "acked" : "pending"}>
							<strong>{r.session}</strong> <span class={r.acked ? "ok" : "warn"}>{r.acked ? "acked" : "waiting (not acked)"}</span>{" "}
							<span class="muted">{r.online ? "online" : "offline"}</span>
						</li>
					))}
				</ul>
			)}
			{!m.human && preview && (
				<button type="button" id="reply" onClick={() => actions.reply(preview)}>
					reply to {m.from}
				</button>
			)}
		</section>
	);
}

export const inspectorPanel: Panel = { id: "inspector", title: "Message", area: "aside", component: Inspector };
