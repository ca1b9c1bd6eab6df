/**
 * The bridge's log: JSON lines (pino) to stderr and to $RELAY_HOME/logs/bridge-<ID>.log. Never stdout,
 * which belongs to MCP. Message bodies are never logged.
 *
 * pino costs tens of milliseconds to load, and every Claude session pays the bridge's start-up, so this
 * module does not import it: records are buffered (bounded) until `attach()` loads pino in the background
 * after the MCP handshake, then replayed. If the process exits before that, `flush()` writes the buffer
 * to stderr so nothing said at start-up is lost.
 */
import { mkdirSync, renameSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { paths } from "../server/paths.js";

export type LogLevel =
	| "trace"
	| "debug"
	| "info"
	| "warn"
	| "error"
	| "fatal"
	| "silent";

const LEVELS: Record<LogLevel, number> = {
	trace: 10,
	debug: 20,
	info: 30,
	warn: 40,
	error: 50,
	fatal: 60,
	silent: Number.POSITIVE_INFINITY,
};
const BUFFER_MAX = 500;
/** A log file over this size is moved to `<file>.old` when the next bridge with this ID starts. */
const ROTATE_BYTES = 5 * 1024 * 1024;

type Method = (objOrMsg: object | string, msg?: string) => void;

export interface BridgeLog {
	trace: Method;
	debug: Method;
	info: Method;
	warn: Method;
	error: Method;
	fatal: Method;
	/** The log file of this session. */
	readonly file: string;
	/** Loads pino and starts writing (stderr + file); records logged before are replayed. Safe to call twice. */
	attach(): Promise<void>;
	/** Writes out anything not yet written (call before exiting). */
	flush(): void;
}

interface Pending {
	level: Exclude<LogLevel, "silent">;
	obj: object;
	msg: string | undefined;
	time: number;
}

type Sink = Record<
	Exclude<LogLevel, "silent">,
	(obj: object, msg?: string) => void
> & { flush(): void };

export function createBridgeLog(opts: {
	level: LogLevel;
	session: string;
	home: string;
}): BridgeLog {
	const threshold = LEVELS[opts.level];
	const file = join(paths.logs(opts.home), `bridge-${opts.session}.log`);
	const buffer: Pending[] = [];
	let dropped = 0;
	let sink: Sink | undefined;
	let attaching: Promise<void> | undefined;

	const write = (level: Exclude<LogLevel, "silent">): Method => {
		if (LEVELS[level] < threshold) return () => {};
		return (objOrMsg, msg) => {
			const obj = typeof objOrMsg === "string" ? {} : objOrMsg;
			const text = typeof objOrMsg === "string" ? objOrMsg : msg;
			if (sink) return sink[level](obj, text);
			if (buffer.length >= BUFFER_MAX) dropped++;
			else buffer.push({ level, obj, msg: text, time: Date.now() });
		};
	};

	const base = { pid: process.pid, session: opts.session, name: "bridge" };

	const stderrFallback = () => {
		for (const r of buffer.splice(0)) {
			const line = JSON.stringify({
				level: LEVELS[r.level],
				time: r.time,
				...base,
				...r.obj,
				msg: r.msg,
			});
			try {
				writeSync(2, `${line}\n`);
			} catch {
				// stderr is gone too: nothing left to tell
			}
		}
	};

	const log: BridgeLog = {
		trace: write("trace"),
		debug: write("debug"),
		info: write("info"),
		warn: write("warn"),
		error: write("error"),
		fatal: write("fatal"),
		file,
		attach() {
			attaching ??= (async () => {
				if (threshold === Number.POSITIVE_INFINITY) {
					buffer.length = 0;
					return;
				}
				try {
					const { default: pino } = await import("pino");
					mkdirSync(paths.logs(opts.home), { recursive: true, mode: 0o700 });
					try {
						if (statSync(file).size > ROTATE_BYTES)
							renameSync(file, `${file}.old`);
					} catch {
						// no file yet
					}
					const streams = [
						{
							level: opts.level as "info",
							stream: pino.destination({ fd: 2, sync: true }),
						},
						{
							level: opts.level as "info",
							stream: pino.destination({
								dest: file,
								sync: true,
								append: true,
								mkdir: true,
								mode: 0o600,
							}),
						},
					];
					const logger = pino(
						{ level: opts.level, base },
						pino.multistream(streams),
					);
					sink = {
						trace: (o, m) => logger.trace(o, m),
						debug: (o, m) => logger.debug(o, m),
						info: (o, m) => logger.info(o, m),
						warn: (o, m) => logger.warn(o, m),
						error: (o, m) => logger.error(o, m),
						fatal: (o, m) => logger.fatal(o, m),
						flush: () => {
							for (const s of streams) s.stream.flushSync?.();
						},
					};
					for (const r of buffer.splice(0))
						sink[r.level](
							{ ...r.obj, at: new Date(r.time).toISOString() },
							r.msg,
						);
					if (dropped > 0)
						sink.warn(
							{ dropped },
							"log records dropped before the logger was ready",
						);
				} catch (err) {
					stderrFallback();
					writeSync(
						2,
						`claude-relay mcp: cannot open the log (${(err as Error).message}); logging to stderr only\n`,
					);
					const toStderr =
						(level: Exclude<LogLevel, "silent">) =>
						(obj: object, msg?: string): void => {
							if (LEVELS[level] < threshold) return;
							try {
								writeSync(
									2,
									`${JSON.stringify({ level: LEVELS[level], time: Date.now(), ...base, ...obj, msg })}\n`,
								);
							} catch {
								// stderr closed
							}
						};
					sink = {
						trace: toStderr("trace"),
						debug: toStderr("debug"),
						info: toStderr("info"),
						warn: toStderr("warn"),
						error: toStderr("error"),
						fatal: toStderr("fatal"),
						flush: () => {},
					};
				}
			})();
			return attaching;
		},
		flush() {
			if (sink) sink.flush();
			else stderrFallback();
		},
	};
	return log;
}
