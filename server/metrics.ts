/**
 * The hub's Prometheus metrics (GET /metrics), through prom-client.
 *
 * Cost: the hot path only bumps plain numbers: a property increment per message, delivery, ack, error frame
 * and throttle, and a bucket increment in a typed array per latency sample. prom-client's own `inc()` and
 * `observe()` hash their label set on every call (90 and 130 ns here, with an allocation each), so they run
 * at scrape time instead: each metric's `collect()` copies these numbers in. Nothing of prom-client exists
 * until the first scrape (the registry, the process metrics and their event-loop monitor are made then), so a
 * hub nobody scrapes pays for none of it. The one exception is the hub's own event-loop monitor (`start()`,
 * as the hub begins to listen): a block before the first scrape is the one that matters most (a restart's
 * reconnect storm), and a native 10 ms timer costs next to nothing.
 *
 * Cardinality: the `room` label takes the first MAX_ROOM_LABELS rooms this hub sees; messages of later rooms
 * count under `room="_other"` (no room name can start with `_`), so a client minting rooms cannot grow the
 * output without bound. `code` is one of the stable codes of server/errors.ts, `reason` one of three.
 */
import { readdir } from "node:fs/promises";
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ErrorCode } from "./errors.js";

/** Rooms with a label of their own; the rest are summed as `_other`. */
export const MAX_ROOM_LABELS = 256;
export const OTHER_ROOM = "_other";

/** Latency buckets, seconds: 50 µs to 2.5 s (a commit on a fast disk is ~100 µs; a stalled one, seconds). */
export const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

export interface RoomCounts {
	/** Messages committed by this hub. */
	messages: number;
	/** Deliveries those created: one per recipient. */
	deliveries: number;
	/** Deliveries acked (by ack, or by a consuming inbox read). */
	acks: number;
}

export type ThrottleReason = "rate" | "broadcast_budget" | "send_buffer";

/** A histogram's counts on the hot path: find the bucket, add one. Copied into prom-client at scrape. */
export class LatencyBuckets {
	readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
	sum = 0;
	count = 0;

	/** One sample, in seconds. */
	record(seconds: number): void {
		let i = 0;
		while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] as number)) i++;
		this.counts[i] = (this.counts[i] as number) + 1;
		this.sum += seconds;
		this.count++;
	}
}

/** Messages committed per minute over the last `minutes` minutes: a ring of counts, advanced lazily. */
export class MinuteRing {
	readonly #counts: Uint32Array;
	/** The minute (epoch ms / 60 000) the newest slot counts. */
	#minute = 0;

	constructor(readonly minutes = 60) {
		this.#counts = new Uint32Array(minutes);
	}

	add(now: number): void {
		this.#advance(Math.floor(now / 60_000));
		const slot = this.#minute % this.minutes;
		this.#counts[slot] = (this.#counts[slot] as number) + 1;
	}

