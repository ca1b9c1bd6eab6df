#!/usr/bin/env node
// Proves that `npm test` does not depend on what else runs on the machine or on the caller's environment
// (issue 10, item 15). Not part of `npm test`: it runs the whole suite twice, so it takes a while.
//
//   node test/hermetic.mjs            (or: npm run test:hermetic)
//
// 1. Builds dist/, then starts a real hub on 127.0.0.1:9999 (the default URL every command falls back to),
//    with its own RELAY_HOME, and gives it sessions: two clients online, one offline with mail waiting.
// 2. Runs the whole suite with a hostile caller environment: RELAY_URL at that hub, RELAY_TOKEN,
//    RELAY_TOKEN_FILE, RELAY_ROOM, RELAY_HOME, CLAUDE_RELAY_SESSION_ID, RELAY_CLIENT_ID, CLAUDE_CODE_*,
//    CLAUDECODE, CLAUDE_CONFIG_DIR, and an `autossh` first on PATH that records being run.
// 3. Checks that no test reached that hub (no new session or message in it), wrote into the hostile
//    RELAY_HOME or CLAUDE_CONFIG_DIR, or ran the PATH's autossh.
// 4. Stops the hub and runs the whole suite again, normally.
// Exit code 0 only when both runs pass and nothing leaked.
//
// If something already listens on 9999 (your own `npm start`), that hub is used as the hostile one as it is
// (not seeded, not stopped); the leak check then only compares its message count.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist", "cli.js");
const PORT = 9999;
const URL_9999 = `ws://127.0.0.1:${PORT}`;
const HOSTILE_ROOM = "hostile";

const say = (line) => process.stderr.write(`hermetic: ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function portOpen(port) {
	return new Promise((resolve) => {
		const s = createConnection({ port, host: "127.0.0.1" });
		s.once("connect", () => {
			s.destroy();
			resolve(true);
		});
		s.once("error", () => resolve(false));
	});
}

/** The environment of a clean shell: nothing of the relay's or Claude Code's. */
function cleanEnv() {
	const env = {};
	for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("RELAY_") && !k.startsWith("CLAUDE_") && k !== "CLAUDECODE") env[k] = v;
	return env;
}

async function healthz() {
	const res = await fetch(`http://127.0.0.1:${PORT}/healthz`, { signal: AbortSignal.timeout(3_000) });
	return res.json();
}

async function sessionsIn(room) {
	const res = await fetch(`http://127.0.0.1:${PORT}/sessions?room=${room}`, { signal: AbortSignal.timeout(3_000) });
	if (!res.ok) return [];
	return ((await res.json()).sessions ?? []).map((s) => s.session).sort();
}

function vitest(env) {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, [join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run"], { cwd: ROOT, env, stdio: "inherit" });
		child.on("close", (code) => resolve(code ?? 1));
	});
}

