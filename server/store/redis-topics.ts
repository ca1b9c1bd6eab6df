/**
 * Topic subscriptions on Redis (RedisStore.topics), on the store's own client and key layout
 * (redis-scripts.ts: subs, subsof, subtopics, tlog, tlogs). Writes are scripts, so the per-session bound is
 * checked atomically even with several hubs on one Redis.
 */
import type { ScriptArg, ScriptedRedis } from "./redis.js";
import { redisStorageError } from "./redis.js";
import { guardSubStorePrototype, type StorageHealth, type SubscribeOutcome, TOPIC_METHODS, type TopicRecord, type TopicStore } from "./store.js";

export interface RedisTopicDeps {
	ready: () => ScriptedRedis;
	key: (kind: string, ...parts: string[]) => string;
	args: (...rest: ScriptArg[]) => ScriptArg[];
	health: StorageHealth;
	url: () => string;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class RedisTopicStore implements TopicStore {
	readonly health: StorageHealth;

	constructor(private readonly deps: RedisTopicDeps) {
		this.health = deps.health;
	}

	get url(): string {
		return this.deps.url();
	}

	async subscribe(room: string, topic: string, session: string, since: number, maxPerSession: number): Promise<SubscribeOutcome> {
		const d = this.deps;
		const [ok, n] = (await d.ready().relaySubscribe(...d.args(room, topic, session, since, maxPerSession))) as [number, number];
		return ok === 1 ? { status: "ok", changed: n === 1 } : { status: "limit", limit: n };
	}

	async unsubscribe(room: string, topic: string, session: string): Promise<boolean> {
		const d = this.deps;
		return Number(await d.ready().relayUnsubscribe(...d.args(room, session, topic))) > 0;
	}

	async subscriptions(room: string, session: string): Promise<string[]> {
		const d = this.deps;
		return (await d.ready().smembers(d.key("subsof", room, session))).sort(byName);
	}

	async subscribers(room: string, topic: string): Promise<string[]> {
		const d = this.deps;
		return (await d.ready().hkeys(d.key("subs", room, topic))).sort(byName);
	}

	async list(room: string): Promise<TopicRecord[]> {
		const d = this.deps;
		const rows = (await d.ready().relayTopics(...d.args(room))) as [string, string[], number, string | null][];
		return rows
			.map(([topic, flat, messages, at]) => {
				const subscribers: TopicRecord["subscribers"] = [];
				for (let i = 0; i + 1 < flat.length; i += 2) subscribers.push({ session: String(flat[i]), since: Number(flat[i + 1]) });
				subscribers.sort((a, b) => byName(a.session, b.session));
				return { topic, subscribers, messages: Number(messages), lastMessageAt: at == null ? null : Number(at) };
			})
			.sort((a, b) => byName(a.topic, b.topic));
	}

	async forgetSession(room: string, session: string): Promise<number> {
		const d = this.deps;
		return Number(await d.ready().relayUnsubscribe(...d.args(room, session)));
	}
}

// Through an arrow: redis.ts imports this module, so its exports are read when a failure happens, not now.
guardSubStorePrototype(RedisTopicStore.prototype, TOPIC_METHODS, (err, store) => redisStorageError(err, store.url));
