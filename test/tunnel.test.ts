/**
 * `claude-relay tunnel user@host` with fake ssh/autossh programs on PATH that record their arguments and
 * exit with a chosen code and message.
 */
import { spawn } from "node:child_process";
import {
	chmodSync,
	existsSync,
	mkdirSync,
	mkdtempSync,
	readFileSync,
	rmSync,
	writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { explainSshFailure, tunnelArgs } from "../launchd/ssh.js";
import { minimalEnv } from "./fixtures/env.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist", "cli.js");

beforeAll(() => {
	if (!existsSync(CLI))
		throw new Error(
			`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`,
		);
});

let tmp: string;
let bin: string;

beforeEach(() => {
	tmp = mkdtempSync(join(tmpdir(), "relay-tunnel-"));
	bin = join(tmp, "bin");
	mkdirSync(bin);
});

afterEach(() => {
	rmSync(tmp, { recursive: true, force: true });
});

/** A fake program: writes its arguments (one per line) to <tmp>/<name>.args, prints FAKE_STDERR, exits FAKE_EXIT. */
function fake(name: string): void {
	const file = join(bin, name);
	writeFileSync(
		file,
		`#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > "$FAKE_DIR/${name}.args"\n[ -n "$FAKE_STDERR" ] && printf '%s\\n' "$FAKE_STDERR" >&2\nexit "\${FAKE_EXIT:-0}"\n`,
	);
	chmodSync(file, 0o755);
}

function recorded(name: string): string[] | undefined {
	const file = join(tmp, `${name}.args`);
	return existsSync(file)
		? readFileSync(file, "utf8").split("\n").slice(0, -1)
		: undefined;
}

async function freePort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const address = server.address();
	await new Promise((resolve) => server.close(resolve));
	if (!address || typeof address === "string") throw new Error("no port");
	return address.port;
}

function tunnel(
	args: string[],
	env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, [CLI, "tunnel", ...args], {
			// Only the fakes are on PATH: a real ssh can never run.
			env: minimalEnv({
				PATH: bin,
				HOME: tmp,
				RELAY_HOME: join(tmp, "relay"),
				FAKE_DIR: tmp,
				...env,
			}),
			stdio: ["ignore", "pipe", "pipe"],
		});
		let stdout = "";
		let stderr = "";
		child.stdout.setEncoding("utf8").on("data", (c: string) => {
			stdout += c;
		});
		child.stderr.setEncoding("utf8").on("data", (c: string) => {
			stderr += c;
		});
		child.on("close", (code) => resolve({ code, stdout, stderr }));
	});
}

const OPTIONS = [
	"-N",
	"-o",
	"ServerAliveInterval=30",
	"-o",
	"ServerAliveCountMax=3",
	"-o",
	"ExitOnForwardFailure=yes",
];