const tmp = mkdtempSync(join(tmpdir(), "relay-hermetic-"));
const children = [];
let failed = false;
try {
	say("building dist/");
	if (spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { cwd: ROOT, stdio: "inherit" }).status !== 0) throw new Error("build failed");

	// ---- the hostile hub on 9999, with sessions --------------------------------------------------------
	const hubHome = join(tmp, "hub-home");
	const ours = !(await portOpen(PORT));
	if (ours) {
		const hubEnv = { ...cleanEnv(), RELAY_HOME: hubHome };
		const hub = spawn(process.execPath, [CLI, "hub", String(PORT), "--db", ":memory:", "--log-level", "warn"], { env: hubEnv, stdio: ["ignore", "ignore", "inherit"] });
		children.push(hub);
		for (let i = 0; !(await portOpen(PORT)); i++) {
			if (i > 200 || hub.exitCode !== null) throw new Error("the hub on 9999 did not start");
			await sleep(50);
		}
		const clientEnv = { ...hubEnv, RELAY_URL: URL_9999, NO_COLOR: "1" };
		for (const [id, room] of [
			["Hostile", "default"],
			["Hostile", HOSTILE_ROOM],
			["Squatter", "default"],
		]) {
			// Online for the whole run: stdin stays open.
			const c = spawn(process.execPath, [CLI, "client", id, "--room", room], { env: clientEnv, stdio: ["pipe", "ignore", "inherit"] });
			children.push(c);
		}
		const offline = spawnSync(process.execPath, [CLI, "send", "Hostile", "mail for nobody", "--from", "Offline", "--room", HOSTILE_ROOM], { env: clientEnv, encoding: "utf8" });
		if (offline.status !== 0) throw new Error(`seeding the hub failed: ${offline.stderr}`);
		for (let i = 0; (await healthz()).sessionsOnline < 3; i++) {
			if (i > 100) throw new Error("the seeded clients did not come online");
			await sleep(50);
		}
		say(`hub on ${URL_9999} with sessions: ${JSON.stringify({ default: await sessionsIn("default"), [HOSTILE_ROOM]: await sessionsIn(HOSTILE_ROOM) })}`);
	} else {
		say(`something already listens on ${PORT}: using it as the hostile hub, as it is`);
	}
	const before = {
		health: await healthz().catch(() => ({})),
		default: ours ? await sessionsIn("default") : [],
		hostile: ours ? await sessionsIn(HOSTILE_ROOM) : [],
	};

	// ---- the hostile caller ----------------------------------------------------------------------------
	const hostileHome = join(tmp, "hostile-relay-home");
	const hostileConfig = join(tmp, "hostile-claude-config");
	const fakeBin = join(tmp, "bin");
	const autosshRan = join(tmp, "autossh-ran");
	for (const d of [hostileHome, hostileConfig, fakeBin]) mkdirSync(d, { recursive: true });
	writeFileSync(join(hostileHome, "token"), "hostile-token-from-the-callers-home\n", { mode: 0o600 });
	writeFileSync(join(tmp, "hostile-token"), "hostile-token-from-a-file-0123456789\n", { mode: 0o600 });
	writeFileSync(join(fakeBin, "autossh"), `#!/bin/sh\necho "$@" >> "${autosshRan}"\nexit 1\n`);
	chmodSync(join(fakeBin, "autossh"), 0o755);
	const hostile = {
		...cleanEnv(),
		PATH: `${fakeBin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
		RELAY_URL: URL_9999,
		RELAY_TOKEN: "hostile-token-0123456789abcdef",
		RELAY_TOKEN_FILE: join(tmp, "hostile-token"),
		RELAY_ROOM: HOSTILE_ROOM,
		RELAY_HOME: hostileHome,
		RELAY_CLIENT_ID: "HostileDefault",
		RELAY_CHANNELS: "on",
		RELAY_SERVER_NAME: "hostile",
		CLAUDE_RELAY_SESSION_ID: "Hostile",
		CLAUDE_CODE_SESSION_ID: "00000000-0000-0000-0000-000000000000",
		CLAUDE_CONFIG_DIR: hostileConfig,
		CLAUDECODE: "1",
	};
	say("run 1 of 2: the whole suite, hostile environment, a hub with sessions on 9999");
	const hostileCode = await vitest(hostile);

	const leaks = [];
	const after = await healthz().catch(() => ({}));
	if (ours) {
		const now = { default: await sessionsIn("default"), hostile: await sessionsIn(HOSTILE_ROOM) };
		if (JSON.stringify(now) !== JSON.stringify({ default: before.default, hostile: before.hostile }))
			leaks.push(`sessions on the 9999 hub changed: ${JSON.stringify(before)} → ${JSON.stringify(now)}`);
	}
	if (after.messagesStored !== before.health.messagesStored) leaks.push(`messages stored on the 9999 hub: ${before.health.messagesStored} → ${after.messagesStored}`);
	const homeNow = readdirSync(hostileHome).filter((f) => f !== "token");
	if (homeNow.length > 0) leaks.push(`the caller's RELAY_HOME was written: ${homeNow.join(", ")}`);
	if (readdirSync(hostileConfig).length > 0) leaks.push(`the caller's CLAUDE_CONFIG_DIR was written: ${readdirSync(hostileConfig).join(", ")}`);
	if (existsSync(autosshRan)) leaks.push("the autossh on the caller's PATH was run");
	for (const l of leaks) say(`LEAK: ${l}`);

	for (const c of children.splice(0)) c.kill("SIGTERM");
	for (let i = 0; ours && (await portOpen(PORT)); i++) {
		if (i > 200) throw new Error("the hub on 9999 did not stop");
		await sleep(50);
	}

	say("run 2 of 2: the whole suite, normally");
	const normalCode = await vitest(cleanEnv());

	say(`hostile run: ${hostileCode === 0 ? "passed" : `FAILED (exit ${hostileCode})`}; leaks: ${leaks.length}; normal run: ${normalCode === 0 ? "passed" : `FAILED (exit ${normalCode})`}`);
	failed = hostileCode !== 0 || normalCode !== 0 || leaks.length > 0;
} catch (err) {
	say(`error: ${err.message}`);
	failed = true;
} finally {
	for (const c of children) c.kill("SIGTERM");
	rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
