/**
 * Starts a hub from CLI arguments: resolves the database and token, refuses unsafe configurations with a
 * clear sentence, prints where it listens and how to connect, and shuts down gracefully on SIGINT/SIGTERM.
 */
import { mkdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { RedisDirectory } from "./directory-redis.js";
import { RedisFanout } from "./fanout-redis.js";
import { type HubArgs, splitList } from "./hub-command.js";
import { Hub, HubConfigError } from "./hub.js";
import { createLogger, type LogLevel } from "./logger.js";
import { paths, relayHome } from "./paths.js";
import { createStore, MIN_WAL_MAX_BYTES, RedisStore } from "./store/index.js";
import { redactRedisUrl } from "./store/redis.js";
import { VERSION } from "./version.js";

function fail(message: string): never {
	process.stderr.write(`claude-relay hub: ${message}\n`);
	process.exit(2);
}

export function loadToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
	if (tokenFile) {
		let text: string;
		try {
			text = readFileSync(tokenFile, "utf8");
		} catch (err) {
			fail(`cannot read token file ${tokenFile}: ${(err as Error).message}`);
		}
		if (process.platform !== "win32" && (statSync(tokenFile).mode & 0o077) !== 0) {
			process.stderr.write(`claude-relay hub: warning: ${tokenFile} is readable by other users; chmod 600 it.\n`);
		}
		const token = text.trim();
		if (!token) fail(`token file ${tokenFile} is empty`);
		return token;
	}
	const fromEnv = env.RELAY_TOKEN?.trim();
	return fromEnv ? fromEnv : undefined;
}

/**
 * How to run this very CLI: `claude-relay` when that is on PATH and is this copy (npm link), else
 * `node <this cli.js>`, so that what the banner suggests works as pasted.
 */
export function selfCommand(env: NodeJS.ProcessEnv = process.env, script = process.argv[1]): string {
	if (!script) return "claude-relay";
	let self: string;
	try {
		self = realpathSync(script);
	} catch {
		return "claude-relay";
	}
	for (const dir of (env.PATH ?? "").split(delimiter)) {
		if (!dir) continue;
		try {
			if (realpathSync(join(dir, "claude-relay")) === self) return "claude-relay";
		} catch {
			// not there
		}
	}
	return `node ${self}`;
}

/** The banner's token lines: whether clients need one, and where they read it from. */
export function tokenLines(token: string | undefined, tokenFile: string | undefined, home: string): string[] {
	if (!token) return ["  token      none (loopback only)"];
	const own = paths.tokenFile(home);
	const from = tokenFile ? tokenFile : "RELAY_TOKEN";
	const shared = tokenFile && resolve(tokenFile) === resolve(own);
	return [
		`  token      required (from ${from}): every client must present it`,
		shared
			? `             clients with this RELAY_HOME read it from ${own} already`
			: `             give clients RELAY_TOKEN, --token-file FILE, or put it in their $RELAY_HOME/token (here: ${own})`,
	];
}

/** The banner's connect lines: `claude-relay install` (bridge and hooks), with --url for another port. */
export function connectLines(port: number, self = selfCommand()): string[] {
	const url = port === 9999 ? "" : ` --url ws://localhost:${port}`;
	return [
		`  connect    ${self} install${url}   (registers the bridge and the hooks with Claude Code)`,
		...(url ? ["             (clients default to ws://localhost:9999: give them RELAY_URL or --url for this port)"] : []),
	];
}

