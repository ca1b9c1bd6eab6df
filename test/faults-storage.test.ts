/**
 * Storage faults (issue 10, item 7): a damaged database file and a full disk.
 *
 * Damaged file: a real hub writes a real database, 4 KiB in the middle of it are overwritten, and the hub
 * refuses to start on it with a message that says what to do (it used to start, then cut a recipient off
 * with 1001 at every connect while /healthz said ok); `claude-relay db check` reports the damage (exit 1),
 * and says ok (exit 0) for a sound file, even while a hub runs on it.
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { closeSync, openSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { connectClient, tempDir } from "./fixtures/hub.js";
import { sendWindowed } from "./fixtures/faults.js";
import { CLI, freePort, spawnHub, waitFor } from "./fixtures/processes.js";

const children: ChildProcess[] = [];
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
	for (const c of children.splice(0)) c.kill("SIGKILL");
});

/** The environment of a spawned CLI: this machine's RELAY_* and CLAUDE_* variables left out. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
	const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RELAY_") && !k.startsWith("CLAUDE_")));
	return { ...env, ...extra };
}

/** Runs the built CLI to completion. */
function cli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 20_000) {
	const r = spawnSync(process.execPath, [CLI, ...args], { env: cleanEnv(env), encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
	return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Overwrites 4 KiB (one page) in the middle of `file` with fixed pseudo-random bytes. */
function overwriteMiddle(file: string): void {
	const offset = Math.floor(statSync(file).size / 2 / 4096) * 4096;
	const junk = Buffer.alloc(4096);
	let x = 0x2545f491;
	for (let i = 0; i < junk.length; i++) {
		x = (Math.imul(x, 1103515245) + 12345) >>> 0;
		junk[i] = x >>> 24;
	}
	const fd = openSync(file, "r+");
	try {
		writeSync(fd, junk, 0, junk.length, offset);
	} finally {
		closeSync(fd);
	}
}

describe("a damaged database file", () => {
	it("is refused at start with what to do, and `db check` reports it; a sound one checks ok while the hub runs", async () => {
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const db = join(dir, "relay.db");
		const port = await freePort();
		const url = `ws://127.0.0.1:${port}`;
		const hub = await spawnHub(port, ["--db", db, "--rate-limit", "100000", "--rate-burst", "100000"], { RELAY_HOME: dir });
		children.push(hub);
		const b = await connectClient(url, "B");
		await b.close();
		const a = await connectClient(url, "A");
		await sendWindowed(a, "B", Array.from({ length: 2000 }, (_, i) => `message ${i} ${"x".repeat(1000)}`), 200);
		await a.close();

		// Sound, and checkable while the hub has it open.
		const live = cli(["db", "check", "--db", db], { RELAY_HOME: dir });
		expect(live.stderr).toBe("");
		expect(live.stdout).toBe(`ok: ${db} (2,000 messages)\n`);
		expect(live.status).toBe(0);

		hub.kill("SIGTERM");
		await waitFor(() => hub.exitCode !== null, 10_000, "the hub to stop");
		overwriteMiddle(db);

		const start = cli(["hub", String(port), "--db", db], { RELAY_HOME: dir });
		expect(start.signal, "the hub kept running on the damaged file").toBeNull();
		expect(start.status).not.toBe(0);
		expect(start.stderr).toContain(`The database ${db} is damaged`);
		expect(start.stderr).toContain("restore");
		expect(start.stderr).toContain("move it aside");
		expect(start.stderr).toContain(`claude-relay db check --db ${db}`);
		expect(start.stderr, "no stack trace").not.toMatch(/^\s+at /m);
		expect(start.stdout).not.toContain("listening");

		const check = cli(["db", "check", "--db", db], { RELAY_HOME: dir });
		expect(check.status).toBe(1);
		expect(check.stdout).toMatch(new RegExp(`^damaged: ${db.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n  \\S`));
		expect(check.stdout).toContain("restore");

		// The default path is the hub's: $RELAY_HOME/relay.db.
		expect(cli(["db", "check"], { RELAY_HOME: dir }).status).toBe(1);
		expect(cli(["db", "check", "--db", join(dir, "missing.db")], { RELAY_HOME: dir }).status).toBe(2);
	}, 60_000);
});