	/** Counts per minute, oldest first, the last one being the current (partial) minute. */
	series(now: number): number[] {
		this.#advance(Math.floor(now / 60_000));
		const out: number[] = [];
		for (let i = this.minutes - 1; i >= 0; i--) out.push(this.#counts[(this.#minute - i + this.minutes * 2) % this.minutes] as number);
		return out;
	}

	#advance(minute: number): void {
		if (minute <= this.#minute) return;
		// Zero the slots of the minutes that passed without a message (all of them after an hour).
		const gap = Math.min(this.minutes, minute - this.#minute);
		for (let i = 1; i <= gap; i++) this.#counts[(this.#minute + i) % this.minutes] = 0;
		this.#minute = minute;
	}
}

/** prom-client default metrics that cost O(handles) per scrape (left out, see #build). */
const O_N_DEFAULT_METRICS = [
	"nodejs_active_handles",
	"nodejs_active_handles_total",
	"nodejs_active_resources",
	"nodejs_active_resources_total",
	"process_open_fds",
] as const;

/** What the gauges read at scrape time. */
export interface MetricsSources {
	connections(): number;
	preHello(): number;
	sessionsOnline(): number;
	viewers(): number;
	/** messages, sessions, pending deliveries (Store.stats). */
	storeStats(): Promise<{ messages: number; sessions: number; pendingDeliveries: number }>;
	/** Store.operator.sizeBytes. */
	storeBytes(): Promise<number | null>;
	storeKind: string;
	/** The turn budget's counts (server/turn-budget.ts). */
	turns(): { deferred: number; exhaustedTurns: number };
	/** The accept window's counts (server/accept-window.ts); zeros without one. */
	accepts(): { waiting: number; requeued: number; overflowed: number };
}

export class HubMetrics {
	readonly #rooms = new Map<string, RoomCounts>();
	readonly #other: RoomCounts = { messages: 0, deliveries: 0, acks: 0 };
	/** Error answers (WebSocket error frames and HTTP API errors) by code. */
	readonly errors = new Map<string, number>();
	readonly throttled: Record<ThrottleReason, number> = { rate: 0, broadcast_budget: 0, send_buffer: 0 };
	/** Connections dropped for not reading (4003). */
	slowConsumerDrops = 0;
	/** Dashboard live streams dropped for not reading. */
	viewerDrops = 0;
	/** From the hub starting to handle a send to the store having committed it. */
	readonly sendCommit = new LatencyBuckets();
	/** From the commit to the push written to every online recipient's socket on this hub (local fan-out). */
	readonly commitPush = new LatencyBuckets();
	/** Messages committed by this hub per minute, for the dashboard's chart. */
	readonly minutes = new MinuteRing(60);
	#registry: Registry | null = null;
	/**
	 * Event-loop delay since the hub began to listen, never reset (prom-client's own monitor is reset at each
	 * scrape, so a block between two scrapers' reads is seen by one of them only). Native, 10 ms resolution.
	 */
	#loopDelay: IntervalHistogram | null = null;

	constructor(private readonly sources: MetricsSources) {}

	/** The counts of a room (a new room past MAX_ROOM_LABELS counts as `_other`). */
	room(room: string): RoomCounts {
		let counts = this.#rooms.get(room);
		if (counts) return counts;
		if (this.#rooms.size >= MAX_ROOM_LABELS) return this.#other;
		counts = { messages: 0, deliveries: 0, acks: 0 };
		this.#rooms.set(room, counts);
		return counts;
	}

	/** A message this hub committed, with its number of deliveries; `now` is its sentAt. */
	committed(room: string, deliveries: number, now: number): void {
		const counts = this.room(room);
		counts.messages++;
		counts.deliveries += deliveries;
		this.minutes.add(now);
	}

	acked(room: string, n: number): void {
		if (n > 0) this.room(room).acks += n;
	}

	error(code: ErrorCode | string): void {
		this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
	}

	/**
	 * Starts the event-loop monitor: the hub calls it just before it listens. (It used to start at the first
	 * scrape, which in a reconnect storm came after the worst block: a 1.0-1.7 s poll phase of upgrades went
	 * unreported while the monitor said 50 ms.)
	 */
	start(): void {
		if (this.#loopDelay) return;
		this.#loopDelay = monitorEventLoopDelay({ resolution: 10 });
		this.#loopDelay.enable();
	}

	/** Stops the event-loop monitor (the hub is closing). */
	close(): void {
		this.#loopDelay?.disable();
	}

	/** The text exposition; the registry is made at the first scrape. */
	async scrape(): Promise<{ contentType: string; text: string }> {
		this.#registry ??= this.#build();
		this.#stats = null;
		try {
			return { contentType: this.#registry.contentType, text: await this.#registry.metrics() };
		} finally {
			this.#stats = null;
		}
	}

	/** The store's counts, read once per scrape. */
	#stats: Promise<{ messages: number; sessions: number; pendingDeliveries: number }> | null = null;
	#storeStats() {
		this.#stats ??= this.sources.storeStats();
		return this.#stats;
	}

	#build(): Registry {
		const registry = new Registry();
		const registers = [registry];
		const s = this.sources;
		const self = this;
		const perRoom = (name: string, help: string, field: keyof RoomCounts) =>
			new Counter({
				name,
				help,
				labelNames: ["room"],
				registers,
				collect() {
					this.reset();
					for (const [room, c] of self.#rooms) this.inc({ room }, c[field]);
					if (self.#other[field] > 0) this.inc({ room: OTHER_ROOM }, self.#other[field]);
				},
			});
		perRoom("relay_messages_total", "Messages committed by this hub, by room.", "messages");
		perRoom("relay_deliveries_total", "Deliveries created by this hub's commits (one per recipient), by room.", "deliveries");
		perRoom("relay_acks_total", "Deliveries acked on this hub, by room.", "acks");
		const gauge = (name: string, help: string, read: () => number) =>
			new Gauge({
				name,
				help,
				registers,
				collect() {
					this.set(read());
				},
			});
		gauge("relay_connections", "Open WebSocket connections.", () => s.connections());
		gauge("relay_pre_hello_connections", "Connections that have neither brought the token at the upgrade nor said hello.", () => s.preHello());
		gauge("relay_sessions_online", "Sessions held by a live connection on this hub.", () => s.sessionsOnline());
		gauge("relay_accept_waiting", "Accepted sockets waiting for a place in the accept window before they are read.", () => s.accepts().waiting);
		gauge("relay_dashboard_viewers", "Open live streams of the dashboard (GET /api/live).", () => s.viewers());
		this.start();
		const loop = this.#loopDelay as IntervalHistogram;
		// Its max is 0 until the first sample; delays are in nanoseconds.
		gauge("relay_event_loop_delay_max_seconds", "Longest event-loop delay since the hub began to listen (10 ms resolution; never reset).", () => loop.max / 1e9);
		// The registry collects every metric at once: the three counts share one stats() call per scrape.
		const storeGauge = (name: string, help: string, field: "messages" | "sessions" | "pendingDeliveries") =>
			new Gauge({
				name,
				help,
				labelNames: ["store"],
				registers,
				async collect() {
					this.set({ store: s.storeKind }, (await self.#storeStats())[field]);
				},
			});
		storeGauge("relay_store_messages", "Messages in the store.", "messages");
		storeGauge("relay_store_sessions", "Session records in the store.", "sessions");
		storeGauge("relay_store_pending_deliveries", "Deliveries not yet acked.", "pendingDeliveries");
		new Gauge({
			name: "relay_store_bytes",
			help: "Size of the storage: SQLite's files, or the Redis server's used_memory (absent for the in-memory store).",
			labelNames: ["store"],
			registers,
			async collect() {
				this.reset();
				const bytes = await s.storeBytes();
				if (bytes !== null) this.set({ store: s.storeKind }, bytes);
			},
		});
		new Counter({
			name: "relay_errors_total",
			help: "Error answers by code (WebSocket error frames and HTTP API errors).",
			labelNames: ["code"],
			registers,
			collect() {
				this.reset();
				for (const [code, n] of self.errors) this.inc({ code }, n);
			},
		});
		new Counter({
			name: "relay_throttled_total",
			help: "Times a connection was slowed down (never refused): over its frame rate, its address's broadcast budget, or its send buffer's mark.",
			labelNames: ["reason"],
			registers,
			collect() {
				this.reset();
				for (const [reason, n] of Object.entries(self.throttled)) this.inc({ reason }, n);
			},
		});
		const counter = (name: string, help: string, read: () => number) =>
			new Counter({
				name,
				help,
				registers,
				collect() {
					this.reset();
					this.inc(read());
				},
			});
		counter("relay_slow_consumer_drops_total", "Connections dropped for not reading their pushes (close 4003).", () => self.slowConsumerDrops);
		counter("relay_dashboard_viewer_drops_total", "Dashboard live streams dropped for not reading.", () => self.viewerDrops);
		counter(
			"relay_frames_deferred_total",
			"Times a connection's frames waited for a later event-loop turn because the turn's budget for inbound work was spent.",
			() => s.turns().deferred,
		);
		counter("relay_accept_requeued_total", "Places in the accept window given up by sockets silent past acceptSlotMs while others waited.", () => s.accepts().requeued);
		counter("relay_accept_overflow_total", "Sockets read at once, without waiting, because the accept window's line was full (--max-connections).", () => s.accepts().overflowed);
		counter("relay_turns_exhausted_total", "Event-loop turns that spent their whole budget for inbound work (turnBudgetMs).", () => s.turns().exhaustedTurns);
		registry.registerMetric(recorded("relay_send_commit_seconds", "From the hub starting to handle a send to the store committing it.", this.sendCommit));
		registry.registerMetric(
			recorded(
				"relay_commit_push_seconds",
				"From a commit to its push being written to every online recipient on this hub (in-process fan-out only).",
				this.commitPush,
			),
		);
		collectDefaultMetrics({ register: registry });
		// These walk every handle or every file descriptor at each scrape, on the event loop: 40 ms at 5,000
		// connections on the test VM (the reconnect storm's profile), one block per scrape, growing with the
		// connections. relay_connections counts the sockets; process_open_fds is read off the loop instead.
		for (const name of O_N_DEFAULT_METRICS) registry.removeSingleMetric(name);
		if (process.platform === "linux")
			new Gauge({
				name: "process_open_fds",
				help: "Number of open file descriptors.",
				registers,
				async collect() {
					// On libuv's thread pool; minus the one the listing itself holds.
					const fds = await readdir("/proc/self/fd").catch(() => null);
					if (fds) this.set(fds.length - 1);
				},
			});
		return registry;
	}
}

/** A prom-client Histogram that reads its values from LatencyBuckets at scrape time instead of observe(). */
function recorded(name: string, help: string, buckets: LatencyBuckets): Histogram {
	class Recorded extends Histogram {
		override async get() {
			return this.#export() as unknown as Awaited<ReturnType<Histogram["get"]>>;
		}

		/** What the registry formats (it prefers this to get() when present). */
		async getForPromString() {
			return this.#export();
		}

		#export() {
			const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
			let acc = 0;
			LATENCY_BUCKETS.forEach((le, i) => {
				acc += buckets.counts[i] as number;
				values.push({ labels: { le }, value: acc, metricName: `${name}_bucket` });
			});
			values.push({ labels: { le: "+Inf" }, value: buckets.count, metricName: `${name}_bucket` });
			values.push({ labels: {}, value: buckets.sum, metricName: `${name}_sum` });
			values.push({ labels: {}, value: buckets.count, metricName: `${name}_count` });
			return { name, help, type: "histogram", values, aggregator: "sum" };
		}
	}
	return new Recorded({ name, help, buckets: [...LATENCY_BUCKETS], registers: [] });
}
