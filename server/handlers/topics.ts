/**
 * subscribe / unsubscribe / topics. A subscription belongs to the session and is stored by the hub, so it
 * survives reconnects and restarts; a send to `#topic` reaches every subscriber at commit (handlers/send.ts
 * and the store's append). Topics are public in their room: anyone in it may list them and read their log.
 */
import { ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import { checkTopic, type RequestOf, type ResultOf, TOPIC_PREFIX } from "../protocol.js";
import type { TopicRecord } from "../store/store.js";
import { boundSession, type HandlerContext } from "./context.js";

/** A topic as a request names it, with or without its `#`; E_BAD_TARGET for a malformed one. */
export function topicName(raw: string): string {
	const topic = raw.startsWith(TOPIC_PREFIX) ? raw.slice(TOPIC_PREFIX.length) : raw;
	const check = checkTopic(topic);
	if (!check.ok) throw new RelayError(ErrorCode.BAD_TARGET, check.reason);
	return topic;
}

/** A topic's last activity: its newest message or subscription (epoch ms), null for neither. */
export function lastActivity(t: TopicRecord): number | null {
	const since = t.subscribers.reduce((max, sub) => Math.max(max, sub.since), Number.NEGATIVE_INFINITY);
	const last = Math.max(t.lastMessageAt ?? Number.NEGATIVE_INFINITY, since);
	return Number.isFinite(last) ? last : null;
}

export async function handleSubscribe(ctx: HandlerContext, conn: Connection, frame: RequestOf<"subscribe">): Promise<ResultOf<"subscribe">> {
	const s = boundSession(conn);
	const topic = topicName(frame.topic);
	const max = ctx.options.maxSubscriptionsPerSession;
	const at = Date.now();
	const outcome = await ctx.store.topics.subscribe(s.room, topic, s.session, at, max);
	if (outcome.status === "limit") {
		throw new RelayError(ErrorCode.LIMIT, `${s.session} already subscribes to ${max} topics, the most this hub allows (--max-subscriptions); unsubscribe from one first.`);
	}
	if (outcome.changed) ctx.events.sink?.({ kind: "subscription", room: s.room, session: s.session, topic, subscribed: true, at });
	return { topic, subscribed: true, changed: outcome.changed, topics: await ctx.store.topics.subscriptions(s.room, s.session) };
}

export async function handleUnsubscribe(ctx: HandlerContext, conn: Connection, frame: RequestOf<"unsubscribe">): Promise<ResultOf<"unsubscribe">> {
	const s = boundSession(conn);
	const topic = topicName(frame.topic);
	const changed = await ctx.store.topics.unsubscribe(s.room, topic, s.session);
	if (changed) ctx.events.sink?.({ kind: "subscription", room: s.room, session: s.session, topic, subscribed: false, at: Date.now() });
	return { topic, subscribed: false, changed, topics: await ctx.store.topics.subscriptions(s.room, s.session) };
}

export async function handleTopics(ctx: HandlerContext, conn: Connection, _frame: RequestOf<"topics">): Promise<ResultOf<"topics">> {
	const s = boundSession(conn);
	const records = await ctx.store.topics.list(s.room);
	return {
		topics: records.map((t) => ({
			topic: t.topic,
			subscribers: t.subscribers.map((sub) => ({ session: sub.session, online: Boolean(ctx.presence.holder(s.room, sub.session)?.open) })),
			subscribed: t.subscribers.some((sub) => sub.session === s.session),
			messages: t.messages,
			lastActivity: lastActivity(t),
		})),
	};
}
