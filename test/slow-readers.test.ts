/**
 * What a reader that stops reading costs the hub: at most the high-water mark (sendBufferHighBytes) plus
 * one frame of pushes, for a backlog replayed from the store and for live pushes alike. Real ws clients
 * whose sockets are paused after hello; the hub's per-connection send buffers sampled while it replays,
 * and the RSS of a real hub process with many such readers.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULTS } from "../server/defaults.js";
import type { Message } from "../server/protocol.js";
import { RawClient, startHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI, freePort, portOpen, waitFor } from "./fixtures/processes.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

const BODY = "x".repeat(60 * 1024);
const MARK = DEFAULTS.sendBufferHighBytes;
/**
 * Frames that are not message pushes are never held back (docs/PROTOCOL.md): here the hello answer, which
 * lists the peers online, and a peer_joined for each reader or sender that joins later, well under 16 KiB
 * for these 20 readers. Far below one more 60 KiB message frame, so a push past the mark still fails.
 */
const OTHER_FRAMES = 16 * 1024;

function raw(url: string): RawClient {
	const r = new RawClient(url);
	cleanups.push(() => r.close());
	return r;
}

/** Claims `id` once (so broadcasts queue for it) and returns its secret. */
async function claim(url: string, id: string): Promise<string> {
	const r = new RawClient(url);
	await r.opened();
	const res = await r.request({ type: "hello", session: id }, 10_000);
	r.close();
	return (res.result as { secret: string }).secret;
}

/** Connects as `id`, says hello and stops reading at once: not even the hello result is read. */
function pausedReader(url: string, id: string, secret: string): RawClient {
	const r = raw(url);
	r.ws.once("open", () => {
		r.sendRaw(JSON.stringify({ type: "hello", id: "h", session: id, secret }));
		(r.ws as unknown as { _socket: { pause(): void } })._socket.pause();
	});
	return r;
}

async function sender(url: string): Promise<RawClient> {
	const s = raw(url);
	await s.opened();
	await s.request({ type: "hello", session: "Sender" });
	return s;
}

/** Broadcasts `n` bodies of 60 KiB; returns the largest `message` frame they make. */
async function broadcast(s: RawClient, n: number): Promise<number> {
	let largest = 0;
	for (let i = 0; i < n; i++) {
		const res = await s.request({ type: "send", to: "*", body: `${i} ${BODY}` }, 10_000);
		const message = (res.result as { message: Message }).message;
		largest = Math.max(largest, JSON.stringify({ type: "message", message }).length);
	}
	return largest;
}

describe("a paused reader costs the hub at most the high-water mark plus one frame", () => {
	it("replaying a big backlog: every connection's send buffer stays under the bound while it runs", async () => {
		const { hub, url } = await startHub({ slowConsumerMs: 120_000, heartbeatMs: 120_000 });
		cleanups.push(() => hub.close());
		const N = 20;
		const ids = Array.from({ length: N }, (_, i) => `Paused${i}`);
		const secrets = await Promise.all(ids.map((id) => claim(url, id)));
		const maxFrame = await broadcast(await sender(url), 200);

		let peak = 0;
		const sample = () => {
			for (const c of hub.connections) if (c.session?.session.startsWith("Paused")) peak = Math.max(peak, c.ws.bufferedAmount);
		};
		const timer = setInterval(sample, 2);
		try {
			for (const [i, id] of ids.entries()) pausedReader(url, id, secrets[i] as string);
			// Every reader's buffer went over the mark: its kernel buffers are full and the pump is waiting.
			const stalled = () => [...hub.connections].filter((c) => c.session?.session.startsWith("Paused") && c.slowSince !== 0).length;
			await waitFor(
				() => {
					sample();
					return stalled() === N;
				},
				20_000,
				"every paused reader to stall",
			);
			await new Promise((r) => setTimeout(r, 300));
			sample();
		} finally {
			clearInterval(timer);
		}
		expect(peak).toBeGreaterThan(MARK);
		expect(peak).toBeLessThanOrEqual(MARK + maxFrame + OTHER_FRAMES);
	});

	it("live pushes to a reader that stopped reading after catching up are bounded the same way", async () => {
		const { hub, url } = await startHub({ slowConsumerMs: 120_000, heartbeatMs: 120_000 });
		cleanups.push(() => hub.close());
		const N = 10;
		const readers: RawClient[] = [];
		for (let i = 0; i < N; i++) {
			const r = raw(url);
			await r.opened();
			await r.request({ type: "hello", session: `Live${i}` });
			readers.push(r);
		}
		// Nothing waited for them: each is live. Now they stop reading.
		for (const r of readers) (r.ws as unknown as { _socket: { pause(): void } })._socket.pause();
		let peak = 0;
		const sample = () => {
			for (const c of hub.connections) if (c.session?.session.startsWith("Live")) peak = Math.max(peak, c.ws.bufferedAmount);
		};
		const timer = setInterval(sample, 2);
		let maxFrame: number;
		try {
			maxFrame = await broadcast(await sender(url), 200);
			const stalled = () => [...hub.connections].filter((c) => c.session?.session.startsWith("Live") && c.slowSince !== 0).length;
			await waitFor(
				() => {
					sample();
					return stalled() === N;
				},
				20_000,
				"every paused reader to stall",
			);
			sample();
		} finally {
			clearInterval(timer);
		}
		expect(peak).toBeGreaterThan(MARK);
		expect(peak).toBeLessThanOrEqual(MARK + maxFrame + OTHER_FRAMES);
	});
});

