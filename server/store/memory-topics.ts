/**
 * Topic subscriptions in plain Maps (MemoryStore.topics): the reference for the semantics the other backends
 * share (test/store.suite.ts). The topics' message logs live in the MemoryStore, which hands their counts in.
 */
import type { SubscribeOutcome, TopicRecord, TopicStore } from "./store.js";

const k = (...parts: string[]): string => JSON.stringify(parts);
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class MemoryTopicStore implements TopicStore {
	/** k(room, topic) → session → since. */
	readonly #subscribers = new Map<string, Map<string, number>>();
	/** k(room, session) → its topics. */
	readonly #bySession = new Map<string, Set<string>>();
	/** room → topics with a subscriber. */
	readonly #byRoom = new Map<string, Set<string>>();

	constructor(
		private readonly check: () => void,
		private readonly logs: (room: string) => Map<string, { messages: number; lastMessageAt: number }>,
	) {}

	/** The subscribers now, synchronously: for MemoryStore.append, which reads them in its own step. */
	subscribersNow(room: string, topic: string): string[] {
		return [...(this.#subscribers.get(k(room, topic))?.keys() ?? [])].sort(byName);
	}

	async subscribe(room: string, topic: string, session: string, since: number, maxPerSession: number): Promise<SubscribeOutcome> {
		this.check();
		const subs = this.#subscribers.get(k(room, topic)) ?? new Map<string, number>();
		if (subs.has(session)) return { status: "ok", changed: false };
		const mine = this.#bySession.get(k(room, session)) ?? new Set<string>();
		if (mine.size >= maxPerSession) return { status: "limit", limit: maxPerSession };
		subs.set(session, since);
		this.#subscribers.set(k(room, topic), subs);
		mine.add(topic);
		this.#bySession.set(k(room, session), mine);
		const topics = this.#byRoom.get(room) ?? new Set<string>();
		topics.add(topic);
		this.#byRoom.set(room, topics);
		return { status: "ok", changed: true };
	}

	async unsubscribe(room: string, topic: string, session: string): Promise<boolean> {
		this.check();
		return this.#remove(room, topic, session);
	}

	async subscriptions(room: string, session: string): Promise<string[]> {
		this.check();
		return [...(this.#bySession.get(k(room, session)) ?? [])].sort(byName);
	}

	async subscribers(room: string, topic: string): Promise<string[]> {
		this.check();
		return this.subscribersNow(room, topic);
	}

	async list(room: string): Promise<TopicRecord[]> {
		this.check();
		const logs = this.logs(room);
		const names = new Set([...(this.#byRoom.get(room) ?? []), ...logs.keys()]);
		return [...names].sort(byName).map((topic) => {
			const subs = this.#subscribers.get(k(room, topic)) ?? new Map<string, number>();
			const log = logs.get(topic);
			return {
				topic,
				subscribers: [...subs].sort(([a], [b]) => byName(a, b)).map(([session, since]) => ({ session, since })),
				messages: log?.messages ?? 0,
				lastMessageAt: log?.lastMessageAt ?? null,
			};
		});
	}

	async forgetSession(room: string, session: string): Promise<number> {
		this.check();
		const mine = [...(this.#bySession.get(k(room, session)) ?? [])];
		for (const topic of mine) this.#remove(room, topic, session);
		return mine.length;
	}

	#remove(room: string, topic: string, session: string): boolean {
		const subs = this.#subscribers.get(k(room, topic));
		if (!subs?.delete(session)) return false;
		if (subs.size === 0) {
			this.#subscribers.delete(k(room, topic));
			this.#byRoom.get(room)?.delete(topic);
		}
		const mine = this.#bySession.get(k(room, session));
		mine?.delete(topic);
		if (mine?.size === 0) this.#bySession.delete(k(room, session));
		return true;
	}
}
