/**
 * The composer: a message from the person at the dashboard, sent as the hub's operator to a session, to
 * everyone (*), to a topic (#name: its subscribers), or to several sessions (typed as A,B), optionally as a
 * reply (the inspector's reply button fills the message it answers and the target). The hub marks it as a
 * person's (human), in every view the agents get; the hub checks the target, and says why when it refuses.
 */
import { useState } from "preact/hooks";
import { Line } from "../text.js";
import type { SendAnswer } from "../types.js";
import type { Panel, PanelProps } from "./index.js";

/** The select's value for "type the target" (no session ID, `*` or `#topic` looks like it). */
const TYPED = "(typed)";

function outcome(r: SendAnswer): string {
	const parts: string[] = [];
	if (r.live.length) parts.push(`delivered live to ${r.live.join(", ")}`);
	if (r.queued.length) parts.push(`queued for ${r.queued.join(", ")} (offline)`);
	if (!parts.length) parts.push("stored; it reached no one");
	return `${parts.join("; ")} (${r.message.id})`;
}

function Composer({ model, actions }: PanelProps) {
	const [body, setBody] = useState("");
	const [busy, setBusy] = useState(false);
	const [typing, setTyping] = useState(false);
	const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
	const reply = model.replyTo;
	const target = model.composeTo.trim();
	const listed = new Set(["", "*", ...model.sessions.map((s) => s.session), ...model.topics.map((t) => `#${t.topic}`)]);
	// A target the select has no option for (typed, or filled by a reply) shows in the text field.
	const typed = typing || !listed.has(model.composeTo);
	const submit = async (e: Event) => {
		e.preventDefault();
		if (!target || !body) return;
		setBusy(true);
		setResult(null);
		try {
			const r = await actions.send({ to: target, body, ...(reply ? { replyTo: reply.id } : {}) });
			setResult({ ok: true, text: [outcome(r), ...r.warnings.map((w) => `warning: ${w.message}`)].join(" · ") });
			setBody("");
			actions.reply(null);
		} catch (err) {
			setResult({ ok: false, text: (err as Error).message });
		} finally {
			setBusy(false);
		}
	};
	return (
		<form id="composer" onSubmit={submit}>
			<div class="toolbar">
				<span>
					as <strong>{model.operator}</strong> <span class="badge person">person</span>
				</span>
				<label>
					to{" "}
					<select
						id="composer-to"
						value={typed ? TYPED : model.composeTo}
						onChange={(e) => {
							const v = (e.currentTarget as HTMLSelectElement).value;
							setTyping(v === TYPED);
							if (v !== TYPED) actions.target(v);
						}}
					>
						<option value="">choose…</option>
						<option value="*">everyone (*)</option>
						<optgroup label="sessions">
							{model.sessions.map((s) => (
								<option key={s.session} value={s.session}>
									{s.session}
									{s.online ? "" : " (offline)"}
								</option>
							))}
						</optgroup>
						<optgroup label="topics">
							{model.topics.map((t) => (
								<option key={t.topic} value={`#${t.topic}`}>
									#{t.topic} ({t.subscribers.length} subscribed)
								</option>
							))}
						</optgroup>
						<option value={TYPED}>type it (ID, #topic, or A,B)…</option>
					</select>
				</label>
				{typed && (
					<input
						id="composer-to-typed"
						type="text"
						size={24}
						maxLength={256}
						spellcheck={false}
						autocomplete="off"
						placeholder="CC-2, #shop:api, or CC-2,CC-3"
						value={model.composeTo}
						onInput={(e) => actions.target((e.currentTarget as HTMLInputElement).value)}
					/>
				)}
				{reply && (
					<span id="composer-reply" data-reply-to={reply.id}>
						replying to{" "}
						<strong>
							<Line text={reply.from} max={64} />
						</strong>{" "}
						(<Line text={reply.id} />){" "}
						<button type="button" onClick={() => actions.reply(null)}>
							cancel reply
						</button>
					</span>
				)}
			</div>
			<textarea
				id="composer-body"
				rows={3}
				placeholder={`A message to ${target || "…"}; the agents see it comes from a person.`}
				value={body}
				onInput={(e) => setBody((e.currentTarget as HTMLTextAreaElement).value)}
			/>
			<div class="toolbar">
				<button type="submit" disabled={busy || !target || !body}>
					{busy ? "sending…" : reply ? "send reply" : "send"}
				</button>
				{result && (
					<output id="composer-result" class={result.ok ? "ok" : "error"}>
						{result.text}
					</output>
				)}
			</div>
		</form>
	);
}

export const composerPanel: Panel = { id: "composer", title: "Write to the agents", area: "main", component: Composer };
