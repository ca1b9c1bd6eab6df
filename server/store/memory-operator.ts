/** OperatorStore over MemoryStore's Maps (MemoryStore's `operator`): the reference semantics. */
import { BROADCAST, type Message, threadOf } from "../protocol.js";
import { isTopicTo } from "./receipts.js";
import type { HistoryPage, MessageDeliveries, OperatorStore, OperatorThreadQuery, RoomMessagesQuery, RoomsQuery, ThreadPage } from "./store.js";

/** What the view reads of MemoryStore (its Maps are private to it). */
export interface MemoryView {
	check(): void;
	/** Rooms that have a session or a message (repeats allowed). */
	rooms(): Iterable<string>;
	/** A room's messages in seq order, each with recipient → acked. */
	roomMessages(room: string): Iterable<{ message: Message; deliveries: ReadonlyMap<string, boolean> }>;
	byId(id: string): { message: Message; deliveries: ReadonlyMap<string, boolean> } | undefined;
	/** The replies of a thread of a room (not its root), in seq order. */
	replies(room: string, thread: string): Iterable<{ message: Message }>;
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
			if (session !== undefined && m.from !== session && !m.to.split(",").includes(session)) continue;
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
		// A direct message is for its addressee; every other audience (a list's, a broadcast's, a topic's) is its
		// delivery entries, acked or not.
		const direct = message.to !== BROADCAST && !isTopicTo(message.to) && !message.to.includes(",");
		const names = direct ? [message.to] : [...deliveries.keys()];
		const recipients = names.sort(byBytes).map((session) => ({ session, acked: deliveries.get(session) !== false }));
		return { message: { ...message }, recipients };
	}

	async thread(room: string, messageId: string, query: OperatorThreadQuery): Promise<ThreadPage | null> {
		this.view.check();
		const found = this.view.byId(messageId);
		const named = found && found.message.room === room ? found.message : undefined;
		const thread = named ? threadOf(named) : messageId;
		const root = this.view.byId(thread);
		const members = [...(root && root.message.room === room ? [root.message] : []), ...[...this.view.replies(room, thread)].map((s) => s.message)]
			.filter((m) => query.after === undefined || m.seq > query.after)
			.sort((a, b) => a.seq - b.seq);
		if (!named && members.length === 0) return null;
		const limit = Math.max(0, query.limit);
		return { thread, messages: members.slice(0, limit).map((m) => ({ ...m })), hasMore: members.length > limit };
	}

	async sizeBytes(): Promise<number | null> {
		this.view.check();
		return null;
	}
}
