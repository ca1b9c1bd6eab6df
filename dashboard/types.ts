/**
 * What the hub's API answers (docs/API.md), as the page reads it. The message, session, state and claim shapes
 * are the protocol's own (server/protocol.ts; types only, nothing of the server is bundled).
 */
import type { ClaimInfo, Message, Receipt, ResultOf, SessionInfo, StateInfo } from "../server/protocol.js";

export type { ClaimInfo, Message, Receipt, SessionInfo, StateInfo };
export type SendAnswer = ResultOf<"send">;

/** A message as lists and the live stream carry it: the body may be cut (truncated) at bodyChars. */
export type MessagePreview = Message & { bodyChars: number; truncated: boolean };

export interface Health {
	ok: boolean;
	version: string;
	uptimeSeconds: number;
	sessionsOnline: number;
	connections: number;
	preHello: number;
	messagesStored: number;
	pendingDeliveries: number;
	store: string;
	storeBytes: number | null;
	viewers: number;
	messagesPerMinute: number[];
	storage?: { ok: boolean; lastError?: { code: string; message: string; at: number } };
	operator?: string;
	/** Epoch ms of the answer (live ticks). */
	at?: number;
}

export interface SessionRow extends SessionInfo {
	/** Since its last frame, when the answer was made (null: offline). */
	idleMs: number | null;
}

export interface RecipientState {
	session: string;
	acked: boolean;
	online: boolean;
}

/** Where a message is for one recipient (queued, pushed, seen, with times), and whether it is online. */
export type ReceiptRow = Receipt & { online: boolean };

export interface MessageDetail {
	message: Message;
	/** The id of its thread's root. */
	thread: string;
	recipients: RecipientState[];
	receipts: ReceiptRow[];
}

/** A thread as /api/threads/<id> answers: oldest first. */
export interface ThreadView {
	thread: string;
	messages: MessagePreview[];
	/** More messages after these (paged forwards). */
	hasMore: boolean;
}

export interface TopicRow {
	topic: string;
	subscribers: { session: string; since: number; online: boolean }[];
	/** Messages its log holds. */
	messages: number;
	lastMessageAt: number | null;
	/** Newest message or subscription (epoch ms). */
	lastActivity: number | null;
}

/** The live stream's events (server/http/live.ts). */
export interface LiveEvents {
	hello: { operator: string; room: string | null; tickMs: number };
	message: { message: MessagePreview; recipients: string[] };
	joined: { room: string; session: string; meta: SessionInfo["meta"]; connectedAt: number };
	left: { room: string; session: string; reason: string; at: number };
	/** `pending`: what still waits for the session after it (null: the store did not answer). */
	acked: { room: string; session: string; ids: string[]; pending: number | null };
	state: { room: string; key: string; version: number; updatedBy: string; updatedAt: number; deleted: boolean };
	claims: { room: string; session: string; claimed: ClaimInfo[]; released: ClaimInfo[] };
	/** A recipient saw a message (acked it): `sender` sent it. */
	receipt: { room: string; sender: string; message: string; recipient: string; state: "seen"; at: number };
	/** Messages (by seq) written to these recipients' connections at `at`. */
	pushed: { room: string; at: number; pushes: { seq: number; recipients: string[] }[] };
	subscription: { room: string; session: string; topic: string; subscribed: boolean; at: number };
	session: { room: string; session: string };
	forgotten: { room: string; session: string };
	/** The hub's fan-out from other hubs was away since `since`: events may be missing; read the snapshot again. */
	resync: { since: number };
	health: Health;
}
