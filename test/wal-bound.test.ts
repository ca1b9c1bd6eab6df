/**
 * The WAL bound (issue 10, item 5): under sustained writes the SQLite write-ahead log used to grow without
 * limit (963 MB from one pipelined writer). A real hub process with `--wal-max-bytes 4 MiB` takes a
 * pipelined writer, then 100 concurrent writers, while this test samples the size of relay.db-wal; the file
 * must stay under the documented bound (2 x the option + one batch of at most 8 MiB), every acknowledged
 * message must be stored, and once the writers stop the file is truncated to zero.
 */
import type { ChildProcess } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import { connectClient, tempDir } from "./fixtures/hub.js";
import { sendWindowed, until } from "./fixtures/faults.js";
import { freePort, spawnHub, waitFor } from "./fixtures/processes.js";

const WAL_MAX = 4 * 1024 * 1024;
/** The documented bound: twice --wal-max-bytes, plus one group-commit batch (at most 8 MiB). */
const BOUND = 2 * WAL_MAX + 8 * 1024 * 1024;
const BODY = "w".repeat(1000);

const children: ChildProcess[] = [];
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
	for (const c of children.splice(0)) c.kill("SIGKILL");
});

/** Samples the size of `file` every few milliseconds until stopped; returns the largest seen. */
function sampleSize(file: string): { stop: () => number; peak: () => number } {
	let peak = 0;
	const look = () => {
		try {
			peak = Math.max(peak, statSync(file).size);
		} catch {
			// not created yet, or deleted
		}
	};
	const timer = setInterval(look, 5);
	return {
		peak: () => peak,
		stop: () => {
			clearInterval(timer);
			look();
			return peak;
		},
	};
}

const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

describe("the SQLite WAL under sustained writes", () => {
	it("stays under 2 x --wal-max-bytes + one batch, loses nothing, and is truncated once writes stop", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const db = join(dir, "relay.db");
		const wal = `${db}-wal`;
		const port = await freePort();
		const url = `ws://127.0.0.1:${port}`;
		// Rate limits raised for the pipelined writer; the 100 writers below stay within 200/s each anyway.
		const hub = await spawnHub(port, ["--db", db, "--wal-max-bytes", String(WAL_MAX), "--rate-limit", "100000", "--rate-burst", "100000", "--new-sessions-per-minute", "0", "--broadcast-deliveries-per-second", "0"], {
			RELAY_HOME: dir,
		});
		children.push(hub);

		const sink = await connectClient(url, "Sink");
		await sink.close();
		const sampler = sampleSize(wal);

		// One pipelined writer: 500 sends in flight at a time.
		const writer = await connectClient(url, "Writer", { requestTimeoutMs: 60_000 });
		cleanups.push(() => writer.close({ bye: false }));
		const first = await sendWindowed(writer, "Sink", Array.from({ length: 30_000 }, () => BODY), 500, undefined, 60_000);

		// Then 100 connections writing at once, 10 in flight each.
		const writers: HubClient[] = [];
		for (let i = 0; i < 100; i++) {
			const w = await connectClient(url, `W${i}`, { requestTimeoutMs: 60_000 });
			cleanups.push(() => w.close({ bye: false }));
			writers.push(w);
		}
		const many = await Promise.all(writers.map((w) => sendWindowed(w, "Sink", Array.from({ length: 250 }, () => BODY), 10, undefined, 60_000)));
		const peak = sampler.stop();

		const sent = first.length + many.flat().length;
		expect(sent).toBe(55_000);
		const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { messagesStored: number };
		expect(health.messagesStored).toBe(sent);
		// The load really needed the bound (55 MB of messages went through a 4 MiB WAL)...
		expect(peak, `peak WAL ${MiB(peak)}`).toBeGreaterThan(WAL_MAX);
		// ...and the file stayed under it.
		expect(peak, `peak WAL ${MiB(peak)}, bound ${MiB(BOUND)}`).toBeLessThan(BOUND);
		// Idle: the checkpointer gives the space back.
		await until(() => statSync(wal).size === 0, 10_000, "the idle hub to truncate its WAL");

		hub.kill("SIGTERM");
		await waitFor(() => hub.exitCode !== null, 10_000, "the hub to exit");
	}, 120_000);
});
