/**
 * Stable error codes and WebSocket close codes. Codes are part of the protocol: clients branch on them,
 * so a code, once published, keeps its meaning. Messages are for people and may change.
 */

export const ErrorCode = {
	/** The frame is not JSON, is binary, or does not match the schema of its type. */
	BAD_FRAME: "E_BAD_FRAME",
	/** The frame's `type` is not one the hub knows. */
	UNKNOWN_TYPE: "E_UNKNOWN_TYPE",
	/** The frame or a message body is over the configured limit. The connection stays open. */
	TOO_LARGE: "E_TOO_LARGE",
	/** The session ID or room name is malformed or reserved. */
	BAD_ID: "E_BAD_ID",
	/** The session ID is held by a live connection, or the secret presented for it is wrong or missing. */
	ID_TAKEN: "E_ID_TAKEN",
	/** Missing or wrong hub token. The connection is closed. */
	AUTH: "E_AUTH",
	/** A request other than hello arrived before a successful hello. */
	NOT_REGISTERED: "E_NOT_REGISTERED",
	/** A second hello on a connection that already holds a session. */
	ALREADY_REGISTERED: "E_ALREADY_REGISTERED",
	/** `send.to` is malformed or names the sender itself; a topic name is malformed (subscribe, history...). */
	BAD_TARGET: "E_BAD_TARGET",
	/** No such message, or not one this session may read. */
	NOT_FOUND: "E_NOT_FOUND",
	/** Too many frames too fast on this connection; retry after a moment. */
	RATE_LIMITED: "E_RATE_LIMITED",
	/** The hub is shutting down; reconnect later. */
	SHUTTING_DOWN: "E_SHUTTING_DOWN",
	/** A bound on what a room, session or connection may hold was reached (e.g. subscriptions per session). */
	LIMIT: "E_LIMIT",
	/** Something failed inside the hub; the request was not applied. */
	INTERNAL: "E_INTERNAL",
	/**
	 * The hub's storage failed (disk full, I/O error, damaged file, Redis unreachable): the request was not
	 * applied. Retry later; /healthz reports the failure until storage works again.
	 */
	STORAGE: "E_STORAGE",
	// Client-side codes (the hub never sends these; client libraries raise them).
	/** No answer from the hub within the bounded wait. */
	TIMEOUT: "E_TIMEOUT",
	/** The hub cannot be reached (not running, tunnel down, wrong URL). */
	UNREACHABLE: "E_UNREACHABLE",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Warning codes carried in successful results. */
export const WarningCode = {
	/** The recipient has never connected to this room: the message is queued for it anyway. */
	UNKNOWN_RECIPIENT: "W_UNKNOWN_RECIPIENT",
	/** A broadcast with nobody else in the room: stored, delivered to no one. */
	NO_RECIPIENTS: "W_NO_RECIPIENTS",
	/** A send to a topic nobody (but perhaps the sender) subscribes to: stored in its log, delivered to no one. */
	NO_SUBSCRIBERS: "W_NO_SUBSCRIBERS",
} as const;

/** WebSocket close codes (4000-4999 is the application range). */
export const CloseCode = {
	NORMAL: 1000,
	/** Hub shutting down. */
	GOING_AWAY: 1001,
	/** Frame over the hard ceiling (`ws` closes with this itself). */
	TOO_BIG: 1009,
	/** Missing or wrong token. */
	AUTH: 4001,
	/** Another connection took over this session ID (this one failed the liveness check). */
	REPLACED: 4002,
	/** Send buffer stayed over the limit: the client was not reading. Its messages stay queued. */
	SLOW_CONSUMER: 4003,
	/** No hello within the allowed time after connecting. */
	HELLO_TIMEOUT: 4004,
	/** Kept flooding after being rate limited. */
	ABUSE: 4008,
} as const;

/** An error with a stable code; the hub turns it into an `error` frame for the request that caused it. */
export class RelayError extends Error {
	readonly code: ErrorCode;
	constructor(code: ErrorCode, message: string) {
		super(message);
		this.name = "RelayError";
		this.code = code;
	}
}

export function isRelayError(err: unknown): err is RelayError {
	return err instanceof RelayError;
}
