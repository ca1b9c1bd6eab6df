/**
 * GET /api/live: the dashboard's live stream, as server-sent events (text/event-stream) on a plain HTTP
 * response. The page reads it with fetch(), not EventSource, because EventSource cannot send the
 * Authorization header a token hub needs (and a token in the URL would end up in logs and history).
 *
 * Events: `hello` once, then `message`, `pushed`, `receipt`, `joined`, `left`, `acked`, `state`, `claims`,
 * `subscription`, `session`, `forgotten`, `resync` as they happen, and `health` every liveTickMs (docs/API.md has each
 * one's fields). `?room=NAME` keeps to one room's events.
 *
 * Cost while nobody watches: none. The hub's event sink (server/events.ts) is set when the first viewer
 * connects and cleared when the last one leaves, and the health timer runs only in between; until then each
 * place that could emit reads one null property.
 *
 * Bounds: at most maxViewers streams (503 past it); each event is serialized once for all of them; a viewer
 * whose unsent output passes viewerBufferBytes (it stopped reading) is closed and counted, so it never makes
 * the hub hold more than that plus one event, nor slows the others.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode } from "../errors.js";
import type { HubEvent } from "../events.js";
import type { HandlerContext } from "../handlers/context.js";
import type { Health } from "./context.js";
import { preview } from "./preview.js";
import { BASE_HEADERS, HttpError } from "./respond.js";

interface Viewer {
	res: ServerResponse;
	/** Only this room's events (undefined: every room). */
	room: string | undefined;
}

export interface LiveSources {
	hub: Pick<HandlerContext, "options" | "events" | "metrics" | "store" | "log">;
	health(): Promise<Health>;
}

