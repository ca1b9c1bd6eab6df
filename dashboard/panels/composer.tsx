/**
 * The composer: a message from the person at the dashboard, sent as the hub's operator to a session, to
 * everyone (*), optionally as a reply. The hub marks it as a person's (human), in every view the agents get.
 */
import { useState } from "preact/hooks";
import type { SendAnswer } from "../types.js";
import { Line } from "../text.js";
import type { Panel, PanelProps } from "./index.js";

function outcome(r: SendAnswer): string {
	const parts: string[] = [];
	if (r.live.length) parts.push(`delivered live to ${r.live.join(", ")}`);
	if (r.queued.length) parts.push(`queued for ${r.queued.join(", ")} (offline)`);
	if (!parts.length) parts.push("stored; it reached no one");
	return `${parts.join("; ")} (${r.message.id})`;
}

function Composer({ model, actions }: PanelProps) {
	const [to, setTo] = useState("");
	const [body, setBody] = useState("");
	const [busy, setBusy] = useState(false);
	const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
	const reply = model.replyTo;
	const target = reply ? reply.from : to;
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
				{reply ? (
					<span id="composer-reply">
						replying to <strong>{reply.from}</strong> (<Line text={reply.id} />){" "}
						<button type="button" onClick={() => actions.reply(null)}>
							cancel reply
						</button>
					</span>
				) : (
					<label>
						to{" "}
						<select id="composer-to" value={to} onChange={(e) => setTo((e.currentTarget as HTMLSelectElement).value)}>
							<option value="">choose…</option>
							<option value="*">everyone (*)</option>
							{model.sessions.map((s) => (
								<option key={s.session} value={s.session}>
									{s.session}
									{s.online ? "" : " (offline)"}
								</option>
							))}
						</select>
					</label>
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
					{busy ? "sending…" : "send"}
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
