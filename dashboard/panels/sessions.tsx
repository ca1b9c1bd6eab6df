/**
 * The room's sessions: online or not, host, directory, branch, idle time, messages waiting, claims. One with
 * mail waiting that has not been heard from for a while (model.ts, isStuck) stands out. A click filters the
 * stream to it.
 */
import { idleFor, isStuck } from "../model.js";
import { Line } from "../text.js";
import { ago } from "../time.js";
import type { Panel, PanelProps } from "./index.js";

function Sessions({ model, actions, now }: PanelProps) {
	if (model.sessions.length === 0) return <p class="muted">No sessions in room {model.room} yet.</p>;
	const claims = new Map<string, number>();
	for (const c of model.claims) if (c.expiresAt > now) claims.set(c.session, (claims.get(c.session) ?? 0) + 1);
	const pressed = (name: string) => model.filter?.kind === "session" && model.filter.value === name;
	const sorted = [...model.sessions].sort((a, b) => Number(b.online) - Number(a.online) || (a.session < b.session ? -1 : 1));
	return (
		<ul id="sessions" class="rows">
			{sorted.map((s) => {
				const stuck = isStuck(s, now);
				const idle = idleFor(s, now);
				const held = claims.get(s.session) ?? 0;
				return (
					<li key={s.session} class={`session${s.online ? " online" : ""}${stuck ? " stuck" : ""}`} data-session={s.session} data-online={String(s.online)} data-stuck={String(stuck)}>
						<button type="button" class="row" aria-pressed={pressed(s.session)} onClick={() => actions.filter(pressed(s.session) ? null : { kind: "session", value: s.session })}>
							<span class="dot" title={s.online ? "online" : "offline"} />
							<strong class="name">
								<Line text={s.session} />
							</strong>
							<span class="state">{s.online ? `online, idle ${ago(idle)}` : `offline, seen ${ago(idle)} ago`}</span>
							<span class="waiting" data-field="pending">
								{s.pending} waiting
							</span>
							{held > 0 && <span class="claims">{held} claimed</span>}
							{stuck && <span class="badge">stuck</span>}
							<span class="where">
								{s.meta.host && <Line text={s.meta.host} max={40} />}
								{s.meta.cwd && (
									<>
										{" "}
										<Line text={s.meta.cwd} max={60} />
									</>
								)}
								{s.meta.branch && (
									<>
										{" ("}
										<Line text={s.meta.branch} max={40} />
										{")"}
									</>
								)}
							</span>
						</button>
					</li>
				);
			})}
		</ul>
	);
}

export const sessionsPanel: Panel = { id: "sessions", title: "Sessions", area: "side", component: Sessions };
