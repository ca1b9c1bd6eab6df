/**
 * Every hub option with its default, in one place (the `ws` way). The CLI (server/cli.ts) maps flags and
 * environment variables onto these; tests override them directly.
 */
export interface HubOptions {
	/** Interface to bind. Loopback by default; any other address requires `token`. */
	host: string;
	/** TCP port; 0 picks a free one (tests). */
	port: number;
	/**
	 * Shared secret every client must present (Authorization: Bearer, `?token=`, or hello.token).
	 * Undefined: no token required, which is only allowed on loopback.
	 */
	token: string | undefined;
	/** Largest message body, in UTF-8 bytes. Larger sends get E_TOO_LARGE. */
	maxBodyBytes: number;
	/** Largest frame the hub reads, in bytes. Larger frames get E_TOO_LARGE; the connection stays open. */
	maxFrameBytes: number;
	/**
	 * Hard ceiling handed to `ws` as maxPayload: a frame over it closes the connection (1009), because
	 * `ws` would otherwise buffer it whole. Kept well above maxFrameBytes so normal oversize is answered.
	 */
	hardMaxPayloadBytes: number;
	/** Most open WebSocket connections; past it, upgrades get HTTP 503. */
	maxConnections: number;
	/** Token bucket per connection: sustained frames per second... */
	rateLimitPerSecond: number;
	/** ...and the burst allowed above it. */
	rateLimitBurst: number;
	/** A connection that keeps flooding this many frames past its limit is closed (4008). */
	rateLimitStrikes: number;
	/** Interval of the ws-README heartbeat: ping everyone; terminate whoever did not pong since last time. */
	heartbeatMs: number;
	/** When an ID is claimed while held, how long the holder has to answer a ping before it is replaced. */
	livenessProbeMs: number;
	/** A connection that has not said hello by then is closed (4004). */
	helloTimeoutMs: number;
	/** Stop pushing to a connection whose ws send buffer is above this (it catches up when it drains). */
	sendBufferHighBytes: number;
	/** A connection whose send buffer stays above sendBufferHighBytes this long is dropped (4003). */
	slowConsumerMs: number;
	/** Messages pushed per batch while a connection catches up on its backlog. */
	replayBatch: number;
	/** Default and largest `limit` of an inbox request. */
	inboxDefaultLimit: number;
	/**
	 * Most topics one session may subscribe to (per room); a subscribe past it gets E_LIMIT. Bounds what a
	 * session can make the hub store and read at each topic send.
	 */
	maxSubscriptionsPerSession: number;
	/** Retention: delete messages older than this many days (0: keep forever). */
	retentionDays: number;
	/** Retention: keep at most this many messages per room, newest first (0: no limit). */
	retentionMaxMessages: number;
	/** How often retention runs. */
	retentionIntervalMs: number;
	/**
	 * SQLite: the write-ahead log (relay.db-wal) is rewound once past this size and truncated to zero when
	 * the hub is idle; appends wait (are delayed, not refused) once it reaches twice this, so it never grows
	 * past 2x plus one group-commit batch (8 MiB at most), unless another process keeps a read transaction
	 * open on the file (then the hub writes on). Read by the SQLite store, which hub-main creates.
	 */
	walMaxBytes: number;
	/** How long shutdown waits for clients to close after telling them, before closing the rest. */
	shutdownGraceMs: number;
	/** Milliseconds clients are told to wait before reconnecting after a shutdown. */
	shutdownRetryAfterMs: number;
}

export const DEFAULTS: Readonly<HubOptions> = Object.freeze({
	host: "127.0.0.1",
	port: 9999,
	token: undefined,
	maxBodyBytes: 64 * 1024,
	maxFrameBytes: 256 * 1024,
	hardMaxPayloadBytes: 1024 * 1024,
	maxConnections: 5000,
	rateLimitPerSecond: 200,
	rateLimitBurst: 2000,
	rateLimitStrikes: 1000,
	heartbeatMs: 30_000,
	livenessProbeMs: 2_000,
	helloTimeoutMs: 10_000,
	sendBufferHighBytes: 1024 * 1024,
	slowConsumerMs: 30_000,
	replayBatch: 200,
	inboxDefaultLimit: 20,
	maxSubscriptionsPerSession: 100,
	retentionDays: 30,
	retentionMaxMessages: 100_000,
	retentionIntervalMs: 10 * 60_000,
	walMaxBytes: 64 * 1024 * 1024,
	shutdownGraceMs: 1_000,
	shutdownRetryAfterMs: 1_000,
});

/** Addresses that only this machine can reach; any other bind needs a token. */
export function isLoopback(host: string): boolean {
	const h = host.toLowerCase().replace(/^\[|\]$/g, "");
	return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || h === "::ffff:127.0.0.1";
}
