/**
 * A real redis-server on loopback, for the tests (test/fixtures/redis.ts) and the multi-hub bench: started
 * on a given or free port with no RDB snapshots, ready once it answers PING, stopped or killed on demand.
 * REDIS_SERVER names another binary than the one on PATH.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createConnection, createServer } from "node:net";

export const REDIS_SERVER = process.env.REDIS_SERVER ?? "redis-server";

export interface RedisServerOptions {
	port?: number;
	/** AOF into this directory, fsynced `always` or `everysec`; absent: no persistence at all. */
	aof?: { dir: string; fsync: "always" | "everysec" };
	env?: NodeJS.ProcessEnv;
}

export interface RedisServer {
	url: string;
	port: number;
	/** Graceful stop (SIGTERM); resolves when the process has exited. */
	stop: () => Promise<void>;
	/** SIGKILL: a crash. */
	kill: () => Promise<void>;
}

export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const srv = createServer();
		srv.once("error", reject);
		srv.listen(0, "127.0.0.1", () => {
			const { port } = srv.address() as { port: number };
			srv.close(() => resolve(port));
		});
	});
}

/** True once the server answers PING with +PONG. */
function pong(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const sock = createConnection({ port, host: "127.0.0.1" });
		const done = (ok: boolean) => {
			sock.destroy();
			resolve(ok);
		};
		sock.setTimeout(500, () => done(false));
		sock.once("error", () => done(false));
		sock.once("connect", () => sock.write("PING\r\n"));
		sock.once("data", (d) => done(d.toString().startsWith("+PONG")));
	});
}

function exited(proc: ChildProcess): Promise<void> {
	if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
	return new Promise((resolve) => proc.once("exit", () => resolve()));
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
	if (options.port !== undefined) return launch(options.port, options);
	// A free port can be taken between our probe and redis binding it: try another.
	for (let attempt = 1; ; attempt++) {
		try {
			return await launch(await freePort(), options);
		} catch (err) {
			if (attempt === 3) throw err;
		}
	}
}

async function launch(port: number, options: RedisServerOptions): Promise<RedisServer> {
	const persistence = options.aof
		? ["--appendonly", "yes", "--appendfsync", options.aof.fsync, "--dir", options.aof.dir]
		: ["--appendonly", "no"];
	const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no", ...persistence];
	const proc = spawn(REDIS_SERVER, args, { stdio: ["ignore", "pipe", "pipe"], ...(options.env ? { env: options.env } : {}) });
	let output = "";
	proc.stdout?.on("data", (d) => {
		output = (output + d).slice(-4000);
	});
	proc.stderr?.on("data", (d) => {
		output = (output + d).slice(-4000);
	});
	const deadline = Date.now() + 10_000;
	while (!(await pong(port))) {
		if (proc.exitCode !== null || Date.now() > deadline) {
			proc.kill("SIGKILL");
			throw new Error(`redis-server did not start on port ${port}:\n${output}`);
		}
		await new Promise((r) => setTimeout(r, 25));
	}
	const signal = (sig: NodeJS.Signals) => async () => {
		proc.kill(sig);
		await exited(proc);
	};
	return { url: `redis://127.0.0.1:${port}`, port, stop: signal("SIGTERM"), kill: signal("SIGKILL") };
}
