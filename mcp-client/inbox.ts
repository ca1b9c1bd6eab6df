/**
 * The bridge's local side of delivery. The hub is the source of truth (a message stays unacked there until
 * the bridge acks it); this keeps three things the hub cannot know:
 *
 * - held: messages the hub pushed while no tool was asking, bounded by count and bytes. They wake
 *   `relay_wait` and let `relay_receive` hand something over while the hub is unreachable. Dropping one
 *   (over the bound) loses nothing: it is still unacked at the hub, and the tools read the hub first.
 * - handed: ids already given to the model, so a message the hub delivers again (its ack was lost in a
 *   reconnect) is never shown twice: it is filtered out and acked again.
 * - unsent acks: acks for handed messages that could not reach the hub yet; sent after the next hello.
 * - acks waiting for their reply: a tool hands messages over in its result, and an ack means "seen by the
 *   model" (the hub turns it into a `seen` receipt), so those acks go out only once the result is written
 *   (`shown`); a call cancelled before that hands nothing over (`unhand`).
 * - pushing: messages being written to the session as channel notifications (channel-push.ts): no longer
 *   held, not handed yet (they are acked only once written), and shown by no tool meanwhile.
 */
import type { Message } from "../server/protocol.js";

export interface HoldLimits {
	maxMessages: number;
	maxBytes: number;
	/** How many handed ids to remember for filtering re-deliveries. */
	maxHanded: number;
}

export const DEFAULT_HOLD_LIMITS: HoldLimits = {
	maxMessages: 500,
	maxBytes: 8 * 1024 * 1024,
	maxHanded: 20_000,
};

const bySeq = (a: Message, b: Message) => a.seq - b.seq;

export class LocalInbox {
	readonly limits: HoldLimits;
	readonly #held = new Map<string, Message>();
	#heldBytes = 0;
	readonly #handed = new Set<string>();
	readonly #unsentAcks = new Set<string>();
	/** Handed in a tool result not written yet: acked once it is (shown), forgotten if it never is (unhand). */
	readonly #awaitingReply = new Set<string>();
	readonly #pushing = new Map<string, Message>();
	readonly #listeners = new Set<(message: Message) => void>();
	/** Messages not held because the hold was full (they stay at the hub). */
	dropped = 0;
	/** Increases whenever a message is added: lets a waiter tell whether anything arrived while it looked elsewhere. */
	version = 0;

	constructor(limits: Partial<HoldLimits> = {}) {
		this.limits = { ...DEFAULT_HOLD_LIMITS, ...limits };
	}

	get size(): number {
		return this.#held.size;
	}

	/** Acks owed to the hub: not sent yet (no connection), or waiting for the reply that hands them over. */
	get unsentAcks(): number {
		return this.#unsentAcks.size + this.#awaitingReply.size;
	}

	/** A pushed message. Returns false when it was not held (already handed or pushing, already held, or over the bound). */
	add(message: Message): boolean {
		if (this.taken(message.id) || this.#held.has(message.id)) return false;
		const bytes = message.body.length * 2;
		if (
			this.#held.size >= this.limits.maxMessages ||
			this.#heldBytes + bytes > this.limits.maxBytes
		) {
			this.dropped++;
			return false;
		}
		this.#held.set(message.id, message);
		this.#heldBytes += bytes;
		this.version++;
		for (const listener of this.#listeners) listener(message);
		return true;
	}

	/** Called with every message added from now on; returns the unsubscribe function. */
	onAdd(listener: (message: Message) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	/** Held messages, oldest first, optionally only from one sender; nothing is removed. */
	list(limit = Number.POSITIVE_INFINITY, from?: string): Message[] {
		const all = [...this.#held.values()]
			.filter((m) => from === undefined || m.from === from)
			.sort(bySeq);
		return all.slice(0, limit);
	}

	wasHanded(id: string): boolean {
		return this.#handed.has(id);
	}

	/** Handed to the model, or being pushed to it: no tool may show it. */
	taken(id: string): boolean {
		return this.#handed.has(id) || this.#pushing.has(id);
	}

	/** Being written as a channel notification (not acked yet). */
	isPushing(id: string): boolean {
		return this.#pushing.has(id);
	}

	/** This message is about to be pushed to the session: stop holding it and keep every tool from showing it. */
	claim(message: Message): void {
		this.#remove(message.id);
		this.#pushing.set(message.id, message);
	}

	/** The push failed: hold the message again (if it fits), for the tools. */
	release(id: string): void {
		const m = this.#pushing.get(id);
		if (!m) return;
		this.#pushing.delete(id);
		this.add(m);
	}

	/**
	 * These messages were given to the model: stop holding them, never show them again, and ack them; with
	 * `afterReply`, ack them only once `shown` says the reply holding them was written.
	 */
	markHanded(messages: readonly Message[], afterReply = false): string[] {
		const ids = messages.map((m) => m.id);
		for (const id of ids) {
			this.#remove(id);
			this.#pushing.delete(id);
			this.#handed.add(id);
			if (afterReply) this.#awaitingReply.add(id);
			else this.#unsentAcks.add(id);
		}
		while (this.#handed.size > this.limits.maxHanded) {
			const oldest = this.#handed.values().next().value;
			if (oldest === undefined) break;
			this.#handed.delete(oldest);
		}
		return ids;
	}

	/** Acks that still have to reach the hub (handed, or re-delivered after being handed). */
	pendingAcks(): string[] {
		return [...this.#unsentAcks];
	}

	/** The reply that handed these over was written: they are seen, their acks may go. */
	shown(ids: readonly string[]): void {
		for (const id of ids) if (this.#awaitingReply.delete(id)) this.#unsentAcks.add(id);
	}

	/** The reply that would have handed these over was never written (the call was cancelled): show them again. */
	unhand(ids: readonly string[]): void {
		for (const id of ids) if (this.#awaitingReply.delete(id)) this.#handed.delete(id);
	}

	/** A re-delivered message the model already has: ack it again (once its reply is written), show it never. */
	reack(id: string): void {
		this.#remove(id);
		if (!this.#awaitingReply.has(id)) this.#unsentAcks.add(id);
	}

	/** The hub confirmed these acks. */
	acked(ids: readonly string[]): void {
		for (const id of ids) this.#unsentAcks.delete(id);
	}

	/**
	 * After an unfiltered peek of the hub's inbox that was sent when `heldBefore` were held: any of those the
	 * page does not contain and that are older than its first message are no longer unacked at the hub (a
	 * hook attached to this session acked them), so holding them would only risk showing them twice.
	 */
	reconcile(heldBefore: readonly string[], page: readonly Message[]): void {
		const inPage = new Set(page.map((m) => m.id));
		const firstSeq = page[0]?.seq ?? Number.POSITIVE_INFINITY;
		for (const id of heldBefore) {
			const m = this.#held.get(id);
			if (m && !inPage.has(id) && m.seq < firstSeq) this.#remove(id);
		}
	}

	heldIds(): string[] {
		return [...this.#held.keys()];
	}

	#remove(id: string): void {
		const m = this.#held.get(id);
		if (!m) return;
		this.#held.delete(id);
		this.#heldBytes -= m.body.length * 2;
	}
}
