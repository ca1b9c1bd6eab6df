/**
 * What every backend shares about receipts and addressing: how a receipt's state follows from its times, who
 * may see a message by its `to`, and the buffer that keeps `pushed` marks in memory until they are written.
 *
 * Why a buffer: a push happens right after the commit that precedes it, and must not wait for another one.
 * So SQLite and Redis collect the marks here and write them in one batch shortly after (FLUSH_DELAY_MS), or
 * at once when MAX_BUFFERED are waiting, or at close; reads merge the buffer in. A hub that crashes before a
 * batch is written loses those marks: the receipts read `queued` again (the message is replayed, and pushed
 * again, at the recipient's next connect). `seen` is never buffered: it is written with the ack.
 */
import { BROADCAST, type Message, type Receipt, TOPIC_PREFIX } from "../protocol.js";

/** How long a `pushed` mark waits in memory before its batch is written. */
export const FLUSH_DELAY_MS = 100;
/** Most marks held at once (about 100 bytes each); a full buffer is written at once. */
export const MAX_BUFFERED = 10_000;

/** A topic message (`to` is `#name`). */
export function isTopicTo(to: string): boolean {
	return to.startsWith(TOPIC_PREFIX);
}

/** Whether `viewer` is the addressee of `to`, alone or in a list (`A,B`). */
export function addressedTo(to: string, viewer: string): boolean {
	if (to === viewer) return true;
	return to.includes(",") && to.split(",").includes(viewer);
}

/** The rule getMessage applies: broadcasts and topic messages are public in their room; else sender and addressees. */
export function visibleTo(m: Pick<Message, "from" | "to">, viewer: string): boolean {
	return m.to === BROADCAST || isTopicTo(m.to) || m.from === viewer || addressedTo(m.to, viewer);
}

/** A recipient's receipt from its times: seen beats pushed beats queued. */
export function receiptOf(recipient: string, sentAt: number, pushedAt: number | null, seenAt: number | null): Receipt {
	if (seenAt !== null) return { recipient, state: "seen", at: seenAt, pushedAt, seenAt };
	if (pushedAt !== null) return { recipient, state: "pushed", at: pushedAt, pushedAt, seenAt: null };
	return { recipient, state: "queued", at: sentAt, pushedAt: null, seenAt: null };
}

/** Recipients that had one message written to their connections at one time: one row, one flush entry. */
export interface PushedMark {
	seq: number;
	at: number;
	recipients: string[];
	/** The recipients are all of the message's (SQLite then stores `*` instead of their names). */
	all: boolean;
}

/**
 * `pushed` marks waiting to be written, at most MAX_BUFFERED deliveries. A push is kept as it came (one
 * message, its recipients, one time: a broadcast's 50 pushes are one mark), appended in O(1): this runs for
 * every push. A recipient pushed twice has two marks; readers take its earliest. Lookups (`get`, for
 * receipts reads) scan, which is fine for a few thousand marks and rare calls. A batch that fails is dropped
 * (those receipts read `queued`) and reported.
 */
export class PushedBuffer {
	#marks: PushedMark[] = [];
	#size = 0;
	#timer: NodeJS.Timeout | null = null;
	#closed = false;

	constructor(
		private readonly write: (marks: PushedMark[]) => void | Promise<void>,
		private readonly onError: (err: unknown) => void,
		private readonly delayMs = FLUSH_DELAY_MS,
		private readonly max = MAX_BUFFERED,
	) {}

	/** Deliveries waiting to be written. */
	get size(): number {
		return this.#size;
	}

	/** Keeps these pushes (the recipient arrays are kept as given: callers must not change them). */
	add(pushes: readonly { seq: number; recipients: readonly string[]; all?: boolean }[], at: number): void {
		if (this.#closed) return;
		for (const p of pushes) {
			if (p.recipients.length === 0) continue;
			this.#marks.push({ seq: p.seq, at, recipients: p.recipients as string[], all: p.all === true });
			this.#size += p.recipients.length;
		}
		if (this.#size >= this.max) {
			void this.flush();
			return;
		}
		if (!this.#timer && this.#size > 0) {
			this.#timer = setTimeout(() => void this.flush(), this.delayMs);
			this.#timer.unref();
		}
	}

	/** The time of a recipient's first waiting push of a message, if any. */
	get(seq: number, recipient: string): number | undefined {
		return this.of(seq).get(recipient);
	}

	/** Each recipient's first waiting push of a message (one pass over what waits; `all` marks name theirs). */
	of(seq: number): Map<string, number> {
		const first = new Map<string, number>();
		for (const m of this.#marks) {
			if (m.seq !== seq) continue;
			for (const r of m.recipients) {
				const at = first.get(r);
				if (at === undefined || m.at < at) first.set(r, m.at);
			}
		}
		return first;
	}

	/** Writes what waits now. Never rejects (failures go to onError). */
	async flush(): Promise<void> {
		if (this.#timer) clearTimeout(this.#timer);
		this.#timer = null;
		if (this.#size === 0) return;
		const batch = this.#marks;
		this.#marks = [];
		this.#size = 0;
		try {
			await this.write(batch);
		} catch (err) {
			this.onError(err);
		}
	}

	/** Writes what waits and takes no more. */
	async close(): Promise<void> {
		await this.flush();
		this.#closed = true;
	}
}
