/**
 * Nothing a peer, a stored message or a file can say reaches the user's terminal as a control: the built
 * CLI's commands (client, send, sessions, doctor) run as real processes and print hostile strings (OSC 52,
 * which writes the clipboard; CSI; BEL; the C1 CSI U+009B; bidi overrides; CR and LF in single-line
 * fields), and their output holds none of them. Also the unit: server/sanitize.ts.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { HubClient } from "../mcp-client/hub-client.js";
import { FileSecretStore } from "../mcp-client/secrets.js";
import { paths } from "../server/paths.js";
import { sanitize, sanitizeLine, terminalSafeJson } from "../server/sanitize.js";
import { connectClient, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI, ROOT } from "./fixtures/processes.js";

/** Every kind of terminal control at once; "[fake]" after a CR LF must stay on the line it came with. */
const HOSTILE = "evil\u001b]52;c;cHduZWQ=\u0007\u001b[2J\u0007\u009b31m\u202egnp.exe\u2066x\u2069\u200f\u2028\r\n[fake]";
/** What must never appear in output (LF only where output lines end; it is checked per line). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: what the tests look for
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

function expectSafe(output: string, label: string): void {
	const bad = [...output].filter((ch) => UNSAFE.test(ch)).map((ch) => `U+${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`);
	expect(bad, `${label}: control characters in ${JSON.stringify(output)}`).toEqual([]);
}

/** The hostile text was printed (made visible), on one line with what followed it. */
function expectShownOnOneLine(output: string, label: string): void {
	const line = output.split("\n").find((l) => l.includes("evil"));
	expect(line, `${label}: ${output}`).toBeDefined();
	expect(line).toContain("^[]52;c;cHduZWQ=^G");
	expect(line).toContain("\\u202e");
	expect(line).toContain("[fake]");
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});
beforeAll(() => assertBuilt());

async function hub(): Promise<TestHub> {
	const h = await startHub();
	cleanups.push(() => h.stop());
	return h;
}
function home(): string {
	const t = tempDir("relay-terminal-");
	cleanups.push(t.cleanup);
	return t.dir;
}

function env(relayHome: string, url: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
	return { PATH: process.env.PATH, HOME: relayHome, RELAY_HOME: relayHome, RELAY_URL: url, NO_COLOR: "1", ...extra };
}

function cli(args: string[], e: NodeJS.ProcessEnv, stdin = ""): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, [CLI, ...args], { env: e, cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
		let stdout = "";
		let stderr = "";
		child.stdout.setEncoding("utf8").on("data", (d: string) => {
			stdout += d;
		});
		child.stderr.setEncoding("utf8").on("data", (d: string) => {
			stderr += d;
		});
		child.on("close", (code) => resolve({ code, stdout, stderr }));
		child.stdin.end(stdin);
	});
}

/** A peer that says hello with hostile metadata, its secret stored under `relayHome` or not. */
async function hostilePeer(h: TestHub, id: string, relayHome?: string): Promise<HubClient> {
	const meta = { host: HOSTILE, cwd: `/srv/${HOSTILE}`, branch: HOSTILE };
	const c = relayHome
		? new HubClient({ url: h.url, session: id, meta, secrets: new FileSecretStore(paths.secrets(relayHome)), keepaliveMs: 0 })
		: await connectClient(h.url, id, { meta });
	await c.waitReady(5_000);
	cleanups.push(() => c.close({ bye: false }));
	return c;
}

describe("the sanitiser", () => {
	it("shows every control as visible text and keeps newlines only in multi-line bodies", () => {
		expect(sanitizeLine(HOSTILE)).toBe("evil^[]52;c;cHduZWQ=^G^[[2J^G\\u009b31m\\u202egnp.exe\\u2066x\\u2069\\u200f\\u2028\\r\\n[fake]");
		expect(sanitize("a\r\n\tb\u0000", true)).toBe("a\n\tb^@");
		expect(sanitize("plain text, ünïcode, emoji 👩‍💻", false)).toBe("plain text, ünïcode, emoji 👩‍💻");
		expectSafe(sanitizeLine(HOSTILE), "sanitizeLine");
		const json = terminalSafeJson(JSON.stringify({ host: HOSTILE }));
		expectSafe(json, "terminalSafeJson");
		expect(JSON.parse(json)).toEqual({ host: HOSTILE });
	});
});

