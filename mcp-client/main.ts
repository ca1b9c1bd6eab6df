/**
 * `claude-relay mcp`: the bridge one Claude Code session spawns. Start-up order matters, since every
 * session pays it: read flags and environment, answer MCP on stdio, and only then (in the background)
 * load the logger, the WebSocket client and the registry, and connect to the hub.
 *
 * stdout carries MCP frames only. Logs go to stderr and $RELAY_HOME/logs/bridge-<ID>.log.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { BridgeContext } from "./context.js";
import { createBridgeLog } from "./log.js";
import { resolveConfig, UsageError } from "./options.js";
import { createBridgeServer } from "./server.js";
import { startWatchdog } from "./watchdog.js";

/** Connect anyway if the client has not finished the handshake by then (e.g. a slow or silent client). */
const START_FALLBACK_MS = 300;
/** The whole shutdown (bye, registry, log flush) is bounded by this; then the process exits regardless. */
const SHUTDOWN_BOUND_MS = 1_500;

export async function runBridgeCli(argv: string[]): Promise<void> {
	let config: ReturnType<typeof resolveConfig>;
	try {
		config = resolveConfig(argv);
	} catch (err) {
		if (!(err instanceof UsageError)) throw err;
		process.stderr.write(`claude-relay mcp: ${err.message}\n`);
		process.exit(2);
	}

	const log = createBridgeLog({
		level: config.logLevel,
		session: config.identity.id,
		home: config.home,
	});
	const ctx = new BridgeContext(config, log);
	const server = createBridgeServer(ctx);

	let exiting = false;
	const shutdown = async (reason: string, code = 0) => {
		if (exiting) return;
		exiting = true;
		const hard = setTimeout(() => {
			log.flush();
			process.exit(code);
		}, SHUTDOWN_BOUND_MS);
		hard.unref();
		log.info({ reason }, "bridge exiting");
		await ctx.close(SHUTDOWN_BOUND_MS - 500);
		log.flush();
		process.exit(code);
	};

	process.on("uncaughtException", (err) => {
		log.fatal({ err: err.stack ?? String(err) }, "uncaught exception");
		void shutdown("uncaught exception", 1);
	});
	process.on("unhandledRejection", (err) => {
		log.error(
			{ err: err instanceof Error ? (err.stack ?? err.message) : String(err) },
			"unhandled rejection",
		);
	});

	const transport = new StdioServerTransport();
	let started = false;
	const startBackground = () => {
		if (started || exiting) return;
		started = true;
		ctx.start();
		void log.attach();
	};
	server.server.oninitialized = startBackground;
	await server.connect(transport);
	setTimeout(startBackground, START_FALLBACK_MS).unref();
	startWatchdog({ onExit: (reason) => void shutdown(reason) });

	log.info(
		{
			idSource: config.identity.source,
			url: config.url,
			room: config.room,
			problem: config.problem?.message,
		},
		"bridge started",
	);
	if (config.problem)
		log.error({ code: config.problem.code }, config.problem.message);
}
