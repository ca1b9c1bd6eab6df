/**
 * Fan-out between hub processes over Redis pub/sub, for hubs that share a RedisStore (same server, same
 * prefix). Every event goes through one channel, `<prefix>fanout`, and every hub, the publisher included,
 * acts on what it receives there: there is one delivery path, so nothing is delivered twice and all hubs
 * see events in the same order.
 *
 * Message events are published by RedisStore's append script, inside the commit, not here. Publishing after
 * the commit (as LocalFanout's caller does) would let two hubs' events overtake each other: a connection
 * that got seq 7 pushed would then drop seq 6 as already seen (its push cursor is a high-water mark) and
 * the message would wait, unpushed, for the next reconnect. From the script, events leave in seq order.
 * So `publish` of a message event does nothing: the commit already published it.
 *
 * State events (a key changed) come from the state scripts in the same way, inside the commit, so watchers
 * see a key's versions in order whichever hub wrote them (server/store/redis-state.ts).
 *
 * Receipt events (a recipient saw a message) are published here too, so that its sender hears of it on
 * whichever hub it is connected to.
 *
 * Session events ("this ID was first claimed in this room") and forget events ("this ID was forgotten") are
 * published here, so every hub's broadcast audience learns about sessions that joined or left elsewhere.
 * Presence events (`online`, `offline`) come from the directory's scripts (server/directory-redis.ts), its
 * probes and their answers from its own connection; they travel on the same channel.
 *
 * Like every Fanout this carries no durability: an event missed while the subscriber connection is down is
 * made up for when it is back (onResume: the hub has every connection catch up from the store); the store
 * keeps the message either way.
 *
 * From the subscriber's drop until the resume handlers have run, message events are not dispatched: the
 * catch-up reads them from the store. A connection's push cursor is a high-water mark and a catch-up reads
 * after it, so one message pushed live in that window (its event came in the same socket read as the
 * SUBSCRIBE's answer, before the answer's promise callbacks ran) would put the cursor past every message
 * whose event was lost while the subscriber was away, and they would wait unpushed for the recipient's
 * next reconnect.
 */
import type { Redis } from "ioredis";
import { FANOUT_KINDS, type Fanout, type FanoutEvent, type FanoutHandler } from "./fanout.js";
import { connectRedis, DEFAULT_REDIS_PREFIX, quitRedis } from "./store/redis.js";

export interface RedisFanoutOptions {
	url: string;
	/** Must be the RedisStore's prefix: the store publishes message events on `<prefix>fanout`. */
	prefix?: string;
	/** Called with events that cannot be parsed or handlers that throw; the default drops them. */
	onError?: (err: unknown) => void;
}

export class RedisFanout implements Fanout {
	readonly kind = "redis";
	readonly channel: string;
	readonly #handlers = new Set<FanoutHandler>();
	readonly #resumeHandlers = new Set<(since: number) => void>();
	/** A connection in subscriber mode can run no other command, so publishing needs its own. */
	#sub: Redis | null = null;
	#pub: Redis | null = null;
	#opening: Promise<void> | null = null;
	#closed = false;
	/** False from the subscriber's drop until the resume handlers ran: message events are not dispatched. */
	#inSync = true;
	/** Drops of the subscriber so far: a resume belongs to the connection it was started on. */
	#drops = 0;
	/** When the last event arrived (epoch ms): what a drop lost was published after it. */
	#lastEventAt = Date.now();
	/** The first drop's #lastEventAt, until the resume handlers ran. */
	#awaySince: number | null = null;
	/** The next SUBSCRIBE after one was refused on a live connection (see #resubscribe). */
	#retry: NodeJS.Timeout | undefined;

	constructor(private readonly options: RedisFanoutOptions) {
		this.channel = `${options.prefix ?? DEFAULT_REDIS_PREFIX}fanout`;
	}

	/** Connects and subscribes; resolves once events are flowing, so none is missed after it. */
	open(): Promise<void> {
		this.#opening ??= this.#open();
		return this.#opening;
	}

