/**
 * `claude-relay mcp`: the bridge one Claude Code session spawns. Start-up order matters, since every
 * session pays it: read flags and environment, answer MCP on stdio, and only then (in the background)
 * load the logger, the WebSocket client and the registry, and connect to the hub.
 *
 * stdout carries MCP frames only. Logs go to stderr and $RELAY_HOME/logs/bridge-<ID>.log.
 *
 * The server instructions are written into the `initialize` answer as it leaves, for the harness named by
 * the request's clientInfo (server.ts). Which harness runs the bridge (its `client` meta) is decided after
 * the handshake, from that name and the parent's command line (harness/clients.ts).
 *
 * Channels (channel.ts): the capability is declared in the initialize answer, but whether messages are pushed
 * is decided only after the client's `initialized` (what it declared, the protocol answered, and the parent's
 * command line, read then), so none of it delays the answer.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import {
	CHANNEL_CAPABILITY,
	CHANNEL_METHOD,
	channelNotification,
} from "./channel.js";
import { BridgeContext } from "./context.js";
import { createBridgeLog } from "./log.js";
import { resolveConfig, UsageError } from "./options.js";
import { createBridgeServer, instructionsFor } from "./server.js";
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
	// The protocol version the server answered `initialize` with (Claude Code drops channel notifications on one).
	let protocolVersion: string | undefined;
	const send = transport.send.bind(transport);
	transport.send = async (message: JSONRPCMessage) => {
		if (protocolVersion === undefined) {
			protocolVersion = answeredVersion(message);
			// The initialize answer: its instructions are written for the harness that asked, whose name the SDK
			// has just read from the request (clientInfo), so that no other model reads Claude-only advice.
			if (protocolVersion !== undefined) {
				const clientName = server.server.getClientVersion()?.name;
				ctx.setClientName(clientName);
				(message as { result: { instructions?: string } }).result.instructions = instructionsFor(ctx, clientName);
			}
		}
		await send(message);
		// A tool result has left the process: the messages it handed to the model may now be acked (seen).
		if ("id" in message && message.id !== undefined && ("result" in message || "error" in message)) {
			await flushStdout().catch(() => undefined);
			ctx.replyWritten(message.id);
		}
	};
	ctx.reportReplies();
	ctx.setChannelSink(async (message) => {
		await server.server.notification({
			method: CHANNEL_METHOD,
			params: channelNotification(message),
		});
		// Resolved once the frame has left this process (not merely queued in it): only then is it acked.
		await flushStdout();
	});
	let started = false;
	const startBackground = () => {
		if (started || exiting) return;
		started = true;
		ctx.start();
		ctx.channels.probeParent(() => ctx.parentArgv());
		void log.attach();
	};
	server.server.oninitialized = () => {
		const client = server.server.getClientCapabilities();
		ctx.channels.initialized({
			clientDeclared: Boolean(client?.experimental?.[CHANNEL_CAPABILITY]),
			protocolVersion,
			clientName: server.server.getClientVersion()?.name,
		});
		startBackground();
	};
	server.server.onerror = (err) => {
		log.warn({ err: err.message }, "MCP transport error");
	};
	// The SDK closes its stdio transport on its own in some cases (a line over its 10 MiB read buffer), and
	// then pauses stdin: the watchdog's stdin end never comes. A bridge nobody can talk to must not keep its
	// session at the hub (peers would be told "delivered live", and a new bridge for the ID refused).
	server.server.onclose = () => void shutdown("the MCP transport closed");
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
	if (config.topicsInvalid.length > 0)
		log.warn(
			{ ignored: config.topicsInvalid },
			"--topics / RELAY_TOPICS: not topic names (letters, digits, _ - . :, 1-64), ignored",
		);
}

/** The protocolVersion of an `initialize` answer, if this message is one. */
function answeredVersion(message: JSONRPCMessage): string | undefined {
	if (!("result" in message)) return undefined;
	const result = message.result as {
		protocolVersion?: unknown;
		serverInfo?: unknown;
	};
	return typeof result.protocolVersion === "string" && result.serverInfo
		? result.protocolVersion
		: undefined;
}

/** Resolves once everything written to stdout so far has been handed to the OS. */
function flushStdout(): Promise<void> {
	return new Promise((resolve, reject) => {
		process.stdout.write("", (err) => (err ? reject(err) : resolve()));
	});
}
