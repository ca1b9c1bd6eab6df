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
	/**
	 * Web pages allowed to connect besides the hub's own origin (exact `scheme://host[:port]`). A request
	 * with any other `Origin` header gets HTTP 403: any page in a browser on this machine could otherwise
	 * open a WebSocket to a loopback hub. Clients that send no Origin (ours, scripts) are not affected.
	 */
	allowOrigins: readonly string[];
	/**
	 * Host names accepted in the `Host` header besides the ones the hub listens on (loopback names on a
	 * loopback bind; the bound address, or every interface address and the machine's name on 0.0.0.0/::).
	 * For names behind DNS or a load balancer. Any other Host gets HTTP 403 (DNS rebinding).
	 */
	allowHosts: readonly string[];
	/** Largest message body, in UTF-8 bytes. Larger sends get E_TOO_LARGE. */
	maxBodyBytes: number;
	/** Largest frame the hub reads, in bytes. Larger frames get E_TOO_LARGE; the connection stays open. */
	maxFrameBytes: number;
	/**
	 * Hard ceiling handed to `ws` as maxPayload: a frame over it closes the connection (1009), because
	 * `ws` would otherwise buffer it whole. Kept well above maxFrameBytes so normal oversize is answered.
	 */
	hardMaxPayloadBytes: number;
	/**
	 * Most open WebSocket connections; past it, upgrades get HTTP 503 (after evicting a pre-hello
	 * connection, if there is one: those never keep out a client that brings the token at the upgrade).
	 */
	maxConnections: number;
	/**
	 * Most connections in the pre-hello pool: connected but neither authenticated at the upgrade (token in
	 * `Authorization: Bearer` or `?token=`) nor past a hello. Anyone who can reach the port can open these,
	 * so they get a bound of their own, well under maxConnections. When it is full the oldest is evicted
	 * (closed 1013) to let the newcomer in; see server/pre-hello.ts for why evict rather than refuse.
	 */
	maxPreHello: number;
	/**
	 * Most pre-hello connections from one peer address (an IPv6 peer counts per /64). Past it, that peer's
	 * oldest is evicted, so one address cannot take the pool from the others. On a loopback hub every
	 * peer (tunnels included) is 127.0.0.1: then this is the pool that local clients share.
	 */
	maxPreHelloPerAddress: number;
	/**
	 * A pre-hello connection that has not completed a hello by then is closed (4004); a hello still being
	 * handled then (a liveness probe takes up to livenessProbeMs) is let finish. Also how long any peer has
	 * to send a complete HTTP request head, upgrade or not. Ours say hello in their first round trip.
	 */
	preHelloTimeoutMs: number;
	/**
	 * Token bucket per connection: sustained frames per second... A connection over it is slowed down (its
	 * socket paused, its frames held in order: server/inbound.ts), never refused.
	 */
	rateLimitPerSecond: number;
	/** ...and the burst allowed above it. */
	rateLimitBurst: number;
	/**
	 * Interval of the ws-README heartbeat: ping everyone; terminate whoever did not pong since last time. With
	 * several hubs on Redis it also paces the hubs' own heartbeat (server/directory-redis.ts): a hub beats
	 * every quarter of it and is taken for dead half of it after its last beat, so its sessions are offline on
	 * the other hubs within one interval of its death.
	 */
	heartbeatMs: number;
	/** When an ID is claimed while held, how long the holder has to answer a ping before it is replaced. */
	livenessProbeMs: number;
	/** A connection authenticated at the upgrade that has not completed a hello by then is closed (4004). */
	helloTimeoutMs: number;
	/**
	 * Inbound work (frames and what their handlers do) one turn of the event loop may do before the frames
	 * that arrive after it wait for the next turn, in order (server/turn-budget.ts). Bounds how long a
	 * reconnect storm or a flood of frames keeps timers (heartbeats, probes, /metrics) waiting. 0: no budget.
	 */
	turnBudgetMs: number;
	/**
	 * Accepted sockets that may be read at once before their HTTP request head is heard; the rest wait, in
	 * order (server/accept-window.ts). Bounds the requests one poll phase parses in a reconnect storm. 0: none.
	 */
	acceptWindow: number;
	/** How long a socket with a place in the accept window may stay silent while others wait for one. */
	acceptSlotMs: number;
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
	/**
	 * Most sessions a room may have (named and ephemeral, online or not): every session the room has is a
	 * recipient of every broadcast there, so this bounds what one broadcast costs. Past it a new ID gets
	 * E_ROOM_FULL; IDs the room already has still connect. 0: no limit.
	 */
	maxSessionsPerRoom: number;
	/**
	 * New session IDs (first claims) per minute per peer address, a token bucket that holds a minute's worth:
	 * past it a first claim gets E_CLAIM_RATE (IDs already claimed still connect). Every local process and
	 * everything through an SSH tunnel is one address (127.0.0.1), so on loopback this is per hub. A
	 * connection holds one ID, so it can mint at most one. 0: no limit.
	 */
	newSessionsPerMinute: number;
	/**
	 * Broadcast deliveries per second per peer address (a broadcast costs one per recipient, online or not;
	 * two seconds' worth may go at once): every delivery is a row written and, for an offline recipient, kept
	 * until it reconnects. Past it the connection's broadcasts wait (it is slowed down, in order) while direct messages,
	 * bounded by the frame rate, are unaffected. As with new IDs, on loopback this is per hub. 0: no limit.
	 */
	broadcastDeliveriesPerSecond: number;
	/** Retention forgets named sessions not seen for this many days, unread mail and all (0: never). */
	forgetAfterDays: number;
	/**
	 * An ephemeral session whose connection ended without `bye` (the link dropped, a heartbeat was missed) is
	 * forgotten this long after, unless it came back: a bridge whose tunnel flapped keeps its unread mail.
	 * After `bye` it is forgotten at once; when the hub stops, not at all (its bridges reconnect to the next).
	 */
	ephemeralGraceMs: number;
	/**
	 * An ephemeral session's record is deleted when its connection ends; one still there this long after it
	 * was last seen, held by no hub, is what a hub that stopped without cleaning up (a crash) left behind, and
	 * retention forgets it. Hubs refresh the sessions they hold at every retention run, so keep this well
	 * above retentionIntervalMs.
	 */
	staleEphemeralMs: number;
	/** Sessions in a `sessions` page (and GET /sessions) when the request sets no limit; at most 500. */
	sessionsPageLimit: number;
	/**
	 * Online peers a hello answer lists when the hello does not say (HelloRequest.peers); at most 500. The
	 * answer's `peersTotal` counts them all. Bounds what one hello costs in a crowded room: listing 10,000
	 * peers made each hello O(room) and its answer megabytes.
	 */
	helloPeers: number;
	/** How long shutdown waits for clients to close after telling them, before closing the rest. */
	shutdownGraceMs: number;
	/** Milliseconds clients are told to wait before reconnecting after a shutdown. */
	shutdownRetryAfterMs: number;
	/** Shared state: most keys per room (a new key past it is E_LIMIT). Values are bounded by maxBodyBytes. */
	stateMaxKeys: number;
	/** Shared state: most bytes of values (as JSON) per room. */
	stateMaxRoomBytes: number;
	/** Most state prefixes one connection may watch at once. */
	maxWatches: number;
	/** File claims: the TTL of a claim that names none. */
	claimDefaultTtlSeconds: number;
	/** File claims: the longest TTL a claim may ask for (renewing extends it again). */
	claimMaxTtlSeconds: number;
	/** File claims: most live claimed patterns per session, across repositories. */
	claimMaxPerSession: number;
	/** File claims: most live claimed patterns per repository (all sessions of a room). */
	claimMaxPerRepo: number;
	/** How often expired claims are deleted (they stop counting the moment they expire either way). */
	claimSweepIntervalMs: number;
	/**
	 * The name a person writes as in the dashboard (POST /api/send), in every room; its messages are marked
	 * `human: true`. Reserved on this hub: no session may claim it (E_BAD_ID), so it always means the operator.
	 * Sessions reply to it like to any ID; what they send it waits, unread, in the dashboard's stream.
	 */
	operatorName: string;
	/** GET /metrics without the hub token (a scraper on a token hub). The dashboard and /api always need it. */
	metricsPublic: boolean;
	/** Most dashboard live streams (GET /api/live) open at once; past it a new one gets HTTP 503. */
	maxViewers: number;
	/**
	 * A live stream whose unsent output passes this many bytes is closed: a viewer that stopped reading
	 * costs at most this (plus one event) and is dropped, never slowing the hub or the other viewers.
	 */
	viewerBufferBytes: number;
	/** How often an open live stream gets the hub's health (its only timer, and only while someone watches). */
	liveTickMs: number;
	/** Most messages in one GET /api/messages page (and the page when it names no limit: 100). */
	apiPageMax: number;
}

