/**
 * Just enough MCP over stdio for the benchmark: spawn `claude-relay mcp`, send `initialize`, wait for its
 * answer. Newline-delimited JSON-RPC, as the stdio transport frames it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { built } from "./procs.js";

export const INITIALIZE = `${JSON.stringify({
	jsonrpc: "2.0",
	id: 1,
	method: "initialize",
	params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "claude-relay-bench", version: "0" } },
})}\n`;

export interface BridgeEnv {
	url: string;
	home: string;
	session: string;
}

export function spawnBridge(env: BridgeEnv): ChildProcess {
	return spawn(process.execPath, [built.cli, "mcp"], {
		env: { ...process.env, RELAY_URL: env.url, RELAY_HOME: env.home, CLAUDE_RELAY_SESSION_ID: env.session },
		stdio: ["pipe", "pipe", "pipe"],
	});
}

/**
 * Writes `initialize` to the bridge and resolves when its answer arrives; rejects with the bridge's stderr
 * if it exits first (e.g. "the bridge is not built yet") or after `timeoutMs`.
 */
export function initialize(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
	return new Promise((resolve, reject) => {
		let out = "";
		let err = "";
		const timer = setTimeout(() => done(new Error(`no answer to initialize within ${timeoutMs} ms ${err.trim()}`)), timeoutMs);
		const onOut = (d: Buffer) => {
			out += String(d);
			for (;;) {
				const nl = out.indexOf("\n");
				if (nl < 0) return;
				const line = out.slice(0, nl);
				out = out.slice(nl + 1);
				try {
					const msg = JSON.parse(line) as { id?: unknown; result?: unknown; error?: { message?: string } };
					if (msg.id === 1) return done(msg.result ? undefined : new Error(`initialize failed: ${msg.error?.message}`));
				} catch {
					// not JSON: ignore
				}
			}
		};
		const onErr = (d: Buffer) => {
			if (err.length < 4_000) err += String(d);
		};
		const onExit = (code: number | null, signal: string | null) =>
			done(new Error(`the bridge exited (${code ?? signal}) before answering initialize: ${err.trim().split("\n")[0] ?? ""}`));
		const done = (e?: Error) => {
			clearTimeout(timer);
			child.stdout?.off("data", onOut);
			child.stderr?.off("data", onErr);
			child.off("exit", onExit);
			if (e) reject(e);
			else resolve();
		};
		child.stdout?.on("data", onOut);
		child.stderr?.on("data", onErr);
		child.once("exit", onExit);
		child.stdin?.on("error", () => undefined);
		child.stdin?.write(INITIALIZE);
	});
}
