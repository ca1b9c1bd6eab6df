/**
 * The baseline: a bare `ws` server that relays every text frame it receives to every other client, with no
 * parsing, no validation, no storage. With two clients it is "A to B"; with 51 it is a broadcast. The hub's
 * numbers are printed as ratios to this one, measured in the same run on the same machine, because
 * absolute numbers move from machine to machine. Same ws options as the hub (no compression).
 */
import { WebSocket, WebSocketServer } from "ws";

export async function runForwarder(): Promise<void> {
	const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, clientTracking: true, maxPayload: 1024 * 1024 });
	wss.on("connection", (ws) => {
		ws.on("error", () => undefined);
		ws.on("message", (data, isBinary) => {
			if (isBinary) return;
			for (const other of wss.clients) {
				if (other !== ws && other.readyState === WebSocket.OPEN) other.send(data as Buffer, { binary: false });
			}
		});
	});
	await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
	const address = wss.address();
	const port = typeof address === "object" && address ? address.port : 0;
	process.stdout.write(`forwarder listening ${port}\n`);
	const stop = () => wss.close(() => process.exit(0));
	process.on("SIGTERM", stop);
	process.on("SIGINT", stop);
}
