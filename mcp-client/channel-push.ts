/**
 * Pushes messages into the session as channel notifications, once channel.ts says the session listens.
 * Loaded with the hub link (after the handshake), started by BridgeContext.
 *
 * For each message, oldest first: claim it (no tool shows it meanwhile), write the notification, and only
 * once it is written mark it handed to the model and ack it to the hub, through the same queue as
 * relay_receive (an ack that cannot reach the hub now goes out after the next hello). A message pushed this
 * way is never shown again by relay_receive or relay_wait, and the hub never replays it.
 *
 * - Source: the messages the bridge holds (the hub pushed them: live ones, and after each hello the backlog,
 *   in seq order). When the hold overflowed (its bound dropped some; they stay unacked at the hub), the
 *   hub's inbox is paged instead, so that nothing is skipped and the order holds.
 * - A relay_wait in progress takes precedence: a message it would take is left for it (the model asked for
 *   it as that call's answer), and looked at again when the wait ends.
 * - A failed write (stdout gone: the session is ending) puts the message back and stops pushing; it is
 *   still unacked at the hub.
 */
import type { Message } from "../server/protocol.js";
import type { HubLink } from "./hub-link.js";
import type { BridgeLog } from "./log.js";

/** Writes one message to the session; resolves once the frame is written (then it is acked). */
export type ChannelSink = (message: Message) => Promise<void>;

/** Page size when catching up from the hub's inbox. */
const HUB_PAGE = 50;

export class ChannelPusher {
	/** Messages pushed (written and handed over) since start. */
	pushed = 0;
	/** Why pushing stopped, if it did. */
	stopped: string | null = null;
	#running = false;
	#again = false;
	/** `inbox.dropped` when the hub was last caught up with. */
	#seenDropped = 0;
	readonly #unsubscribe: Array<() => void> = [];

	constructor(
		private readonly link: HubLink,
		private readonly sink: ChannelSink,
		private readonly log: BridgeLog,
	) {}

	start(): void {
		const kick = () => this.kick();
		// Deferred: never push from inside the hold's own add().
		const deferred = () => queueMicrotask(kick);
		this.#unsubscribe.push(
			this.link.inbox.onAdd(deferred),
			this.link.onWaitEnd(deferred),
		);
		this.link.client.on("ready", deferred);
		this.#unsubscribe.push(() => this.link.client.off("ready", deferred));
		this.kick();
	}

	stop(reason: string): void {
		if (this.stopped) return;
		this.stopped = reason;
		for (const u of this.#unsubscribe.splice(0)) u();
	}

	/** Pushes whatever is waiting; a kick during a run makes the run look again. */
	kick(): void {
		if (this.stopped) return;
		if (this.#running) {
			this.#again = true;
			return;
		}
		this.#running = true;
		void (async () => {
			try {
				do {
					this.#again = false;
					await this.#drain();
				} while (this.#again && !this.stopped);
			} catch (err) {
				this.log.error(
					{ error: (err as Error).stack ?? String(err) },
					"channel push failed",
				);
			} finally {
				this.#running = false;
			}
		})();
	}

	async #drain(): Promise<void> {
		const inbox = this.link.inbox;
		for (;;) {
			if (this.stopped) return;
			if (inbox.dropped !== this.#seenDropped && this.link.client.ready) {
				const dropped = inbox.dropped;
				if (await this.#fromHub()) this.#seenDropped = dropped;
				if (this.stopped) return;
			}
			const next = inbox.list().find((m) => !this.link.wantedByWait(m));
			if (!next) return;
			if (!(await this.#push(next))) return;
		}
	}

	/** Pages the hub's inbox (oldest first) and pushes it; false when the hub could not be read. */
	async #fromHub(): Promise<boolean> {
		for (;;) {
			let page: { messages: Message[]; remaining: number };
			try {
				page = await this.link.peekUnseen(HUB_PAGE);
			} catch (err) {
				this.log.debug(
					{ error: (err as Error).message },
					"channel: cannot read the hub's inbox now; catching up after the next hello",
				);
				return false;
			}
			const todo = page.messages.filter((m) => !this.link.wantedByWait(m));
			for (const m of todo) if (!(await this.#push(m))) return true;
			if (todo.length === 0 || page.remaining === 0) return true;
		}
	}

	/** Writes one notification, then hands the message over and acks it; false when pushing stopped. */
	async #push(m: Message): Promise<boolean> {
		const inbox = this.link.inbox;
		if (inbox.taken(m.id)) return true;
		inbox.claim(m);
		try {
			await this.sink(m);
		} catch (err) {
			inbox.release(m.id);
			const reason = `writing the notification failed (${(err as Error).message})`;
			this.log.warn(
				{ id: m.id, error: (err as Error).message },
				"channel push failed; the message stays unread at the hub",
			);
			this.stop(reason);
			return false;
		}
		inbox.markHanded([m]);
		this.pushed++;
		this.log.debug(
			{ id: m.id, from: m.from, seq: m.seq },
			"pushed to the session",
		);
		void this.link.flushAcks().catch(() => undefined);
		return true;
	}
}
