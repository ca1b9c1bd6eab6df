/**
 * What the hub tells the dashboard's live stream (server/http/live.ts) as it happens: presence, acks, claims,
 * subscriptions, pushes, and (from the fan-out) messages, seen receipts, state changes and forgotten sessions. One sink, set only while someone
 * watches: until then each place that could emit pays one property read, and nothing is built, serialized or
 * kept. The stream decides what to send and to whom.
 */
import type { LeaveReason } from "./connection.js";
import type { FanoutEvent } from "./fanout.js";

/** The fan-out events the stream hears: those about one room (not the directory's own between hubs). */
export type RoomFanoutEvent = Extract<FanoutEvent, { kind: "message" | "state" | "session" | "forget" | "receipt" }>;
const ROOM_KINDS: ReadonlySet<string> = new Set(["message", "state", "session", "forget", "receipt"]);

/** Whether a fan-out event is one of a room's (the stream's) rather than the directory's. */
export function isRoomEvent(e: FanoutEvent): e is RoomFanoutEvent {
	return ROOM_KINDS.has(e.kind);
}
import type { ClaimInfo, SessionMeta } from "./protocol.js";
import type { PushedDelivery } from "./store/store.js";

export type HubEvent =
	/**
	 * A fan-out event (a committed message, a seen receipt, a state change, a session first claimed or
	 * forgotten), from any hub.
	 */
	| RoomFanoutEvent
	/** A session came online on this hub (after its hello). */
	| { kind: "joined"; room: string; session: string; meta: SessionMeta; connectedAt: number }
	/** A session held on this hub went offline. */
	| { kind: "left"; room: string; session: string; reason: LeaveReason }
	/** A session acked deliveries (an ack, or a consuming inbox read) on this hub. */
	| { kind: "acked"; room: string; session: string; ids: string[] }
	/** A session claimed (or renewed) or released file claims on this hub. */
	| { kind: "claims"; room: string; session: string; claimed: ClaimInfo[]; released: ClaimInfo[] }
	/** A session subscribed to a topic or unsubscribed from one on this hub (only when that changed something). */
	| { kind: "subscription"; room: string; session: string; topic: string; subscribed: boolean; at: number }
	/**
	 * Messages were written to their recipients' connections on this hub (their receipts are `pushed` now):
	 * one event per room per event-loop turn, as the store is told (the arrays are the store's: never change them).
	 */
	| { kind: "pushed"; room: string; pushes: readonly PushedDelivery[]; at: number }
	/**
	 * The fan-out from other hubs was away since `since` and is back: the fan-out events above may be missing
	 * from then on, so a viewer reads its snapshot again. For every room.
	 */
	| { kind: "resync"; since: number };

export class HubEvents {
	/** The live stream's handler while it has viewers; null otherwise. */
	sink: ((event: HubEvent) => void) | null = null;
}
