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
	/**
	 * Too many frames too fast; retry after a moment. This hub no longer sends it (a connection over its
	 * rate or budget is slowed down instead, which keeps per-sender order); clients still retry it for
	 * older hubs.
	 */
	RATE_LIMITED: "E_RATE_LIMITED",
	/** The room has `--max-sessions-per-room` sessions: a new ID cannot join it (existing IDs still can). */
	ROOM_FULL: "E_ROOM_FULL",
	/** Too many new session IDs claimed from this peer address in the last minute (`--new-sessions-per-minute`). */
	CLAIM_RATE: "E_CLAIM_RATE",
	/** `forget` without the ID's secret or the hub token. */
	FORBIDDEN: "E_FORBIDDEN",
	/** `forget` of an ID that a live connection holds, without `force`. */
	SESSION_ONLINE: "E_SESSION_ONLINE",
	/** The hub is shutting down; reconnect later. */
	SHUTTING_DOWN: "E_SHUTTING_DOWN",
	/** HTTP 403: the request's `Host` is not a name this hub answers to (DNS rebinding guard; `--allow-host`). */
	BAD_HOST: "E_BAD_HOST",
	/** HTTP 403: the request comes from a web page of another origin (`--allow-origin`). */
	BAD_ORIGIN: "E_BAD_ORIGIN",
	/** Something failed inside the hub; the request was not applied. */
	INTERNAL: "E_INTERNAL",
	/**
	 * The hub's storage failed (disk full, I/O error, damaged file, Redis unreachable): the request was not
	 * applied. Retry later; /healthz reports the failure until storage works again.
	 */
	STORAGE: "E_STORAGE",
	/**
	 * Compare-and-set lost: the key's version is not `expectedVersion` (0: the key exists). Nothing changed;
	 * the error's `details.current` is the key as it is now (null: it does not exist). Read, then retry.
	 */
	CONFLICT: "E_CONFLICT",
	/** A state key or key prefix is malformed (keys: 1-256 of letters, digits and `_ - . : /`). */
	BAD_KEY: "E_BAD_KEY",
	/** A claim path or repository identity is malformed (absolute, `..`, control characters, bad glob...). */
	BAD_PATH: "E_BAD_PATH",
	/** state_append on a key whose value is not a JSON array. */
	NOT_ARRAY: "E_NOT_ARRAY",
	/** A bound on what a room, session or connection may hold was reached (keys, bytes, claims, watches). */
	LIMIT: "E_LIMIT",
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
	/** Kept flooding after being rate limited. Not sent since the hub slows floods down instead; reserved. */
	ABUSE: 4008,
	/**
	 * (The standard "try again later".) Evicted from the full pre-hello pool, oldest first, to let a
	 * newer connection in: reconnect and say hello at once.
	 */
	TRY_AGAIN: 1013,
	/** The session this connection held or observed was forgotten (`forget`); claiming it again starts afresh. */
	FORGOTTEN: 4009,
} as const;

/** An error with a stable code; the hub turns it into an `error` frame for the request that caused it. */
export class RelayError extends Error {
	readonly code: ErrorCode;
	/**
	 * Structured facts sent with the error frame as `details` (E_CONFLICT: `{current}`; E_ID_TAKEN for a live
	 * holder: `{holder}`); absent for most codes. Clients ignore what they do not know.
	 */
	readonly details: unknown;
	constructor(code: ErrorCode, message: string, details?: unknown) {
		super(message);
		this.name = "RelayError";
		this.code = code;
		this.details = details;
	}
}

export function isRelayError(err: unknown): err is RelayError {
	return err instanceof RelayError;
}
