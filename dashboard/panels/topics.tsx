/**
 * The room's topics: each with its subscribers (a dot for online), how many messages its log holds, and its
 * last activity; kept current by the live stream (subscriptions, messages, presence). A click filters the
 * stream to the topic's log.
 */
import { Line } from "../text.js";
import { ago } from "../time.js";
import type { Panel, PanelProps } from "./index.js";

function Topics({ model, actions, now }: PanelProps) {
	if (model.topics.length === 0) return <p class="muted">No topics in room {model.room}: a session subscribes with relay_subscribe, or sends to #name.</p>;
	const pressed = (topic: string) => model.filter?.kind === "topic" && model.filter.value === topic;
	return (
		<ul id="topics" class="rows">
			{model.topics.map((t) => (
				<li key={t.topic} class="topic" data-topic={t.topic}>
					<button type="button" class="row" aria-pressed={pressed(t.topic)} onClick={() => actions.filter(pressed(t.topic) ? null : { kind: "topic", value: t.topic })}>
						<strong class="name">
							#<Line text={t.topic} max={64} />
						</strong>
						<span class="muted" data-field="messages">
							{t.messages} {t.messages === 1 ? "message" : "messages"}
						</span>
						<span class="muted" data-field="activity">
							{t.lastActivity === null ? "no activity" : `active ${ago(now - t.lastActivity)} ago`}
						</span>
					</button>
					{t.subscribers.length === 0 ? (
						<div class="muted subscribers">no subscribers</div>
					) : (
						<ul class="subscribers" aria-label={`subscribers of #${t.topic}`}>
							{t.subscribers.map((s) => (
								<li key={s.session} class={`subscriber${s.online ? " online" : ""}`} data-subscriber={s.session} data-online={String(s.online)}>
									<span class="dot" title={s.online ? "online" : "offline"} />
									<Line text={s.session} max={64} />
								</li>
							))}
						</ul>
					)}
				</li>
			))}
		</ul>
	);
}

export const topicsPanel: Panel = { id: "topics", title: "Topics", area: "side", component: Topics };
