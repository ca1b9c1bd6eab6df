/**
 * Structured logs (pino). The hub logs to stdout (it is a foreground daemon; launchd/systemd capture it);
 * anything stdio-MCP related must log to stderr or a file instead, so callers pass the destination.
 * Message bodies are never logged at info or above: logs end up in shared places, bodies may hold secrets.
 */
import pino, { type Logger } from "pino";

export type { Logger };

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export function createLogger(opts: { level?: LogLevel; name?: string; fd?: number } = {}): Logger {
	return pino(
		{ name: opts.name ?? "claude-relay", level: opts.level ?? "info", base: { pid: process.pid } },
		pino.destination({ fd: opts.fd ?? 1, sync: false }),
	);
}

/** A logger that drops everything: the default for a Hub embedded in tests. */
export function silentLogger(): Logger {
	return pino({ level: "silent" });
}
