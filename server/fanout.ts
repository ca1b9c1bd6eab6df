/**
 * Fan-out: how a committed message reaches the connections that should see it. Behind an interface so that
 * several hub processes can share one distributed engine (Redis pub/sub, NATS...) later: each hub publishes
 * what it committed and pushes to its own connections whatever any hub published. `LocalFanout` is the
 * in-process default for a single hub.
 *
 * Fan-out carries no durability: the Store does. A lost fan-out event only delays a push until the
 * recipient's next catch-up (reconnect or inbox); it never loses a message.
 */
import type { LeaveReason } from "./connection.js";
import type { DirectoryEntry } from "./directory.js";
import type { Message, ReceiptPush } from "./protocol.js";

export type FanoutEvent =
	| { kind: "message"; message: Message; recipients: string[] }
	/** A session ID was claimed for the first time: every hub adds it to the room's broadcast audience. */
	| { kind: "session"; room: string; session: string }
	/**
	 * A session ID was forgotten: every hub takes it out of the room's audience, and with `close` (an explicit
	 * `forget`) closes the connections that hold or observe it there.
	 */
	| { kind: "forget"; room: string; session: string; close: boolean }
	/**
	 * A recipient saw (acked) a message: every hub pushes a `receipt` frame to the sender's connections there
	 * (`to`: the sender), so a sender on another hub than its recipient hears of it too.
	 */
	| { kind: "receipt"; room: string; to: string; receipt: Omit<ReceiptPush, "type"> }
	// Presence across hubs (server/directory-redis.ts). `online` and `offline` are published by the directory's
	// scripts inside the change they announce, numbered by `pseq` (one counter for all hubs), so a hub can tell
	// that it missed one and reload.
	/** A session came online on `entry.hub`. */
	| { kind: "online"; pseq: number; entry: DirectoryEntry }
	/** A claim ended: the session left its hub, another hub replaced it, or its hub was taken for dead ("timeout"). */
	| { kind: "offline"; pseq: number; hub: string; claim: string; room: string; session: string; reason: LeaveReason }
	/** When `hub`'s sessions last sent a frame (reported every heartbeat/4, for peers' idle times). */
	| { kind: "active"; hub: string; sessions: [room: string, session: string, lastActive: number][] }
	/** Hub `from` asks hub `to` whether the holder of `claim` answers a ping within `ms`. */
	| { kind: "probe"; to: string; from: string; id: string; claim: string; ms: number }
	/** The answer to probe `id`. */
	| { kind: "probe_reply"; to: string; id: string; alive: boolean }
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

/** Every kind above: a hub skips events of kinds it does not know (from a newer hub), rather than misread them. */
export const FANOUT_KINDS: ReadonlySet<string> = new Set<FanoutEvent["kind"]>([
	"message",
	"session",
	"forget",
	"online",
	"offline",
	"active",
	"probe",
	"probe_reply",
	"state",
	"receipt",
]);

export type FanoutHandler = (event: FanoutEvent) => void;

export interface Fanout {
	readonly kind: string;
	/** Connects, if the engine needs it; resolves once events published after it will be received. */
	open?(): Promise<void>;
	publish(event: FanoutEvent): Promise<void>;
	/** Returns the unsubscribe function. */
	subscribe(handler: FanoutHandler): () => void;
	/**
	 * Called each time events may have been dropped and delivery is whole again (a distributed engine's
	 * connection came back): the hub then has its connections catch up from the store, so a message committed
	 * meanwhile is pushed now rather than at the recipient's next reconnect. `since` (this process's clock,
	 * epoch ms) is when the last event before the drop arrived: any event lost came after it. Returns the
	 * unsubscribe function.
	 */
	onResume?(handler: (since: number) => void): () => void;
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