	async #open(): Promise<void> {
		if (this.#closed) throw new Error("fanout is closed");
		// The subscriber re-subscribes itself (below), not ioredis: ioredis 6.0.0 does not handle the rejection
		// of its own SUBSCRIBE after a reconnect (ioredis#2187), and a close before Redis answered it would end
		// the process with an unhandled rejection.
		const [sub, pub] = await Promise.allSettled([connectRedis(this.options.url, { autoResubscribe: false }), connectRedis(this.options.url)]);
		if (sub.status === "rejected" || pub.status === "rejected") {
			// Do not leave the other connection open: it would keep the process alive.
			for (const c of [sub, pub]) if (c.status === "fulfilled") c.value.disconnect();
			throw (sub.status === "rejected" ? sub : (pub as PromiseRejectedResult)).reason;
		}
		this.#sub = sub.value;
		this.#pub = pub.value;
		sub.value.on("message", (channel: string, text: string) => {
			if (channel === this.channel) this.#dispatch(text);
		});
		sub.value.on("close", () => {
			this.#inSync = false;
			this.#awaySince ??= this.#lastEventAt;
			this.#drops++;
		});
		// Every "ready" from here on is a reconnect: events published while the subscriber was away are gone.
		// Once this SUBSCRIBE is answered the subscription is in place, and the hub can catch its connections up
		// from the store without missing what follows.
		sub.value.on("ready", () => this.#resubscribe(sub.value, this.#drops, 0));
		await sub.value.subscribe(this.channel);
	}

	/**
	 * SUBSCRIBE again after a reconnect, and resume once it is answered. Dropped again meanwhile: the next
	 * "ready" does it. Refused on a live connection (an ACL that lost the channel: Redis closes a subscriber
	 * whose channel is revoked, and the reconnect's SUBSCRIBE gets NOPERM): try again, 0.5 s doubling to 30 s,
	 * and resume only once it works. Resuming at the refusal had the hub catch up once and then hear no event
	 * at all, its own hub's included, until the next drop.
	 */
	#resubscribe(sub: Redis, drops: number, attempt: number): void {
		clearTimeout(this.#retry);
		this.#retry = undefined;
		if (this.#closed || drops !== this.#drops) return;
		sub.subscribe(this.channel).then(
			() => {
				if (this.#closed || drops !== this.#drops) return;
				this.#inSync = true;
				const since = this.#awaySince ?? this.#lastEventAt;
				this.#awaySince = null;
				for (const handler of this.#resumeHandlers) handler(since);
			},
			(err) => {
				this.options.onError?.(err);
				if (this.#closed || drops !== this.#drops) return;
				this.#retry = setTimeout(() => this.#resubscribe(sub, drops, attempt + 1), Math.min(30_000, 500 * 2 ** attempt));
				this.#retry.unref();
			},
		);
	}

	async publish(event: FanoutEvent): Promise<void> {
		// Messages and state changes are published by the store's commit (see the top of this file).
		if (event.kind === "message" || event.kind === "state") return;
		await this.open();
		await this.#pub?.publish(this.channel, JSON.stringify(event));
	}

	subscribe(handler: FanoutHandler): () => void {
		this.#handlers.add(handler);
		// For callers that do not call open() first; Hub.listen does, so that no event is missed.
		this.open().catch((err) => this.options.onError?.(err));
		return () => this.#handlers.delete(handler);
	}

	onResume(handler: (since: number) => void): () => void {
		this.#resumeHandlers.add(handler);
		return () => this.#resumeHandlers.delete(handler);
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		clearTimeout(this.#retry);
		this.#handlers.clear();
		this.#resumeHandlers.clear();
		await this.#opening?.catch(() => undefined);
		await Promise.all([quitRedis(this.#sub), quitRedis(this.#pub)]);
		this.#sub = this.#pub = null;
	}

	#dispatch(text: string): void {
		this.#lastEventAt = Date.now();
		let event: FanoutEvent;
		try {
			event = JSON.parse(text) as FanoutEvent;
		} catch (err) {
			this.options.onError?.(err);
			return;
		}
		// Events from a newer hub version that this one does not know are skipped, not misread.
		if (typeof event !== "object" || event === null || !FANOUT_KINDS.has(event.kind)) return;
		// The resume's catch-up reads it from the store (see the top of this file).
		if (!this.#inSync && event.kind === "message") return;
		for (const handler of this.#handlers) {
			try {
				handler(event);
			} catch (err) {
				this.options.onError?.(err);
			}
		}
	}
}
