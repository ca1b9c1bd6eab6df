/** Hub health: uptime, connections, store kind and size, and messages per minute over the last hour. */
import { ago, bytes } from "../time.js";
import type { Panel, PanelProps } from "./index.js";

function Chart({ series }: { series: number[] }) {
	const max = Math.max(1, ...series);
	const w = 240;
	const h = 48;
	const bar = w / series.length;
	return (
		<svg class="chart" viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`messages per minute, last ${series.length} minutes; now ${series.at(-1) ?? 0}`}>
			{series.map((n, i) => {
				const bh = (n / max) * (h - 2);
				return <rect key={i} x={i * bar} y={h - bh} width={Math.max(1, bar - 1)} height={bh} />;
			})}
		</svg>
	);
}

function Health({ model }: PanelProps) {
	const h = model.health;
	if (!h) return <p class="muted">waiting for the hub…</p>;
	const storage = h.storage;
	return (
		<div id="health" data-ok={String(h.ok)}>
			<dl class="facts">
				<dt>status</dt>
				<dd class={h.ok ? "ok" : "bad"}>{h.ok ? "ok" : "not ok"}</dd>
				<dt>version</dt>
				<dd>{h.version}</dd>
				<dt>uptime</dt>
				<dd>{ago(h.uptimeSeconds * 1000)}</dd>
				<dt>connections</dt>
				<dd data-field="connections">{h.connections}</dd>
				<dt>sessions online</dt>
				<dd data-field="sessionsOnline">{h.sessionsOnline}</dd>
				<dt>store</dt>
				<dd data-field="store">
					{h.store} · {bytes(h.storeBytes)}
				</dd>
				<dt>messages stored</dt>
				<dd>{h.messagesStored.toLocaleString()}</dd>
				<dt>waiting deliveries</dt>
				<dd>{h.pendingDeliveries.toLocaleString()}</dd>
				<dt>dashboards open</dt>
				<dd>{h.viewers}</dd>
			</dl>
			{storage && !storage.ok && storage.lastError && (
				<p class="error">
					storage failing: {storage.lastError.code} ({storage.lastError.message})
				</p>
			)}
			<p class="caption">messages per minute, last hour (now: {h.messagesPerMinute.at(-1) ?? 0})</p>
			<Chart series={h.messagesPerMinute} />
		</div>
	);
}

export const healthPanel: Panel = { id: "health", title: "Hub", area: "side", component: Health };
