/** OperatorStore over MemoryStore's Maps (MemoryStore's `operator`): the reference semantics. */
import { BROADCAST, type Message } from "../protocol.js";
import type { HistoryPage, MessageDeliveries, OperatorStore, RoomMessagesQuery, RoomsQuery } from "./store.js";

/** What the view reads of MemoryStore (its Maps are private to it). */
export interface MemoryView {
	check(): void;
	/** Rooms that have a session or a message (repeats allowed). */
	rooms(): Iterable<string>;
	/** A room's messages in seq order, each with recipient → acked. */
	roomMessages(room: string): Iterable<{ message: Message; deliveries: ReadonlyMap<string, boolean> }>;
	byId(id: string): { message: Message; deliveries: ReadonlyMap<string, boolean> } | undefined;
}

/** Byte order of the UTF-8 form, as SQLite and Redis compare names. */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

export class MemoryOperatorStore implements OperatorStore {
	constructor(private readonly view: MemoryView) {}

	async rooms(query: RoomsQuery): Promise<string[]> {
		this.view.check();
		const after = query.after;
		return [...new Set(this.view.rooms())]
			.filter((r) => after === undefined || byBytes(r, after) > 0)
			.sort(byBytes)
			.slice(0, Math.max(0, query.limit));
	}

	async messages(room: string, query: RoomMessagesQuery): Promise<HistoryPage> {
		this.view.check();
		const { session, before, after } = query;
		const limit = Math.max(0, query.limit);
		const matches: Message[] = [];
		for (const { message: m } of this.view.roomMessages(room)) {
			if (after !== undefined && m.seq <= after) continue;
			if (before !== undefined && m.seq >= before) continue;
			if (session !== undefined && m.from !== session && m.to !== session) continue;
			matches.push(m);
		}
		// `after` pages forwards (oldest first); otherwise we take the newest page below `before`.
		const page = after !== undefined ? matches.slice(0, limit) : matches.slice(Math.max(0, matches.length - limit));
		return { messages: page.map((m) => ({ ...m })), hasMore: matches.length > limit };
	}

	async deliveries(messageId: string): Promise<MessageDeliveries | null> {
		this.view.check();
		const stored = this.view.byId(messageId);
		if (!stored) return null;
		const { message, deliveries } = stored;
		// A direct message to an ID without a delivery row cannot happen here, but keep the addressee listed.
		const names = message.to === BROADCAST ? [...deliveries.keys()] : [message.to];
		const recipients = names.sort(byBytes).map((session) => ({ session, acked: deliveries.get(session) !== false }));
		return { message: { ...message }, recipients };
	}

	async sizeBytes(): Promise<number | null> {
		this.view.check();
		return null;
	}
}