export async function runHub(args: HubArgs): Promise<void> {
	const home = relayHome();
	const dbSpec = args.db ?? paths.database(home);
	const token = loadToken(args.tokenFile);
	const log = createLogger({ level: args.logLevel as LogLevel, name: "hub" });
	if (!Number.isSafeInteger(args.walMaxBytes) || args.walMaxBytes < MIN_WAL_MAX_BYTES) {
		fail(`--wal-max-bytes must be a whole number of bytes, at least ${MIN_WAL_MAX_BYTES} (1 MiB); got ${args.walMaxBytes}.`);
	}
	if (!Number.isSafeInteger(args.maxSubscriptions) || args.maxSubscriptions < 1) {
		fail(`--max-subscriptions must be a whole number, at least 1; got ${args.maxSubscriptions}.`);
	}
	const store = createStore(dbSpec, { synchronous: args.sync, walMaxBytes: args.walMaxBytes });
	if (store.kind === "sqlite") mkdirSync(dirname(dbSpec), { recursive: true, mode: 0o700 });
	// Hubs sharing a Redis store must also share fan-out, so a message committed on one is pushed by all.
	const fanout =
		store instanceof RedisStore
			? new RedisFanout({ url: store.url, prefix: store.prefix, onError: (err) => log.warn({ err }, "fan-out event dropped") })
			: undefined;
	// ...and the directory, so that presence (who holds which ID, on which hub) is one truth across them.
	const directory = store instanceof RedisStore ? new RedisDirectory({ url: store.url, prefix: store.prefix, heartbeatMs: args.heartbeat, log }) : undefined;

	let hub: Hub;
	try {
		hub = new Hub(
			{
				host: args.host,
				port: args.port,
				token,
				allowOrigins: splitList(args.allowOrigin),
				allowHosts: splitList(args.allowHost),
				maxBodyBytes: args.maxBody,
				maxFrameBytes: args.maxFrame,
				maxConnections: args.maxConnections,
				maxPreHello: args.maxPreHello,
				maxPreHelloPerAddress: args.maxPreHelloPerAddress,
				preHelloTimeoutMs: args.preHelloTimeout,
				rateLimitPerSecond: args.rateLimit,
				rateLimitBurst: args.rateBurst,
				heartbeatMs: args.heartbeat,
				turnBudgetMs: args.turnBudget,
				acceptWindow: args.acceptWindow,
				retentionDays: args.retentionDays,
				retentionMaxMessages: args.retentionMaxMessages,
				maxSessionsPerRoom: args.maxSessionsPerRoom,
				newSessionsPerMinute: args.newSessionsPerMinute,
				broadcastDeliveriesPerSecond: args.broadcastDeliveriesPerSecond,
				forgetAfterDays: args.forgetAfterDays,
				stateMaxKeys: args.stateMaxKeys,
				stateMaxRoomBytes: args.stateMaxRoomBytes,
				maxWatches: args.maxWatches,
				claimDefaultTtlSeconds: args.claimTtl,
				claimMaxTtlSeconds: args.claimMaxTtl,
				claimMaxPerSession: args.claimMaxPerSession,
				claimMaxPerRepo: args.claimMaxPerRepo,
				maxSubscriptionsPerSession: args.maxSubscriptions,
				operatorName: args.operatorName,
				metricsPublic: args.metricsPublic,
				maxViewers: args.maxViewers,
			},
			{ store, fanout, directory, log },
		);
	} catch (err) {
		if (err instanceof HubConfigError) fail(err.message);
		throw err;
	}

	let address: Awaited<ReturnType<Hub["listen"]>>;
	try {
		address = await hub.listen();
	} catch (err) {
		const e = err as NodeJS.ErrnoException;
		if (e.code === "EADDRINUSE") fail(`port ${args.port} on ${args.host} is in use: is a hub (or an SSH tunnel) already running there? Try \`curl http://127.0.0.1:${args.port}/healthz\`, or pick another port.`);
		if (e.code === "EACCES") fail(`not allowed to listen on ${args.host}:${args.port}.`);
		fail(`cannot start: ${e.message}`);
	}

	const lines = [
		`claude-relay hub ${VERSION}`,
		`  listening  ${address.url}   (health: http://${address.url.slice(5)}/healthz)`,
		`  dashboard  http://${address.url.slice(5)}/   (metrics: /metrics${token ? (args.metricsPublic ? ", public" : ", token required") : ""})`,
		`  data       ${dbSpec === ":memory:" ? "in memory (nothing is kept after exit)" : store instanceof RedisStore ? redactRedisUrl(dbSpec) : dbSpec} [${store.kind}]`,
		...(store instanceof RedisStore ? store.warnings.map((w) => `  warning    ${w}`) : []),
		...(directory ? [`  hub id     ${directory.hubId} (presence shared with every hub on this Redis: ${hub.presence.directory.stats.hubs} now)`] : []),
		...tokenLines(token, args.tokenFile, home),
		...connectLines(address.port),
		"  stop       Ctrl-C",
		"",
	];
	process.stdout.write(lines.join("\n"));

	let stopping = false;
	const stop = (signal: string) => {
		if (stopping) {
			process.stderr.write("claude-relay hub: second signal, exiting now\n");
			process.exit(1);
		}
		stopping = true;
		log.info({ signal }, "shutting down");
		hub.close().then(
			() => {
				log.flush?.();
				process.exit(0);
			},
			(err) => {
				log.error({ err }, "shutdown failed");
				process.exit(1);
			},
		);
	};
	process.on("SIGINT", () => stop("SIGINT"));
	process.on("SIGTERM", () => stop("SIGTERM"));
}
