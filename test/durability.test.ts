/**
 * A hub process killed with SIGKILL and restarted on the same SQLite file has every message it
 * acknowledged, and replays the unacked ones to their recipient, in order, exactly once after dedupe.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { HubClient } from "../mcp-client/hub-client.js";
import type { Message } from "../server/protocol.js";
import { memorySecrets, tempDir } from "./fixtures/hub.js";
import { freePort, spawnHub, waitFor } from "./fixtures/processes.js";

const children: ChildProcess[] = [];
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
	for (const c of children.splice(0)) c.kill("SIGKILL");
	while (cleanups.length) await cleanups.pop()?.();
});

describe("durability across a SIGKILL of the hub", () => {
	it("restarted on the same database, it still has every acknowledged send", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const db = join(dir, "relay.db");
		const port = await freePort();
		const url = `ws://127.0.0.1:${port}`;
		const hub1 = await spawnHub(port, ["--db", db]);
		children.push(hub1);

		const bSecrets = memorySecrets();
		const b = new HubClient({ url, session: "B", secrets: bSecrets, keepaliveMs: 0, minReconnectDelayMs: 50 });
		await b.waitReady();
		await b.close();
		const a = new HubClient({ url, session: "A", secrets: memorySecrets(), keepaliveMs: 0, minReconnectDelayMs: 50 });
		cleanups.push(() => a.close({ bye: false }));
		await a.waitReady();

		// Pipelined: 500 sends in flight at once; each acknowledgement means "committed".
		const acked = await Promise.all(Array.from({ length: 500 }, (_, i) => a.send("B", `durable ${i}`)));
		hub1.kill("SIGKILL");
		await waitFor(() => hub1.exitCode !== null || hub1.signalCode !== null, 5_000, "hub exit");

		const hub2 = await spawnHub(port, ["--db", db]);
		children.push(hub2);
		const b2 = new HubClient({ url, session: "B", secrets: bSecrets, keepaliveMs: 0 });
		cleanups.push(() => b2.close({ bye: false }));
		const got: Message[] = [];
		b2.on("message", (m) => got.push(m));
		const hello = await b2.waitReady();
		expect(hello.pending).toBe(500);
		await waitFor(() => got.length >= 500, 10_000, "replay");
		expect(got.map((m) => m.id)).toEqual(acked.map((r) => r.message.id));
		expect(got.map((m) => m.body)).toEqual(Array.from({ length: 500 }, (_, i) => `durable ${i}`));
	});

	it("subscriptions survive a SIGKILL: after the restart a topic send still reaches every subscriber", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const db = join(dir, "relay.db");
		const port = await freePort();
		const url = `ws://127.0.0.1:${port}`;
		const hub1 = await spawnHub(port, ["--db", db]);
		children.push(hub1);
		const secrets = { B: memorySecrets(), C: memorySecrets(), D: memorySecrets() };
		for (const [id, topic] of [
			["B", "shop:api"],
			["C", "shop:api"],
			["D", "build.ci"],
		] as const) {
			const c = new HubClient({ url, session: id, secrets: secrets[id], keepaliveMs: 0 });
			await c.waitReady();
			expect((await c.request("subscribe", { topic })).changed).toBe(true);
			await c.close();
		}
		hub1.kill("SIGKILL");
		await waitFor(() => hub1.exitCode !== null || hub1.signalCode !== null, 5_000, "hub exit");

		const hub2 = await spawnHub(port, ["--db", db]);
		children.push(hub2);
		const a = new HubClient({ url, session: "A", secrets: memorySecrets(), keepaliveMs: 0 });
		cleanups.push(() => a.close({ bye: false }));
		await a.waitReady();
		const sent = await a.send("#shop:api", "after the crash");
		expect(sent.queued.sort()).toEqual(["B", "C"]);
		for (const id of ["B", "C", "D"] as const) {
			const c = new HubClient({ url, session: id, secrets: secrets[id], keepaliveMs: 0 });
			cleanups.push(() => c.close({ bye: false }));
			const hello = await c.waitReady();
			expect(hello.topics, id).toEqual([id === "D" ? "build.ci" : "shop:api"]);
			expect(hello.pending, id).toBe(id === "D" ? 0 : 1);
		}
	});

	it("stops gracefully on SIGTERM: tells clients and exits 0", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const port = await freePort();
		const hub = await spawnHub(port, ["--db", join(dir, "relay.db")]);
		children.push(hub);
		const a = new HubClient({ url: `ws://127.0.0.1:${port}`, session: "A", secrets: memorySecrets(), keepaliveMs: 0, reconnect: true });
		cleanups.push(() => a.close({ bye: false }));
		await a.waitReady();
		const disconnected = new Promise<{ code: number }>((resolve) => a.once("disconnected", resolve));
		hub.kill("SIGTERM");
		const exitCode = await new Promise<number | null>((resolve) => hub.once("exit", (code) => resolve(code)));
		expect(exitCode).toBe(0);
		expect((await disconnected).code).toBe(1001);
		expect(a.lastError?.code).toBe("E_SHUTTING_DOWN");
	});
});
