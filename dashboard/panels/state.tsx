/** Shared state: the room's keys with version, last writer and size; a click shows the value. */
import { useState } from "preact/hooks";
import { Body, Line } from "../text.js";
import { ago, bytes } from "../time.js";
import type { Panel, PanelProps } from "./index.js";

function StateKeys({ model, actions, now }: PanelProps) {
	const [open, setOpen] = useState<{ key: string; text: string } | null>(null);
	const [error, setError] = useState<string | null>(null);
	if (model.state.length === 0) return <p class="muted">No shared state in room {model.room}.</p>;
	const show = async (key: string) => {
		if (open?.key === key) {
			setOpen(null);
			return;
		}
		try {
			setError(null);
			setOpen({ key, text: JSON.stringify(await actions.stateValue(key), null, 2) ?? "null" });
		} catch (err) {
			setError((err as Error).message);
		}
	};
	return (
		<div>
			<ul id="state" class="rows">
				{model.state.map((s) => (
					<li key={s.key} class="state-key" data-key={s.key}>
						<button type="button" class="row" aria-expanded={open?.key === s.key} onClick={() => show(s.key)}>
							<code>
								<Line text={s.key} max={80} />
							</code>
							<span class="muted">
								v{s.version} by {s.updatedBy}, {ago(now - s.updatedAt)} ago{s.size >= 0 ? `, ${bytes(s.size)}` : ""}
							</span>
						</button>
						{open?.key === s.key && <Body text={open.text} total={open.text.length} limit={2_000} />}
					</li>
				))}
			</ul>
			{error && <p class="error">{error}</p>}
		</div>
	);
}

export const statePanel: Panel = { id: "state", title: "Shared state", area: "side", component: StateKeys };
