/**
 * What `claude-relay hub` prints at start (the built CLI as a real process): how to connect Claude Code
 * (`claude-relay install`, a command that works as pasted, not `claude mcp add … claude-relay mcp`, which
 * needs `npm link`), the port when it is not the clients' default, and on a token hub that clients need the
 * token and where they read it from.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectLines } from "../server/hub-main.js";
import { minimalEnv } from "./fixtures/env.js";
import { tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI, freePort, ROOT } from "./fixtures/processes.js";

const TOKEN = "banner-test-token-0123456789";
const running: ChildProcess[] = [];
const dirs: Array<{ cleanup: () => void }> = [];

beforeAll(() => assertBuilt());
afterEach(() => {
	for (const c of running.splice(0)) c.kill("SIGKILL");
	for (const d of dirs.splice(0)) d.cleanup();
});

function temp(): string {
	const d = tempDir("relay-banner-");
	dirs.push(d);
	return realpathSync(d.dir);
}

/** Starts the hub and resolves with its banner (stdout up to the "stop" line). */
function banner(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [CLI, "hub", ...args, "--db", ":memory:", "--log-level", "warn"], { env, stdio: ["ignore", "pipe", "pipe"] });
		running.push(child);
		let out = "";
		let err = "";
		const timer = setTimeout(() => reject(new Error(`no banner within 15 s:\n${out}\n${err}`)), 15_000);
		child.stdout.setEncoding("utf8").on("data", (d: string) => {
			out += d;
			if (/^ {2}stop {7}Ctrl-C$/m.test(out)) {
				clearTimeout(timer);
				resolve(out);
			}
		});
		child.stderr.setEncoding("utf8").on("data", (d: string) => {
			err += d;
		});
		child.on("exit", (code) => {
			clearTimeout(timer);
			reject(new Error(`hub exited (${code}) before its banner:\n${out}\n${err}`));
		});
	});
}

const connectLine = (text: string) => /^ {2}connect {4}(.+?) {3}\(/m.exec(text)?.[1];

describe("the hub's start banner", () => {
	it("suggests `install` as this CLI can be run (node <cli.js> without npm link), and that command works", async () => {
		const home = temp();
		const port = await freePort();
		const text = await banner([String(port)], minimalEnv({ RELAY_HOME: join(home, "relay"), HOME: home }));
		expect(text).not.toContain("claude mcp add");
		const cmd = connectLine(text);
		expect(cmd).toBe(`node ${realpathSync(CLI)} install --url ws://localhost:${port}`);
		expect(text).toContain("give them RELAY_URL or --url for this port");
		expect(text).toMatch(/^ {2}token {6}none \(loopback only\)$/m);

		// Pasted as printed (with a stand-in `claude`, the one install.test.ts uses), it registers the bridge.
		const r = spawnSync("sh", ["-c", cmd as string], {
			env: minimalEnv({
				PATH: [join(ROOT, "test", "fixtures", "fake-claude"), dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
				HOME: home,
				CLAUDE_CONFIG_DIR: join(home, ".claude"),
				RELAY_HOME: join(home, "relay"),
			}),
			encoding: "utf8",
		});
		expect(r.stderr).toBe("");
		expect(r.status).toBe(0);
		expect(r.stdout).toContain(`✓ Bridge registered at user scope: claude mcp add relay -s user -e RELAY_URL=ws://localhost:${port}`);
	});

	it("says `claude-relay install` when claude-relay on PATH is this CLI (npm link)", async () => {
		const home = temp();
		const bin = join(home, "bin");
		mkdirSync(bin);
		symlinkSync(CLI, join(bin, "claude-relay"));
		const port = await freePort();
		const text = await banner([String(port)], minimalEnv({ PATH: `${bin}:${process.env.PATH}`, RELAY_HOME: join(home, "relay") }));
		expect(connectLine(text)).toBe(`claude-relay install --url ws://localhost:${port}`);
		// On the clients' default port there is nothing to add.
		expect(connectLines(9999, "claude-relay")).toEqual(["  connect    claude-relay install   (registers the bridge and the hooks with Claude Code)"]);
	});

	it("a token hub: clients must present the token, and where they read it from", async () => {
		const home = temp();
		const relayHome = join(home, "relay");
		mkdirSync(relayHome);
		const own = join(relayHome, "token");
		writeFileSync(own, `${TOKEN}\n`);
		chmodSync(own, 0o600);
		const elsewhere = join(home, "hub-token");
		writeFileSync(elsewhere, `${TOKEN}\n`);
		chmodSync(elsewhere, 0o600);

		const sameHome = await banner([String(await freePort()), "--token-file", own], minimalEnv({ RELAY_HOME: relayHome }));
		expect(sameHome).toContain(`  token      required (from ${own}): every client must present it\n`);
		expect(sameHome).toContain(`clients with this RELAY_HOME read it from ${own} already`);

		const otherFile = await banner([String(await freePort()), "--token-file", elsewhere], minimalEnv({ RELAY_HOME: relayHome }));
		expect(otherFile).toContain(`  token      required (from ${elsewhere}): every client must present it\n`);
		expect(otherFile).toContain(`give clients RELAY_TOKEN, --token-file FILE, or put it in their $RELAY_HOME/token (here: ${own})`);

		const fromEnv = await banner([String(await freePort())], minimalEnv({ RELAY_HOME: relayHome, RELAY_TOKEN: TOKEN }));
		expect(fromEnv).toContain("  token      required (from RELAY_TOKEN): every client must present it\n");
		for (const text of [sameHome, otherFile, fromEnv]) expect(text).not.toContain(TOKEN);
	});

	it("a flag the hub does not know: exit 1 with the hub's own usage, as from the whole command tree", () => {
		// `hub` has a parser of its own (scripts/commands.ts runHubCli); --help still goes through the tree.
		const env = minimalEnv({ RELAY_HOME: temp() });
		const bad = spawnSync(process.execPath, [CLI, "hub", "--bogus"], { env, encoding: "utf8", timeout: 15_000 });
		expect(bad.status).toBe(1);
		expect(bad.stderr).toMatch(/^claude-relay hub \[port\]\n\nRun the hub in the foreground/);
		expect(bad.stderr).toContain("  claude-relay hub --db :memory:");
		expect(bad.stderr).toMatch(/Unknown argument: bogus\n$/);
		const help = spawnSync(process.execPath, [CLI, "hub", "--help"], { env, encoding: "utf8", timeout: 15_000 });
		expect(help.status).toBe(0);
		expect(help.stdout).toMatch(/^claude-relay hub \[port\]\n/);
		expect(help.stdout).toContain("--accept-window");
	});
});
