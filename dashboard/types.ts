/**
 * What the hub's API answers (docs/API.md), as the page reads it. The message, session, state and claim shapes
 * are the protocol's own (server/protocol.ts; types only, nothing of the server is bundled).
 */
import type { ClaimInfo, Message, ResultOf, SessionInfo, StateInfo } from "../server/protocol.js";

export type { ClaimInfo, Message, SessionInfo, StateInfo };
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

export interface MessageDetail {
	message: Message;
	recipients: RecipientState[];
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
	session: { room: string; session: string };
	forgotten: { room: string; session: string };
	health: Health;
}
