/**
 * A raw WebSocket client for the benchmark's hot loops: JSON frames as docs/PROTOCOL.md writes them, no
 * reconnect, no validation, no dedupe, so that what is measured is the hub (or the forwarder), not a client
 * library. `request` is for setup only (hello); during a hot loop the scenario sets `onText` and does its
 * own (cheap) bookkeeping.
 */
import WebSocket from "ws";
import { newIdempotencyKey, type ResultOf } from "../../server/protocol.js";

export class Wire {
	readonly ws: WebSocket;
	/** Set by a scenario for its hot loop: every text frame, as received. */
	onText: ((text: string) => void) | null = null;
	readonly #pending = new Map<string, { resolve: (f: Record<string, unknown>) => void; reject: (e: Error) => void }>();
	#closed = false;

	private constructor(ws: WebSocket) {
		this.ws = ws;
		ws.on("message", (data) => {
			const text = String(data);
			if (this.onText) {
				this.onText(text);
				return;
			}
			if (this.#pending.size === 0) return;
			let frame: Record<string, unknown>;
			try {
				frame = JSON.parse(text) as Record<string, unknown>;
			} catch {
				return;
			}
			if ((frame.type === "result" || frame.type === "error") && typeof frame.id === "string") {
				const p = this.#pending.get(frame.id);
				if (p) {
					this.#pending.delete(frame.id);
					p.resolve(frame);
				}
			}
		});
		ws.on("close", () => {
			this.#closed = true;
			for (const p of this.#pending.values()) p.reject(new Error("socket closed"));
			this.#pending.clear();
		});
		ws.on("error", () => undefined);
	}

	static open(url: string, timeoutMs = 10_000): Promise<Wire> {
		return new Promise((resolve, reject) => {
			const ws = new WebSocket(url, { perMessageDeflate: false });
			const timer = setTimeout(() => {
				ws.terminate();
				reject(new Error(`connect to ${url} timed out`));
			}, timeoutMs);
			ws.once("open", () => {
				clearTimeout(timer);
				resolve(new Wire(ws));
			});
			ws.once("error", (err) => {
				clearTimeout(timer);
				reject(err);
			});
		});
	}

	get closed(): boolean {
		return this.#closed;
	}

	send(text: string): void {
		this.ws.send(text);
	}

	/** A request by id, answered by its result (resolves) or error frame (rejects). Setup only. */
	request(frame: Record<string, unknown> & { id: string }, timeoutMs = 10_000): Promise<Record<string, unknown>> {
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(frame.id);
				reject(new Error(`no answer to ${String(frame.type)} within ${timeoutMs} ms`));
			}, timeoutMs);
			this.#pending.set(frame.id, {
				resolve: (f) => {
					clearTimeout(timer);
					if (f.type === "error") reject(new Error(`${String(f.code)}: ${String(f.message)}`));
					else resolve(f);
				},
				reject: (e) => {
					clearTimeout(timer);
					reject(e);
				},
			});
			this.ws.send(JSON.stringify(frame));
		});
	}

	/**
	 * Says hello as `session` in `room`, as the bridge does (no presence frames, no list of peers); resolves
	 * with the hello result. `extra` adds to the frame (a secret, a page of peers).
	 */
	async hello(session: string, room: string, extra: Record<string, unknown> = {}): Promise<ResultOf<"hello">> {
		const f = await this.request({ type: "hello", id: "hello", session, room, meta: { client: "bench" }, presence: false, peers: 0, ...extra });
		return f.result as ResultOf<"hello">;
	}

	close(): void {
		this.ws.terminate();
	}
}

/** Opens `n` wires to `url`, at most `concurrency` handshakes at a time. */
export async function openMany(url: string, n: number, concurrency: number, after?: (w: Wire, i: number) => Promise<void>): Promise<Wire[]> {
	const out: Wire[] = new Array(n);
	let next = 0;
	const worker = async () => {
		for (;;) {
			const i = next++;
			if (i >= n) return;
			const w = await Wire.open(url);
			if (after) await after(w, i);
			out[i] = w;
		}
	};
	await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
	return out;
}

/** A body of `bytes` ASCII bytes: "<tag><index> xxxx..." (the receiver reads the index back to check order). */
export function bodyOf(tag: string, index: number, bytes: number): string {
	const prefix = `${tag}${index} `;
	return prefix.length >= bytes ? prefix : prefix + "x".repeat(bytes - prefix.length);
}

/**
 * What a hot loop talks to: the hub (hello first, `send` frames answered by `result`), the bare forwarder,
 * or the log-line relay (hello first, `send` frames pushed as `message` frames, never answered).
 */
export type Mode = "hub" | "forwarder" | "logline";

/** Opens a connection and, against the hub or the log-line relay, says hello as `session` in `room`. */
export async function connectAs(url: string, mode: Mode, session: string, room: string): Promise<Wire> {
	const w = await Wire.open(url);
	if (mode !== "forwarder") await w.hello(session, room);
	return w;
}

/**
 * The exact `send` frame of docs/PROTOCOL.md, keyed as the reference clients key theirs (a key shaped
 * differently costs the hub a different amount to index); the forwarder relays these same bytes.
 */
export function sendFrame(id: number, to: string, body: string): string {
	return JSON.stringify({ type: "send", id: String(id), to, body, key: newIdempotencyKey() });
}

/**
 * The receiving side, the same cheap work for every target (so the clients, which share two cores with the
 * server, cost as little as possible): the index carried by the body of a delivery (the hub's `message`
 * or the log-line relay's `message` push, or the forwarded `send` frame itself), or -1 for any other frame (presence pushes, results).
 * Bodies are "<tag><index> xxx...", and "body" is the first field holding a quote-free string before it.
 */
export function indexOfDelivery(mode: Mode, text: string): number {
	if (!text.startsWith(mode === "forwarder" ? '{"type":"send"' : '{"type":"message"')) return -1;
	const at = text.indexOf('"body":"');
	if (at < 0) return -1;
	const start = at + 9; // past `"body":"` and the one-letter tag
	const end = text.indexOf(" ", start);
	const n = Number(text.slice(start, end));
	return Number.isInteger(n) ? n : -1;
}

/** What the sender makes of a frame from the hub: a result (and whether it was a duplicate), an error, or other. */
export function answerKind(text: string): "result" | "duplicate" | "error" | "other" {
	if (text.startsWith('{"type":"result"')) return text.includes('"duplicate":true') ? "duplicate" : "result";
	if (text.startsWith('{"type":"error"')) return "error";
	return "other";
}
