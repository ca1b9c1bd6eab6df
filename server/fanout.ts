/**
 * Fan-out: how a committed message reaches the connections that should see it. Behind an interface so that
 * several hub processes can share one distributed engine (Redis pub/sub, NATS...) later: each hub publishes
 * what it committed and pushes to its own connections whatever any hub published. `LocalFanout` is the
 * in-process default for a single hub.
 *
 * Fan-out carries no durability: the Store does. A lost fan-out event only delays a push until the
 * recipient's next catch-up (reconnect or inbox); it never loses a message.
 */
import type { Message, ReceiptPush } from "./protocol.js";

export type FanoutEvent =
	| { kind: "message"; message: Message; recipients: string[] }
	/** A session ID was claimed for the first time: every hub adds it to the room's broadcast audience. */
	| { kind: "session"; room: string; session: string }
	/**
	 * A recipient saw (acked) a message: every hub pushes a `receipt` frame to the sender's connections there
	 * (`to`: the sender), so a sender on another hub than its recipient hears of it too.
	 */
	| { kind: "receipt"; room: string; to: string; receipt: Omit<ReceiptPush, "type"> };

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
