/**
 * Connections that never say hello (server/pre-hello.ts): the pool's rules as units, then thousands of real
 * sockets (hand-written upgrades over raw TCP that never send a frame) against real hub processes: a
 * client with the token at the upgrade always gets in while the pool is full, a client with the token in
 * hello gets in too, and on a loopback hub without a token a well-behaved client gets in on its first try
 * under a flood that reconnects as fast as it is evicted. Plus the deadlines, on an in-process hub.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { CloseCode } from "../server/errors.js";
import { Hub, HubConfigError } from "../server/hub.js";
import { addressKey, LOOPBACK_KEY, type PoolMember, PreHelloPool } from "../server/pre-hello.js";
import { createStore } from "../server/store/index.js";
import { RawClient, startHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI, freePort, portOpen, waitFor } from "./fixtures/processes.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

// ----- the pool ----------------------------------------------------------------------------------------

class Member implements PoolMember {
	busy = false;
	constructor(readonly name: string) {}
}

function pool(maxTotal: number, maxPerAddress: number) {
	const evicted: string[] = [];
	const queue: Array<() => void> = [];
	const p = new PreHelloPool<Member>({ maxTotal, maxPerAddress, onEvict: (m) => evicted.push(m.name), schedule: (fn) => queue.push(fn) });
	/** Runs the sweeps scheduled so far: one event-loop turn. */
	const turn = () => {
		for (const fn of queue.splice(0)) fn();
	};
	return { p, evicted, turn, scheduled: () => queue.length };
}

