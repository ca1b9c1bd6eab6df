/**
 * Fan-out: how a committed message reaches the connections that should see it. Behind an interface so that
 * several hub processes can share one distributed engine (Redis pub/sub, NATS...) later: each hub publishes
 * what it committed and pushes to its own connections whatever any hub published. `LocalFanout` is the
 * in-process default for a single hub.
 *
 * Fan-out carries no durability: the Store does. A lost fan-out event only delays a push until the
 * recipient's next catch-up (reconnect or inbox); it never loses a message.
 */
import type { Message } from "./protocol.js";

export type FanoutEvent =
	| { kind: "message"; message: Message; recipients: string[] }
	/** A session ID was claimed for the first time: every hub adds it to the room's broadcast audience. */
	| { kind: "session"; room: string; session: string }
	/**
	 * A session ID was forgotten: every hub takes it out of the room's audience, and with `close` (an explicit
	 * `forget`) closes the connections that hold or observe it there.
	 */
	| { kind: "forget"; room: string; session: string; close: boolean }
	/** A state key changed: every hub pushes `state_changed` to its connections watching a prefix of it. */
	| StateEvent;

export interface StateEvent {
	kind: "state";
	room: string;
	key: string;
	version: number;
	updatedBy: string;
	updatedAt: number;
	deleted: boolean;
}

export type FanoutHandler = (event: FanoutEvent) => void;

export interface Fanout {
	readonly kind: string;
	/** Connects, if the engine needs it; resolves once events published after it will be received. */
	open?(): Promise<void>;
	publish(event: FanoutEvent): Promise<void>;
	/** Returns the unsubscribe function. */
	subscribe(handler: FanoutHandler): () => void;
	close(): Promise<void>;
}

/** Single-process fan-out: handlers run synchronously, in subscription order, within publish(). */
export class LocalFanout implements Fanout {
	readonly kind = "local";
	readonly #handlers = new Set<FanoutHandler>();

	async publish(event: FanoutEvent): Promise<void> {
		for (const handler of this.#handlers) handler(event);
	}

	subscribe(handler: FanoutHandler): () => void {
		this.#handlers.add(handler);
		return () => this.#handlers.delete(handler);
	}

	async close(): Promise<void> {
		this.#handlers.clear();
	}
}