describe("claude-relay tunnel", () => {
	it("runs ssh with the keep-alive options when autossh is absent, and says so", async () => {
		fake("ssh");
		const port = await freePort();
		const r = await tunnel(["me@hub-host", "--port", String(port)]);
		expect(r.code).toBe(0);
		expect(recorded("ssh")).toEqual([
			...OPTIONS,
			"-L",
			`${port}:localhost:9999`,
			"me@hub-host",
		]);
		expect(r.stderr).toMatch(/autossh is not installed, using plain ssh/);
	});

	it("--port moves this end only: the hub's end stays 9999 unless --remote-port (or RELAY_REMOTE_PORT), and it says so", async () => {
		fake("ssh");
		const port = await freePort();
		const local = await tunnel(["me@hub-host", "--port", String(port)]);
		expect(local.code).toBe(0);
		expect(recorded("ssh")).toContain(`${port}:localhost:9999`);
		expect(local.stderr).toContain(`localhost:${port} -> me@hub-host port 9999 via ssh`);
		expect(local.stderr).toContain(`give them RELAY_URL=ws://localhost:${port}`);
		expect(local.stderr).toContain("the hub's port over there is 9999, the default (--remote-port for another)");

		const remote = await tunnel(["me@hub-host", "--port", String(port), "--remote-port", "8888"]);
		expect(recorded("ssh")).toContain(`${port}:localhost:8888`);
		expect(remote.stderr).toContain(`localhost:${port} -> me@hub-host port 8888 via ssh`);
		expect(remote.stderr).not.toContain("the default (--remote-port");

		await tunnel(["me@hub-host", "--port", String(port)], { RELAY_REMOTE_PORT: "7777" });
		expect(recorded("ssh")).toContain(`${port}:localhost:7777`);
	});

	it("prefers autossh with -M 0, and --ssh forces plain ssh", async () => {
		fake("ssh");
		fake("autossh");
		const port = await freePort();
		const auto = await tunnel([
			"me@hub-host",
			"--port",
			String(port),
			"--remote-port",
			"9999",
		]);
		expect(auto.code).toBe(0);
		expect(recorded("autossh")).toEqual([
			"-M",
			"0",
			...OPTIONS,
			"-L",
			`${port}:localhost:9999`,
			"me@hub-host",
		]);
		expect(recorded("ssh")).toBeUndefined();
		expect(auto.stderr).not.toMatch(/autossh is not installed/);

		const plain = await tunnel([
			"me@hub-host",
			"--port",
			String(port),
			"--ssh",
		]);
		expect(plain.code).toBe(0);
		expect(recorded("ssh")?.[0]).toBe("-N");
		expect(plain.stderr).not.toMatch(/autossh is not installed/);
	});

	it("takes the local port from RELAY_PORT when --port is not given", async () => {
		fake("ssh");
		const port = await freePort();
		const r = await tunnel(["me@hub-host"], { RELAY_PORT: String(port) });
		expect(r.code).toBe(0);
		expect(recorded("ssh")).toContain(`${port}:localhost:9999`);
	});

	it.each([
		[
			"Permission denied (publickey).",
			/permission denied: me@hub-host refused the login.*ssh-add -l/,
		],
		[
			"ssh: Could not resolve hostname hub-host: Name or service not known",
			/host not found: me@hub-host does not resolve/,
		],
		[
			"ssh: connect to host hub-host port 22: Connection timed out",
			/host unreachable: no answer from me@hub-host/,
		],
		[
			"ssh: connect to host hub-host port 22: Connection refused",
			/host unreachable: me@hub-host refused the SSH connection/,
		],
		[
			"bind [127.0.0.1]:9999: Address already in use\nchannel_setup_fwd_listener_tcpip: cannot listen to port: 9999\nCould not request local forwarding.",
			/forward failed: local port \d+ could not be opened/,
		],
		[
			"Host key verification failed.",
			/host key not accepted: run `ssh me@hub-host` once/,
		],
	])("explains an ssh failure: %s", async (message, explanation) => {
		fake("ssh");
		const port = await freePort();
		const r = await tunnel(["me@hub-host", "--port", String(port)], {
			FAKE_EXIT: "255",
			FAKE_STDERR: message,
		});
		expect(r.code).toBe(255);
		// ssh's own words pass through, then one line of ours, without a stack trace.
		expect(r.stderr).toContain(message);
		const last = r.stderr.trimEnd().split("\n").at(-1) ?? "";
		expect(last).toMatch(/^claude-relay tunnel: /);
		expect(last).toMatch(explanation);
		expect(r.stderr).not.toMatch(/\n\s+at /);
	});

	it("refuses to start when the local port is taken, without running ssh", async () => {
		fake("ssh");
		const server: Server = createServer();
		await new Promise<void>((resolve) =>
			server.listen(0, "127.0.0.1", resolve),
		);
		const port = (server.address() as { port: number }).port;
		try {
			const r = await tunnel(["me@hub-host", "--port", String(port)]);
			expect(r.code).toBe(1);
			expect(r.stderr).toMatch(
				new RegExp(
					`local port ${port} is already in use: a tunnel or the hub may already be running`,
				),
			);
			expect(recorded("ssh")).toBeUndefined();
		} finally {
			await new Promise((resolve) => server.close(resolve));
		}
	});

	it("refuses a target that ssh would read as an option", async () => {
		fake("ssh");
		const r = await tunnel(["me@hub-host", "--port", "0"]);
		expect(r.code).toBe(2);
		expect(r.stderr).toMatch(/--port must be a port number/);
		const opt = await tunnel(["--", "-oProxyCommand=touch /tmp/x"]);
		expect(opt.code).not.toBe(0);
		expect(recorded("ssh")).toBeUndefined();
	});

	it("says so when neither autossh nor ssh is installed", async () => {
		const r = await tunnel(["me@hub-host", "--port", String(await freePort())]);
		expect(r.code).toBe(127);
		expect(r.stderr.trim()).toBe(
			"claude-relay tunnel: neither autossh nor ssh is on PATH; install OpenSSH (and autossh for reconnects)",
		);
	});
});

describe("ssh helpers", () => {
	it("tunnelArgs puts -M 0 first for autossh only", () => {
		expect(tunnelArgs("autossh", 1, 2, "h").slice(0, 3)).toEqual([
			"-M",
			"0",
			"-N",
		]);
		expect(tunnelArgs("ssh", 1, 2, "h")).toEqual([
			...OPTIONS,
			"-L",
			"1:localhost:2",
			"h",
		]);
	});

	it("explains nothing for a clean exit, and something for any failure", () => {
		const ctx = { target: "h", port: 1, remotePort: 2, program: "ssh" };
		expect(explainSshFailure(0, "", ctx)).toBeUndefined();
		expect(explainSshFailure(255, "weird", ctx)).toMatch(
			/could not connect to h \(exit 255\)/,
		);
		expect(
			explainSshFailure(
				1,
				"channel 2: open failed: connect failed: Connection refused",
				ctx,
			),
		).toMatch(/nothing listens on port 2 on h/);
	});
});