describe("commands print hostile strings inertly", () => {
	it("client: a peer's host on join, in peers and sessions, and a stored message's replyTo and body", async () => {
		const h = await hub();
		const dir = home();
		// A message stored before the hub checked replyTo (an older database): the client must still be safe.
		await h.hub.store.append({
			room: "default",
			from: "Old",
			to: "Viewer",
			body: `body ${HOSTILE}`,
			replyTo: `m-1-aaaaaa ${HOSTILE}`,
			key: null,
			recipients: ["Viewer"],
			sentAt: Date.now(),
		});
		const child = spawn(process.execPath, [CLI, "client", "Viewer"], { env: env(dir, h.url), cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
		cleanups.push(() => {
			if (child.exitCode === null) child.kill("SIGKILL");
		});
		let stdout = "";
		let stderr = "";
		child.stdout.setEncoding("utf8").on("data", (d: string) => {
			stdout += d;
		});
		child.stderr.setEncoding("utf8").on("data", (d: string) => {
			stderr += d;
		});
		const exited = new Promise((resolve) => child.on("close", resolve));
		const waitOut = async (what: string) => {
			const deadline = Date.now() + 10_000;
			while (!stdout.includes(what)) {
				if (Date.now() > deadline) throw new Error(`no ${what} in ${stdout} / ${stderr}`);
				await new Promise((r) => setTimeout(r, 20));
			}
		};
		await waitOut("connected to");
		await waitOut("body evil");
		await hostilePeer(h, "Hostile");
		await waitOut("Hostile joined");
		child.stdin.end("peers\nsessions\n");
		await exited;
		expectSafe(stdout, "client stdout");
		expectSafe(stderr, "client stderr");
		for (const l of stdout.split("\n").filter((x) => x.includes("evil"))) expect(l).toContain("[fake]");
		expect(stdout).toMatch(/\* Hostile joined \(evil\^\[\]52;/);
		expect(stdout).toMatch(/Old → Viewer \(re m-1-aaaaaa evil\^\[\]52;/);
	});

	it("client and send: the hub's refusal quoting the live holder's host, and send --json", async () => {
		const h = await hub();
		const dir = home();
		await hostilePeer(h, "Holder", dir); // its secret is stored under dir: a claim there is contested live
		const refused = await cli(["client", "Holder"], env(dir, h.url));
		expect(refused.code).toBe(1);
		expectSafe(refused.stderr, "client refusal");
		expect(refused.stderr.trim().split("\n")).toHaveLength(1);
		expectShownOnOneLine(refused.stderr, "client refusal");

		const noSecret = await cli(["send", "Someone", "hi", "--from", "Holder", "--json"], env(home(), h.url));
		expect(noSecret.code).toBe(1);
		expectSafe(noSecret.stdout, "send --json refusal");

		const json = await cli(["send", "Holder", `payload ${HOSTILE}`, "--from", "Sender", "--json"], env(dir, h.url));
		expect(json.code).toBe(0);
		expectSafe(json.stdout, "send --json result");
		expect(JSON.parse(json.stdout).message.body).toBe(`payload ${HOSTILE}`);
	});

	it("sessions: host and cwd from the hub and from the registry file, as a table and as JSON", async () => {
		const h = await hub();
		const dir = home();
		await hostilePeer(h, "Remote");
		const file = paths.registry(dir);
		mkdirSync(dirname(file), { recursive: true });
		const now = new Date().toISOString();
		writeFileSync(
			file,
			JSON.stringify({ Local: { id: "Local", pid: process.pid, cwd: `/w/${HOSTILE}`, host: hostname(), started: now, lastSeen: now, status: "online" } }),
		);
		const table = await cli(["sessions"], env(dir, h.url));
		expect(table.code).toBe(0);
		expectSafe(table.stdout, "sessions table");
		expect(table.stdout.split("\n").filter((l) => l.includes("evil"))).toHaveLength(2);
		for (const l of table.stdout.split("\n").filter((x) => x.includes("evil"))) expect(l).toContain("[fake]");
		const json = await cli(["sessions", "--json"], env(dir, h.url));
		expectSafe(json.stdout, "sessions --json");
		const rows = JSON.parse(json.stdout) as Array<{ id: string; host?: string; cwd?: string }>;
		expect(rows.find((r) => r.id === "Remote")?.host).toBe(HOSTILE);
		expect(rows.find((r) => r.id === "Local")?.cwd).toBe(`/w/${HOSTILE}`);
	});

	it("doctor: what the hub's /healthz says about itself", async () => {
		const server: Server = createServer((_req, res) => {
			res.setHeader("content-type", "application/json");
			res.end(JSON.stringify({ ok: true, version: HOSTILE, protocol: 1 }));
		});
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		cleanups.push(() => new Promise((resolve) => server.close(resolve)));
		const port = (server.address() as { port: number }).port;
		const dir = home();
		const r = await cli(["doctor"], env(dir, `ws://127.0.0.1:${port}`, { PATH: [join(ROOT, "test", "fixtures", "fake-claude"), process.env.PATH].join(":") }));
		expectSafe(r.stdout, "doctor stdout");
		expectSafe(r.stderr, "doctor stderr");
		expectShownOnOneLine(r.stdout, "doctor");
	});

	it("hook log lines stay single-line, terminal-safe JSON", async () => {
		const dir = home();
		const r = await cli(["hook", "prompt", "--id", "CC-1", `--room=${HOSTILE}`], env(dir, "ws://127.0.0.1:9", { RELAY_HOOK_DEBUG: "1" }), "{}");
		expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
		const log = readFileSync(join(dir, "logs", "hooks.log"), "utf8");
		expectSafe(log.replace(/\n$/, ""), "hooks.log");
		expect(log.trimEnd().split("\n")).toHaveLength(1);
		// Escaped in the file, intact once parsed.
		expect(JSON.parse(log).reason).toContain("\u009b31m\u202egnp.exe");
	});
});
