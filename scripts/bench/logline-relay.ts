/**
 * A second baseline: a model of the original claude-relay's server.js, an in-memory `ws` relay that routes by
 * session ID and whose service (launchd) sends its console to logs/relay.log. Per frame it does what that
 * relay does: parse the JSON, register the session on `hello`, route a `send` by `to`, build the delivered
 * frame (from, timestamp, id) with JSON.stringify, and write one log line per message to a file
 * synchronously (console.log redirected to a file is a synchronous write(2) in Node). No database, no
 * acknowledgement of a send: what it loses on a crash is whatever was in flight. The hub must be at least
 * as fast as this while committing before it answers or pushes. Same ws options as the hub.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { WebSocket, WebSocketServer } from "ws";
import { tempDir } from "./procs.js";

export async function runLoglineRelay(): Promise<void> {
	const { dir, cleanup } = tempDir("relay-bench-log-");
	const log = openSync(join(dir, "relay.log"), "a");
	const sessions = new Map<string, WebSocket>();
	let nextId = 0;
	const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, clientTracking: true, maxPayload: 1024 * 1024 });
	wss.on("connection", (ws) => {
		let me: string | null = null;
		ws.on("error", () => undefined);
		ws.on("close", () => {
			if (me !== null && sessions.get(me) === ws) sessions.delete(me);
		});
		ws.on("message", (data, isBinary) => {
			if (isBinary) return;
			let frame: { type?: unknown; id?: unknown; session?: unknown; to?: unknown; body?: unknown };
			try {
				frame = JSON.parse(String(data));
			} catch {
				return;
			}
			if (frame.type === "hello" && typeof frame.session === "string") {
				me = frame.session;
				sessions.set(me, ws);
				writeSync(log, `[Claude Relay] ${new Date().toISOString()} registered ${me}\n`);
				ws.send(JSON.stringify({ type: "result", id: frame.id, result: { session: me } }));
				return;
			}
			if (frame.type !== "send" || me === null || typeof frame.to !== "string") return;
			const message = { id: `m-${++nextId}`, from: me, to: frame.to, body: frame.body, sentAt: Date.now() };
			// Logged, then routed: the relay's own order (a line per message, then the forward).
			writeSync(log, `[Claude Relay] ${new Date(message.sentAt).toISOString()} ${me} -> ${frame.to}: ${message.id} (${String(frame.body).length} chars)\n`);
			const target = sessions.get(frame.to);
			if (target && target.readyState === WebSocket.OPEN) target.send(JSON.stringify({ type: "message", message }));
		});
	});
	await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
	const address = wss.address();
	const port = typeof address === "object" && address ? address.port : 0;
	process.stdout.write(`logline relay listening ${port}\n`);
	const stop = () =>
		wss.close(() => {
			closeSync(log);
			cleanup();
			process.exit(0);
		});
	process.on("SIGTERM", stop);
	process.on("SIGINT", stop);
}