/** One server-sent event: JSON never holds a raw newline, so `data:` is one line. */
function frame(event: string, data: unknown): string {
	return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The room an event belongs to; undefined: every room's. */
function roomOf(e: HubEvent): string | undefined {
	return e.kind === "message" ? e.message.room : e.kind === "resync" ? undefined : e.room;
}

/** What a viewer is sent for a hub event; null for events it has no use for. */
function payload(e: HubEvent): [string, unknown] | null {
	switch (e.kind) {
		case "message":
			return ["message", { message: preview(e.message), recipients: e.recipients }];
		case "state": {
			const { kind: _, ...rest } = e;
			return ["state", rest];
		}
		case "forget":
			return ["forgotten", { room: e.room, session: e.session }];
		case "session":
			return ["session", { room: e.room, session: e.session }];
		case "joined":
			return ["joined", { room: e.room, session: e.session, meta: e.meta, connectedAt: e.connectedAt }];
		case "left":
			return ["left", { room: e.room, session: e.session, reason: e.reason, at: Date.now() }];
		case "acked":
			// Sent from #emit once the session's waiting count is read (see there).
			return null;
		case "claims":
			return ["claims", { room: e.room, session: e.session, claimed: e.claimed, released: e.released }];
		case "receipt":
			// `to` is the message's sender (who the receipt push is for).
			return ["receipt", { room: e.room, sender: e.to, ...e.receipt }];
		case "pushed":
			return ["pushed", { room: e.room, at: e.at, pushes: e.pushes.map((p) => ({ seq: p.seq, recipients: p.recipients })) }];
		case "subscription":
			return ["subscription", { room: e.room, session: e.session, topic: e.topic, subscribed: e.subscribed, at: e.at }];
		case "resync":
			return ["resync", { since: e.since }];
		default:
			return null;
	}
}

export class LiveStream {
	readonly #viewers = new Set<Viewer>();
	#timer: NodeJS.Timeout | null = null;
	#closed = false;

	constructor(private readonly sources: LiveSources) {}

	get size(): number {
		return this.#viewers.size;
	}

	/** Whether the hub's sink and the health timer are set (only while someone watches). */
	get active(): boolean {
		return this.#timer !== null || this.sources.hub.events.sink !== null;
	}

	open(req: IncomingMessage, res: ServerResponse, room: string | undefined): void {
		const o = this.sources.hub.options;
		if (this.#closed) throw new HttpError(503, ErrorCode.SHUTTING_DOWN, "The hub is shutting down.");
		if (this.#viewers.size >= o.maxViewers) {
			throw new HttpError(503, ErrorCode.LIMIT, `${this.#viewers.size} live streams are open, the most this hub allows (--max-viewers ${o.maxViewers}); close one, or reload later.`, {
				"retry-after": "5",
			});
		}
		res.writeHead(200, {
			...BASE_HEADERS,
			"content-type": "text/event-stream; charset=utf-8",
			connection: "keep-alive",
			// Proxies (nginx) must pass events on as they come.
			"x-accel-buffering": "no",
		});
		// The request's own timeouts (the hub's are short, for heads) must not cut a stream that is supposed to last.
		req.socket.setTimeout(0);
		res.setTimeout?.(0);
		const viewer: Viewer = { res, room };
		this.#viewers.add(viewer);
		const gone = () => this.#remove(viewer);
		res.on("close", gone);
		res.on("error", gone);
		res.write(frame("hello", { operator: o.operatorName, room: room ?? null, tickMs: o.liveTickMs }));
		if (this.#viewers.size === 1) this.#attach();
		void this.#tick([viewer]);
	}

	/** Ends every stream (the hub is stopping). */
	close(): void {
		this.#closed = true;
		for (const v of [...this.#viewers]) v.res.end();
		this.#viewers.clear();
		this.#detach();
	}

	#attach(): void {
		this.sources.hub.events.sink = (e) => this.#emit(e);
		this.#timer = setInterval(() => void this.#tick([...this.#viewers]), this.sources.hub.options.liveTickMs);
		this.#timer.unref();
	}

	#detach(): void {
		this.sources.hub.events.sink = null;
		if (this.#timer) clearInterval(this.#timer);
		this.#timer = null;
	}

	#remove(viewer: Viewer): void {
		if (!this.#viewers.delete(viewer)) return;
		if (this.#viewers.size === 0) this.#detach();
	}

	#emit(e: HubEvent): void {
		if (e.kind === "acked") {
			// With what still waits for the session, so the page shows the hub's count rather than its own guess.
			if (!this.#watched(e.room)) return;
			const send = (pending: number | null) => this.#send("acked", e.room, { room: e.room, session: e.session, ids: e.ids, pending });
			this.sources.hub.store.countPending(e.room, e.session).then(send, () => send(null));
			return;
		}
		const p = payload(e);
		if (p) this.#send(p[0], roomOf(e), p[1]);
	}

	/** Whether any viewer wants this room's events. */
	#watched(room: string): boolean {
		for (const v of this.#viewers) if (v.room === undefined || v.room === room) return true;
		return false;
	}

	/** One event to every viewer of its room (room undefined: to every viewer), serialized once. */
	#send(event: string, room: string | undefined, data: unknown): void {
		let text: string | undefined;
		for (const v of this.#viewers) {
			if (room !== undefined && v.room !== undefined && v.room !== room) continue;
			text ??= frame(event, data);
			this.#write(v, text);
		}
	}

	#write(v: Viewer, text: string): void {
		if (v.res.writableLength > this.sources.hub.options.viewerBufferBytes) {
			// It stopped reading: close it rather than hold more for it.
			this.sources.hub.metrics.viewerDrops++;
			this.sources.hub.log.warn({ buffered: v.res.writableLength }, "dropping a dashboard live stream that stopped reading");
			this.#remove(v);
			v.res.destroy();
			return;
		}
		v.res.write(text);
	}

	async #tick(viewers: Viewer[]): Promise<void> {
		if (viewers.length === 0) return;
		const hub = this.sources.hub;
		const now = Date.now();
		let body: unknown;
		try {
			const [health, storeBytes] = await Promise.all([this.sources.health(), hub.store.operator.sizeBytes()]);
			body = { ...health, storeBytes, viewers: this.#viewers.size, messagesPerMinute: hub.metrics.minutes.series(now), at: now };
		} catch (err) {
			hub.log.warn({ err }, "live health tick: the store did not answer");
			body = { ok: false, error: "store unavailable", store: hub.store.kind, viewers: this.#viewers.size, messagesPerMinute: hub.metrics.minutes.series(now), at: now };
		}
		const text = frame("health", body);
		for (const v of viewers) if (this.#viewers.has(v)) this.#write(v, text);
	}
}