// ----- the memory of a real hub process -------------------------------------------------------------------

function rssOf(pid: number): number {
	try {
		const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
		if (m) return Number(m[1]) * 1024;
	} catch {
		// not Linux
	}
	return Number(execFileSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" }).trim()) * 1024;
}

async function spawnHubProcess(dir: string): Promise<{ child: ChildProcess; url: string }> {
	assertBuilt();
	const port = await freePort();
	// Only what the hub needs: the caller's RELAY_* variables must not reach it.
	const env = { PATH: process.env.PATH ?? "", HOME: dir, RELAY_HOME: dir };
	const args = [CLI, "hub", String(port), "--db", join(dir, "relay.db"), "--log-level", "warn", "--rate-limit", "100000", "--rate-burst", "100000", "--retention-days", "0", "--broadcast-deliveries-per-second", "0", "--new-sessions-per-minute", "0"];
	const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
	let stderr = "";
	child.stderr?.on("data", (d) => {
		stderr += String(d);
	});
	cleanups.push(async () => {
		if (child.exitCode !== null) return;
		const gone = new Promise((r) => child.once("exit", r));
		child.kill("SIGKILL");
		await gone;
	});
	await waitFor(
		async () => {
			if (child.exitCode !== null) throw new Error(`hub exited: ${stderr}`);
			return portOpen(port);
		},
		15_000,
		"the hub to listen",
	);
	return { child, url: `ws://127.0.0.1:${port}` };
}

describe("the hub process", () => {
	it("40 paused readers with a 200 × 60 KiB backlog grow its RSS by about readers × (mark + frame), not readers × backlog", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const { child, url } = await spawnHubProcess(dir);
		const pid = child.pid as number;
		const N = 40;
		const ids = Array.from({ length: N }, (_, i) => `Paused${i}`);
		const secrets: string[] = [];
		for (const id of ids) secrets.push(await claim(url, id));
		const maxFrame = await broadcast(await sender(url), 200);
		const before = rssOf(pid);

		for (const [i, id] of ids.entries()) pausedReader(url, id, secrets[i] as string);
		// The highest RSS seen until it stops moving (1% over a second), or 15 s.
		let peak = rssOf(pid);
		let last = peak;
		const deadline = Date.now() + 15_000;
		for (let quiet = 0; quiet < 5 && Date.now() < deadline; ) {
			await new Promise((r) => setTimeout(r, 200));
			const now = rssOf(pid);
			peak = Math.max(peak, now);
			quiet = Math.abs(now - last) < last * 0.01 ? quiet + 1 : 0;
			last = now;
		}
		const growth = peak - before;
		const bound = N * (MARK + maxFrame);
		process.stderr.write(
			`[slow-readers] hub RSS ${(before / 2 ** 20).toFixed(0)} → peak ${(peak / 2 ** 20).toFixed(0)} MiB with ${N} paused readers: ` +
				`${(growth / N / 2 ** 20).toFixed(2)} MiB each (bound ${((MARK + maxFrame) / 2 ** 20).toFixed(2)} MiB; the backlog is ${((200 * maxFrame) / 2 ** 20).toFixed(1)} MiB)\n`,
		);
		// Generous: twice the bound plus 64 MiB for the heap's own growth. Writing whole pages cost ~12 MiB each.
		expect(growth).toBeLessThan(2 * bound + 64 * 2 ** 20);
	});
});