describe("the pre-hello pool (server/pre-hello.ts)", () => {
	it("counts peers by IPv4 address, IPv6 /64, and all loopback peers as one", () => {
		expect(addressKey("192.0.2.7")).toBe("192.0.2.7");
		expect(addressKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
		expect(addressKey("2001:db8:1:2::5")).toBe(addressKey("2001:db8:1:2:ffff:ffff:ffff:1"));
		expect(addressKey("2001:db8:1:2::5")).toBe("2001:db8:1:2::/64");
		expect(addressKey("2001:db8:1:3::5")).not.toBe(addressKey("2001:db8:1:2::5"));
		expect(addressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
		for (const lo of ["127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"]) expect(addressKey(lo), lo).toBe(LOOPBACK_KEY);
		expect(addressKey(undefined)).toBe("?");
	});

	it("never refuses a newcomer: past the total it evicts the oldest, sparing whoever arrived since the last sweep", () => {
		const { p, evicted, turn } = pool(3, 10);
		const m = Array.from({ length: 5 }, (_, i) => new Member(`m${i}`));
		for (const x of m) p.add(x, "192.0.2.1");
		expect(p.size).toBe(5);
		// The first sweep after they arrived spares them all (none has had a full turn yet)...
		turn();
		expect(evicted).toEqual([]);
		// ...the next evicts the oldest.
		turn();
		expect(evicted).toEqual(["m0", "m1"]);
		expect(p.size).toBe(3);
		// Newcomers during a flood: each sweep evicts members that arrived before the previous one.
		const n5 = new Member("n5");
		p.add(n5, "192.0.2.1");
		turn();
		expect(evicted).toEqual(["m0", "m1", "m2"]);
		expect(p.has(n5)).toBe(true);
	});

	it("evicts a peer's own oldest past its share, never another peer's; loopback peers share the total only", () => {
		const { p, evicted, turn } = pool(100, 2);
		const a = [new Member("a0"), new Member("a1"), new Member("a2"), new Member("a3")];
		const b = new Member("b0");
		p.add(b, "192.0.2.2");
		for (const x of a) p.add(x, "192.0.2.1");
		const lo = Array.from({ length: 10 }, (_, i) => new Member(`lo${i}`));
		for (const x of lo) p.add(x, LOOPBACK_KEY);
		turn();
		turn();
		expect(evicted).toEqual(["a0", "a1"]);
		expect(p.countFrom("192.0.2.1")).toBe(2);
		expect(p.countFrom("192.0.2.2")).toBe(1);
		expect(p.countFrom(LOOPBACK_KEY)).toBe(10);
	});

	it("does not evict a member whose frame (its hello) is being handled, and tries again next turn", () => {
		const { p, evicted, turn, scheduled } = pool(1, 10);
		const slow = new Member("slow");
		const idle = new Member("idle");
		p.add(slow, "192.0.2.1");
		turn();
		slow.busy = true;
		p.add(idle, "192.0.2.1");
		turn();
		turn();
		expect(evicted).toEqual(["idle"]);
		const next = new Member("next");
		p.add(next, "192.0.2.1");
		next.busy = true;
		turn();
		turn();
		// Both busy: nobody to evict, the pool stays over until one settles.
		expect(evicted).toEqual(["idle"]);
		expect(scheduled()).toBe(1);
		slow.busy = false;
		turn();
		expect(evicted).toEqual(["idle", "slow"]);
	});

	it("evictOldest (the connection cap) takes the oldest idle member at once; remove is idempotent", () => {
		const { p } = pool(10, 10);
		const x = new Member("x");
		const y = new Member("y");
		p.add(x, "192.0.2.1");
		p.add(y, "192.0.2.1");
		x.busy = true;
		expect(p.evictOldest()?.name).toBe("y");
		expect(p.evictOldest()).toBeUndefined();
		p.remove(x);
		p.remove(x);
		expect(p.size).toBe(0);
		expect(p.countFrom("192.0.2.1")).toBe(0);
	});

	it("the hub refuses nonsense bounds", () => {
		expect(() => new Hub({ port: 0, maxPreHello: 0 }, { store: createStore(":memory:") })).toThrow(HubConfigError);
		expect(() => new Hub({ port: 0, preHelloTimeoutMs: Number.NaN }, { store: createStore(":memory:") })).toThrow(/--pre-hello-timeout/);
	});
});

// ----- raw sockets against real hubs -------------------------------------------------------------------

function upgradeRequest(port: number, path = "/"): string {
	return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
}

/**
 * Sockets that upgrade and then never send a frame. `reconnect`: each one that the hub closes is opened
 * again at once (a flood that keeps the pool under pressure); otherwise they stay closed.
 */
class Flood {
	readonly sockets = new Set<Socket>();
	upgraded = 0;
	refused = 0;
	closed = 0;
	#stopped = false;

	constructor(
		readonly port: number,
		readonly host: string,
		readonly reconnect: boolean,
	) {}

	open(n: number): void {
		for (let i = 0; i < n; i++) this.#one();
	}

	#one(): void {
		if (this.#stopped) return;
		const s = connect({ port: this.port, host: this.host });
		this.sockets.add(s);
		let seen = false;
		s.on("connect", () => s.write(upgradeRequest(this.port)));
		s.on("data", (d) => {
			if (seen) return;
			seen = true;
			if (String(d).startsWith("HTTP/1.1 101")) this.upgraded++;
			else this.refused++;
		});
		s.on("error", () => undefined);
		s.on("close", () => {
			this.sockets.delete(s);
			this.closed++;
			if (this.reconnect) setImmediate(() => this.#one());
		});
	}

	stop(): void {
		this.#stopped = true;
		for (const s of this.sockets) s.destroy();
	}
}

async function spawnHubProcess(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
	assertBuilt();
	const port = await freePort();
	const { dir, cleanup } = tempDir();
	// Only what the hub needs: the caller's RELAY_* variables must not reach it.
	const child = spawn(process.execPath, [CLI, "hub", String(port), "--db", ":memory:", "--log-level", "error", ...args], {
		env: { PATH: process.env.PATH ?? "", HOME: dir, RELAY_HOME: dir, ...env },
		stdio: ["ignore", "ignore", "pipe"],
	});
	let stderr = "";
	child.stderr?.on("data", (d) => {
		stderr += String(d);
	});
	cleanups.push(async () => {
		if (child.exitCode === null) {
			const gone = new Promise((r) => child.once("exit", r));
			child.kill("SIGKILL");
			await gone;
		}
		cleanup();
	});
	await waitFor(
		async () => {
			if (child.exitCode !== null) throw new Error(`hub exited: ${stderr}`);
			return portOpen(port);
		},
		15_000,
		"the hub to listen",
	);
	return { child, port };
}

async function health(port: number): Promise<{ connections: number; preHello: number; sessionsOnline: number }> {
	return (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { connections: number; preHello: number; sessionsOnline: number };
}

/** Connects, says hello the moment the socket opens (as our clients do), and reports how it went. No retries. */
function helloOnce(url: string, hello: Record<string, unknown>, opts: ConstructorParameters<typeof RawClient>[1] = {}): Promise<string> {
	return new Promise((resolve) => {
		const r = new RawClient(url, opts);
		const done = (what: string) => {
			r.close();
			resolve(what);
		};
		r.ws.on("open", () => r.sendRaw(JSON.stringify({ type: "hello", id: "h", ...hello })));
		r.ws.on("message", () => {
			const f = r.frames.find((x) => x.id === "h");
			if (f) done(String(f.type));
		});
		r.ws.on("close", (code) => done(`closed ${code}`));
		r.ws.on("unexpected-response", (_req, res) => done(`http ${res.statusCode}`));
		r.ws.on("error", (err) => done(`error ${err.message}`));
	});
}

const TOKEN = "pre-hello-test-token-0123456789";

describe("thousands of sockets that never say hello", () => {
	it("a token hub: clients with the token at the upgrade always get in while the pool is full; the token in hello gets in too", async () => {
		const { port } = await spawnHubProcess(["--max-connections", "2000", "--pre-hello-timeout", "120000"], { RELAY_TOKEN: TOKEN });
		const flood = new Flood(port, "127.0.0.1", false);
		cleanups.push(() => flood.stop());
		flood.open(3_000);
		await waitFor(() => flood.upgraded + flood.refused === 3_000, 60_000, "every flood socket to be answered");
		expect(flood.refused).toBe(0);
		await waitFor(async () => (await health(port)).preHello <= 1_024, 10_000, "the pool to settle at its bound");
		const full = await health(port);
		expect(full.preHello).toBe(1_024);
		expect(flood.sockets.size).toBe(1_024);

		const outcomes: string[] = [];
		for (let i = 0; i < 25; i++) {
			const viaQuery = i % 2 === 0;
			const url = viaQuery ? `ws://127.0.0.1:${port}/?token=${TOKEN}` : `ws://127.0.0.1:${port}/`;
			outcomes.push(await helloOnce(url, { session: `Authed${i}` }, viaQuery ? {} : { headers: { authorization: `Bearer ${TOKEN}` } }));
		}
		expect(outcomes).toEqual(Array(25).fill("result"));
		// They were never in the pool: it is as full as before, nobody was evicted for them.
		expect((await health(port)).preHello).toBe(1_024);
		expect(flood.sockets.size).toBe(1_024);

		// A client that brings the token only in hello starts in the pool: with it full, the oldest makes room.
		expect(await helloOnce(`ws://127.0.0.1:${port}/`, { session: "InHello", token: TOKEN })).toBe("result");
		flood.stop();
		await waitFor(async () => (await health(port)).preHello === 0, 10_000, "the flood to be gone");
		expect(await helloOnce(`ws://127.0.0.1:${port}/`, { session: "InHello2", token: TOKEN })).toBe("result");
	});

	it("a loopback hub without a token: a well-behaved client gets in on its first try under a flood that reconnects as fast as it is evicted", async () => {
		const { port } = await spawnHubProcess(["--max-connections", "2000", "--pre-hello-timeout", "120000"]);
		const flood = new Flood(port, "127.0.0.1", true);
		cleanups.push(() => flood.stop());
		flood.open(3_000);
		// The pool is full and churning: evictions are happening and the flood keeps coming back.
		await waitFor(() => flood.closed > 3_000, 60_000, "the flood to be churning");
		const outcomes: string[] = [];
		for (let i = 0; i < 25; i++) outcomes.push(await helloOnce(`ws://127.0.0.1:${port}/`, { session: `Good${i}` }));
		const churned = flood.closed;
		expect(outcomes).toEqual(Array(25).fill("result"));
		expect(churned).toBeGreaterThan(3_000);
		const h = await health(port);
		expect(h.connections).toBeLessThanOrEqual(2_000);
		flood.stop();
	});

	const lan = Object.values(networkInterfaces())
		.flat()
		.find((a) => a && a.family === "IPv4" && !a.internal)?.address;
	it.skipIf(!lan)(`one non-loopback peer holds at most its share of the pool${lan ? "" : " (skipped: no non-loopback IPv4 interface)"}`, async () => {
		const { port } = await spawnHubProcess(["--host", "0.0.0.0", "--pre-hello-timeout", "120000", "--max-pre-hello-per-address", "100"], { RELAY_TOKEN: TOKEN });
		const remote = new Flood(port, lan as string, false);
		const local = new Flood(port, "127.0.0.1", false);
		cleanups.push(() => remote.stop());
		cleanups.push(() => local.stop());
		remote.open(400);
		local.open(300);
		await waitFor(() => remote.upgraded + remote.refused === 400 && local.upgraded + local.refused === 300, 30_000, "every socket to be answered");
		await waitFor(() => remote.sockets.size === 100, 10_000, "the remote peer's share to settle");
		// Loopback peers are counted in the total only.
		expect(local.sockets.size).toBe(300);
		expect((await health(port)).preHello).toBe(400);
	});
});

describe("deadlines", () => {
	it("a pre-hello socket has preHelloTimeoutMs; one with the token at the upgrade has helloTimeoutMs", async () => {
		const { hub, url } = await startHub({ token: TOKEN, preHelloTimeoutMs: 300, helloTimeoutMs: 60_000 });
		cleanups.push(() => hub.close());
		const pre = new RawClient(url);
		const authed = new RawClient(`${url}/?token=${TOKEN}`);
		cleanups.push(() => pre.close());
		cleanups.push(() => authed.close());
		await Promise.all([pre.opened(), authed.opened()]);
		expect((await pre.waitClosed(5_000)).code).toBe(CloseCode.HELLO_TIMEOUT);
		expect(authed.closed).toBeNull();
		expect((await authed.request({ type: "hello", session: "Late" })).type).toBe("result");
	});

	it("a hello still being handled at the deadline (a liveness probe) is let finish", async () => {
		const { hub, url } = await startHub({ preHelloTimeoutMs: 300, livenessProbeMs: 1_000 });
		cleanups.push(() => hub.close());
		// A holder that stopped answering pings: claiming its ID waits out the probe, past the deadline.
		const holder = new RawClient(url, { autoPong: false });
		cleanups.push(() => holder.close());
		await holder.opened();
		const first = await holder.request({ type: "hello", session: "Taken" });
		const secret = (first.result as { secret: string }).secret;
		const next = new RawClient(url);
		cleanups.push(() => next.close());
		await next.opened();
		const answer = await next.request({ type: "hello", session: "Taken", secret }, 5_000);
		expect(answer.type).toBe("result");
		expect(next.closed).toBeNull();
	});

	it("a peer that connects and sends nothing is cut after the pre-hello deadline, not Node's 60 s", async () => {
		const { hub, port } = await startHub({ preHelloTimeoutMs: 1_000 });
		cleanups.push(() => hub.close());
		const s = connect({ port, host: "127.0.0.1" });
		cleanups.push(() => {
			s.destroy();
		});
		s.on("error", () => undefined);
		let closed = false;
		s.on("close", () => {
			closed = true;
		});
		s.resume();
		await waitFor(() => closed, 10_000, "the silent socket to be closed");
	});
});
