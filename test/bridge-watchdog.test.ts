/**
 * The bridge never outlives its Claude session: a real parent process (test/fixtures/watchdog-parent.mjs,
 * standing in for Claude Code) spawns the built bridge and is killed with SIGKILL. The bridge must notice,
 * tell the hub it is leaving, mark itself offline in the registry, and exit; the 2-second bound is the
 * deadline of the poll (a liveness bound), not a speed measurement.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, expect, it } from "vitest";
import { BRIDGE_CLI, processGone, startBridge } from "./fixtures/bridge.js";
import { until } from "./fixtures/faults.js";
import { testEnv } from "./fixtures/env.js";
import { connectClient, startHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt } from "./fixtures/processes.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});
beforeAll(() => assertBuilt());

async function parentWithBridge(
	url: string,
	home: string,
	id: string,
	opts: { heldStdin?: boolean } = {},
) {
	const parent = spawn(
		process.execPath,
		[
			join(import.meta.dirname, "fixtures", "watchdog-parent.mjs"),
			BRIDGE_CLI,
			...(opts.heldStdin ? ["--held-stdin"] : []),
		],
		{
			env: testEnv({
				RELAY_URL: url,
				RELAY_HOME: home,
				CLAUDE_RELAY_SESSION_ID: id,
				RELAY_LOG_LEVEL: "debug",
			}),
			stdio: ["ignore", "pipe", "pipe"],
		},
	);
	let stderr = "";
	parent.stderr.on("data", (d) => {
		stderr += d;
	});
	const { bridgePid, holderPid } = await new Promise<{
		bridgePid: number;
		holderPid: number | null;
	}>((resolve, reject) => {
		let out = "";
		parent.stdout.on("data", (d) => {
			out += d;
			const line = out.split("\n").find((l) => l.startsWith('{"bridgePid"'));
			if (line) resolve(JSON.parse(line));
		});
		parent.once("exit", (code) =>
			reject(
				new Error(
					`parent exited (${code}) before the bridge started: ${stderr}`,
				),
			),
		);
	});
	cleanups.push(() => {
		if (holderPid && !processGone(holderPid))
			process.kill(holderPid, "SIGKILL");
		if (!processGone(bridgePid)) process.kill(bridgePid, "SIGKILL");
		if (parent.exitCode === null) parent.kill("SIGKILL");
	});
	return { parent, bridgePid, stderr: () => stderr };
}

it("exits within 2 s of its parent being SIGKILLed, and the hub and the registry show it offline", async () => {
	const h = await startHub();
	cleanups.push(() => h.stop());
	const home = tempDir("relay-watchdog-");
	cleanups.push(home.cleanup);
	const { parent, bridgePid, stderr } = await parentWithBridge(
		h.url,
		home.dir,
		"Orphan",
	);
	await until(
		() => Boolean(h.hub.presence.holder("default", "Orphan")?.open),
		10_000,
		"the bridge online at the hub",
	);
	const registry = join(home.dir, "sessions", "registry.json");
	await until(
		() => {
			try {
				return (
					JSON.parse(readFileSync(registry, "utf8")).Orphan?.status === "online"
				);
			} catch {
				return false;
			}
		},
		5_000,
		"the registry entry online",
	);

	parent.kill("SIGKILL");
	await until(
		() => processGone(bridgePid),
		2_000,
		"the bridge to exit after its parent was killed",
	);
	expect(h.hub.presence.holder("default", "Orphan")).toBeUndefined();
	expect(JSON.parse(readFileSync(registry, "utf8")).Orphan.status).toBe(
		"offline",
	);
	// It left on purpose (bye), not by the hub timing it out.
	expect(stderr()).toMatch(/"msg":"bridge exiting"/);
});

it("exits when its parent dies even while something else keeps its stdin open (parent polling)", async () => {
	const h = await startHub();
	cleanups.push(() => h.stop());
	const home = tempDir("relay-watchdog-");
	cleanups.push(home.cleanup);
	const { parent, bridgePid } = await parentWithBridge(
		h.url,
		home.dir,
		"Adopted",
		{ heldStdin: true },
	);
	await until(
		() => Boolean(h.hub.presence.holder("default", "Adopted")?.open),
		10_000,
		"the bridge online at the hub",
	);

	parent.kill("SIGKILL");
	await until(
		() => processGone(bridgePid),
		2_000,
		"the bridge to exit after its parent was killed",
	);
	expect(h.hub.presence.holder("default", "Adopted")).toBeUndefined();
	// Its stdin never closed (the holder process keeps it open): it was the parent poll that noticed.
	const log = readFileSync(
		join(home.dir, "logs", "bridge-Adopted.log"),
		"utf8",
	);
	expect(log).toMatch(/"reason":"parent process \d+ exited/);
});

it("leaves on SIGTERM: says bye to the hub and exits", async () => {
	const h = await startHub();
	cleanups.push(() => h.stop());
	const home = tempDir("relay-watchdog-");
	cleanups.push(home.cleanup);
	const { bridgePid } = await parentWithBridge(h.url, home.dir, "Signalled");
	await until(
		() => Boolean(h.hub.presence.holder("default", "Signalled")?.open),
		10_000,
		"the bridge online at the hub",
	);
	process.kill(bridgePid, "SIGTERM");
	await until(
		() => processGone(bridgePid),
		2_000,
		"the bridge to exit after SIGTERM",
	);
	expect(h.hub.presence.holder("default", "Signalled")).toBeUndefined();
});

it("exits when the MCP transport closes (a line over the SDK's 10 MiB read buffer): bye to the hub, and a new bridge can claim the ID", async () => {
	const h = await startHub();
	cleanups.push(() => h.stop());
	const home = tempDir("relay-watchdog-");
	cleanups.push(home.cleanup);
	const peer = await connectClient(h.url, "Watcher");
	cleanups.push(() => peer.close({ bye: false }));
	const left: string[] = [];
	peer.on("peer_left", (p) => left.push(`${p.session}:${p.reason}`));

	const bridge = spawn(process.execPath, [BRIDGE_CLI, "mcp"], {
		env: {
			PATH: process.env.PATH ?? "",
			HOME: home.dir,
			RELAY_URL: h.url,
			RELAY_HOME: home.dir,
			CLAUDE_RELAY_SESSION_ID: "Flooded",
			RELAY_LOG_LEVEL: "debug",
		},
		stdio: ["pipe", "pipe", "pipe"],
	});
	cleanups.push(() => {
		if (bridge.exitCode === null) bridge.kill("SIGKILL");
	});
	let stdout = "";
	let stderr = "";
	bridge.stdout.on("data", (d) => {
		stdout += d;
	});
	bridge.stderr.on("data", (d) => {
		stderr += d;
	});
	bridge.stdin.on("error", () => undefined);
	const exited = new Promise<number | null>((resolve) =>
		bridge.once("exit", (code) => resolve(code)),
	);
	bridge.stdin.write(
		`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "flood-test", version: "1" } } })}\n`,
	);
	await until(() => stdout.includes('"id":1'), 10_000, "the initialize answer");
	bridge.stdin.write(
		`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`,
	);
	await until(
		() => Boolean(h.hub.holder("default", "Flooded")?.open),
		10_000,
		"the bridge online at the hub",
	);

	// One line of 11 MiB, and stdin stays open (the parent is alive): only the transport's close says stop.
	bridge.stdin.write(`{"jsonrpc":"2.0","id":2,"method":"ping","params":{"pad":"${"x".repeat(11 * 1024 * 1024)}"}}\n`);
	await until(() => bridge.exitCode !== null, 10_000, "the bridge to exit");
	expect(await exited).toBe(0);
	expect(h.hub.holder("default", "Flooded")).toBeUndefined();
	await until(() => left.includes("Flooded:bye"), 5_000, "peer_left bye");
	expect(stderr).toMatch(/"reason":"the MCP transport closed"/);

	const next = await startBridge({ url: h.url, home: home.dir, id: "Flooded" });
	cleanups.push(() => next.close());
	const status = await next.call("relay_status");
	expect(status.data).toMatchObject({ connected: true, session: "Flooded" });
});
