/** File claims: who holds which paths of which repository, why, and until when. Expired ones drop out. */
import { Line } from "../text.js";
import { ago, clock } from "../time.js";
import type { Panel, PanelProps } from "./index.js";

function Claims({ model, now }: PanelProps) {
	const live = model.claims.filter((c) => c.expiresAt > now);
	if (live.length === 0) return <p class="muted">No file claims.</p>;
	return (
		<ul id="claims" class="rows">
			{live.map((c) => (
				<li key={`${c.repo}\u0000${c.session}\u0000${c.path}`} class="claim" data-session={c.session} data-path={c.path}>
					<code>
						<Line text={c.path} max={80} />
					</code>{" "}
					<span class="muted">
						in <Line text={c.repo} max={60} />
					</span>
					<div>
						held by <strong>{c.session}</strong> until {clock(c.expiresAt)} (in {ago(c.expiresAt - now)})
					</div>
					{c.reason && (
						<div class="reason">
							“<Line text={c.reason} max={200} />”
						</div>
					)}
				</li>
			))}
		</ul>
	);
}

export const claimsPanel: Panel = { id: "claims", title: "File claims", area: "side", component: Claims };