export const DEFAULTS: Readonly<HubOptions> = Object.freeze({
	host: "127.0.0.1",
	port: 9999,
	token: undefined,
	allowOrigins: Object.freeze([]),
	allowHosts: Object.freeze([]),
	maxBodyBytes: 64 * 1024,
	maxFrameBytes: 256 * 1024,
	hardMaxPayloadBytes: 1024 * 1024,
	maxConnections: 5000,
	maxPreHello: 1024,
	maxPreHelloPerAddress: 256,
	preHelloTimeoutMs: 3_000,
	rateLimitPerSecond: 200,
	rateLimitBurst: 2000,
	heartbeatMs: 30_000,
	livenessProbeMs: 2_000,
	helloTimeoutMs: 10_000,
	turnBudgetMs: 10,
	acceptWindow: 64,
	acceptSlotMs: 25,
	sendBufferHighBytes: 1024 * 1024,
	slowConsumerMs: 30_000,
	replayBatch: 200,
	inboxDefaultLimit: 20,
	maxSubscriptionsPerSession: 100,
	retentionDays: 30,
	retentionMaxMessages: 100_000,
	retentionIntervalMs: 10 * 60_000,
	walMaxBytes: 64 * 1024 * 1024,
	maxSessionsPerRoom: 500,
	newSessionsPerMinute: 60,
	broadcastDeliveriesPerSecond: 2_000,
	forgetAfterDays: 30,
	ephemeralGraceMs: 60_000,
	staleEphemeralMs: 30 * 60_000,
	sessionsPageLimit: 100,
	helloPeers: 100,
	shutdownGraceMs: 1_000,
	shutdownRetryAfterMs: 1_000,
	stateMaxKeys: 10_000,
	stateMaxRoomBytes: 64 * 1024 * 1024,
	maxWatches: 32,
	claimDefaultTtlSeconds: 30 * 60,
	claimMaxTtlSeconds: 24 * 60 * 60,
	claimMaxPerSession: 256,
	claimMaxPerRepo: 4096,
	claimSweepIntervalMs: 60_000,
	operatorName: "Operator",
	metricsPublic: false,
	maxViewers: 16,
	viewerBufferBytes: 1024 * 1024,
	liveTickMs: 5_000,
	apiPageMax: 500,
});

/** Addresses that only this machine can reach; any other bind needs a token. */
export function isLoopback(host: string): boolean {
	const h = host.toLowerCase().replace(/^\[|\]$/g, "");
	return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || h === "::ffff:127.0.0.1";
}
