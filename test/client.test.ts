/**
 * `claude-relay client`: the built CLI (dist/cli.js) as child processes against a real in-process hub,
 * driven through piped stdin (one command per line, one output line per event), and through a real
 * pseudo-terminal (util-linux `script`) for the prompt that incoming messages must not break.
 * Also the pure parts: command parsing, completion, formatting.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import { FileSecretStore } from "../mcp-client/secrets.js";
import { paths } from "../server/paths.js";
import type { Message } from "../server/protocol.js";
import { COMMAND_NAMES, complete, parseCommand, replyAllTarget } from "../scripts/client.js";
import { formatMessage, formatReceiptPush, formatSendOutcome, sanitize } from "../scripts/format.js";
import { testEnv } from "./fixtures/env.js";
import { connectClient, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI, freePort, ROOT } from "./fixtures/processes.js";

/** A child process whose output is collected and can be awaited line by line. */
class Proc {
	stdout = "";
	stderr = "";
	readonly exited: Promise<number | null>;
	constructor(readonly child: ChildProcess) {
		child.stdout?.setEncoding("utf8").on("data", (d: string) => {
			this.stdout += d;
		});
		child.stderr?.setEncoding("utf8").on("data", (d: string) => {
			this.stderr += d;
		});
		this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
	}
	write(line: string): void {
		this.child.stdin?.write(`${line}\n`);
	}
	end(): void {
		this.child.stdin?.end();
	}
	/** Waits until stdout (or stderr), from offset `from` on, matches; returns what matched. */
	async waitFor(pattern: RegExp | string, stream: "stdout" | "stderr" = "stdout", timeoutMs = 8_000, from = 0): Promise<string> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const text = this[stream].slice(from);
			const hit = typeof pattern === "string" ? (text.includes(pattern) ? pattern : null) : (pattern.exec(text)?.[0] ?? null);
			if (hit !== null) return hit;
			if (Date.now() > deadline) {
				throw new Error(`timed out waiting for ${String(pattern)} on ${stream}\n--- stdout:\n${this.stdout}\n--- stderr:\n${this.stderr}`);
			}
			await new Promise((r) => setTimeout(r, 20));
		}
	}
	kill(): void {
		if (this.child.exitCode === null && this.child.pid) this.child.kill("SIGKILL");
	}
}

let hub: TestHub;
let home: { dir: string; cleanup: () => void };
const procs: Proc[] = [];
const clients: HubClient[] = [];

function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
	return testEnv({ RELAY_HOME: home.dir, RELAY_URL: hub.url, NO_COLOR: "1", ...extra });
}

function client(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Proc {
	const p = new Proc(spawn(process.execPath, [CLI, "client", ...args], { cwd: ROOT, env: cliEnv(extraEnv), stdio: ["pipe", "pipe", "pipe"] }));
	procs.push(p);
	return p;
}

/** Runs the client with all of `input` on stdin (then EOF) and waits for it to exit. */
async function script(args: string[], input: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
	const p = client(args, extraEnv);
	p.child.stdin?.end(input);
	const code = await p.exited;
	return { code, stdout: p.stdout, stderr: p.stderr };
}

beforeAll(async () => {
	assertBuilt();
	hub = await startHub();
	home = tempDir("relay-client-");
});

afterEach(async () => {
	for (const p of procs.splice(0)) p.kill();
	await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
	await hub?.stop();
	home?.cleanup();
});

describe("claude-relay client, piped", () => {
	it("two clients exchange send and send:<id>; peers, history, status; a bad command does not stop it", async () => {
		const a = client(["ALPHA"]);
		await a.waitFor(/connected to ws:\/\/127\.0\.0\.1:\d+ as ALPHA in room default/);
		const b = client(["BETA"]);
		await b.waitFor(/as BETA in room default: 1 peer online \(ALPHA\)/);
		await a.waitFor("* BETA joined");

		a.write("peers");
		await a.waitFor(/1 peer online in room default:\n {2}BETA\b/);

		a.write("send:BETA hello beta");
		await a.waitFor("delivered live to BETA (m-");
		await b.waitFor(/\] ALPHA → BETA: hello beta\n/);

		b.write("send hi everyone");
		await b.waitFor("delivered live to ALPHA (m-");
		await a.waitFor(/\] BETA → \*: hi everyone\n/);

		b.write("reply got it");
		await a.waitFor(/\] BETA → ALPHA \(re m-[^)]+\): got it\n/);

		const before = a.stdout.length;
		a.write("history 5");
		const history = await a.waitFor(/^.*ALPHA → BETA: hello beta\n.*BETA → ALPHA \(re m-[^)]+\): got it\n/ms, "stdout", 8_000, before);
		expect(history.split("\n").filter(Boolean)).toEqual([
			expect.stringMatching(/^\[\d\d:\d\d:\d\d\] ALPHA → BETA: hello beta$/),
			expect.stringMatching(/^\[\d\d:\d\d:\d\d\] BETA → \*: hi everyone$/),
			expect.stringMatching(/^\[\d\d:\d\d:\d\d\] BETA → ALPHA \(re m-[^)]+\): got it$/),
		]);

		a.write("status");
		await a.waitFor(/connected as ALPHA in room default to ws:\/\/127\.0\.0\.1:\d+; hub [^;]+; 1 peer online; 2 messages received/);

		a.write("frobnicate now");
		await a.waitFor('unknown command "frobnicate"; commands: send <msg>', "stderr");
		a.write("sessions");
		await a.waitFor(/2 sessions in room default:\n {2}ALPHA \(you\) +online/);

		a.write("quit");
		expect(await a.exited).toBe(0);
		await b.waitFor("* ALPHA left (bye)");
		b.end();
		expect(await b.exited).toBe(0);
		expect(a.stderr).not.toMatch(/\n\s+at /);
		expect(b.stderr).toBe("");
	});

	it("subscribes, sends to #topic, shows threads, topics and receipts, and prints ✓ seen by … as it happens", async () => {
		const mia = client(["MIA", "--topics", "shop:api"]);
		await mia.waitFor("* subscribed to #shop:api");
		const yuki = client(["YUKI"]);
		await yuki.waitFor("as YUKI in room default");
		yuki.write("subscribe #shop:api");
		await yuki.waitFor("subscribed to #shop:api; your topics: #shop:api");
		const other = await connectClient(hub.url, "OTHER");
		clients.push(other);

		yuki.write("send:#shop:api the /users response has a cursor now");
		const sent = await yuki.waitFor(/delivered live to MIA \((m-\d+-[a-z0-9]{6})\)/);
		const id = /m-\d+-[a-z0-9]{6}/.exec(sent)?.[0] ?? "";
		await mia.waitFor(/\] YUKI → #shop:api: the \/users response has a cursor now\n/);
		// MIA printed it and acked it: a person saw it, and YUKI is told.
		await yuki.waitFor(`✓ seen by MIA (${id})`);

		mia.write("reply-all thanks");
		await yuki.waitFor(/\] MIA → #shop:api \(re m-[^)]+\): thanks\n/);
		yuki.write("reply ok");
		await mia.waitFor(/\] YUKI → MIA \(re m-\d+-[a-z0-9]{6}, thread m-\d+-[a-z0-9]{6}\): ok\n/);

		const before = mia.stdout.length;
		mia.write(`thread ${id}`);
		const thread = await mia.waitFor(/thread m-[^:]+: 3 messages\n.*\n.*\n.*\n/, "stdout", 8_000, before);
		expect(thread).toContain("YUKI → #shop:api: the /users response");
		expect(thread).toContain("MIA → #shop:api");
		expect(thread).toContain("YUKI → MIA");

		yuki.write(`receipts ${id}`);
		await yuki.waitFor(new RegExp(`receipts of ${id} \\(to #shop:api\\), sent \\d\\d:\\d\\d:\\d\\d:\n {2}MIA {2}seen {4}\\d\\d:\\d\\d:\\d\\d\n`));
		yuki.write("topics");
		await yuki.waitFor(/1 topic in room default:\n {2}#shop:api {2}2 subscribers \(MIA, YUKI\) {2}2 messages {2}last \d+ s ago {2}\(you\)\n/);
		// OTHER is in the room but did not subscribe: it got nothing.
		expect((await other.request("inbox", { peek: true })).messages).toEqual([]);
		mia.write("unsubscribe shop:api");
		await mia.waitFor("unsubscribed from #shop:api; your topics: none");
		mia.end();
		yuki.end();
		expect(await mia.exited).toBe(0);
		expect(await yuki.exited).toBe(0);
		expect(mia.stderr + yuki.stderr).toBe("");
	});

	it("prints a message that arrives mid-session, acks it, and wait returns when one comes", async () => {
		const c = client(["GAMMA"]);
		await c.waitFor("as GAMMA in room default");
		c.write("wait 8");
		const sender = await connectClient(hub.url, "DELTA");
		clients.push(sender);
		await new Promise((r) => setTimeout(r, 200));
		await sender.send("GAMMA", "are you there?\nsecond line");
		await c.waitFor(/\] DELTA → GAMMA: are you there\?\\nsecond line\n1 message arrived\n/);
		// Acked once printed: nothing waits for GAMMA at the hub.
		await expect.poll(async () => (await sender.request("sessions", {})).sessions.find((s) => s.session === "GAMMA")?.pending).toBe(0);
		c.end();
		expect(await c.exited).toBe(0);
	});

	it("runs a whole script from stdin and exits 0 only after the last answer", async () => {
		const r = await script(["SCRIPTED"], "send:NOBODY-YET left for later\nsessions\nhistory 5\nhelp\n");
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/queued for NOBODY-YET \(offline\) \(m-/);
		expect(r.stderr).toMatch(/warning: NOBODY-YET has never connected to room default/);
		expect(r.stdout).toMatch(/SCRIPTED → NOBODY-YET: left for later\n/);
		expect(r.stdout).toMatch(/ {2}quit +leave/);
		expect(r.stdout.trimEnd().split("\n").at(-1)).toMatch(/messages are printed as they arrive/);
	});

	it("shows sessions a page at a time: says how many are left, and `sessions more` shows the next page", async () => {
		for (let i = 0; i < 150; i++)
			await hub.hub.store.createSession({ room: "paging", session: `P${String(i).padStart(3, "0")}`, secretHash: "h", meta: {}, firstSeen: 1, lastSeen: 1, ephemeral: false });
		const r = await script(["PAGER", "--room", "paging"], "sessions\nsessions more\nsessions more\nsessions everything\n");
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/100 sessions in room paging:\n {2}P000 /);
		expect(r.stdout).toContain("(100 of 151 shown: sessions more for the next page)");
		expect(r.stdout).toMatch(/51 sessions in room paging:\n {2}P100 /);
		expect(r.stdout).toMatch(/PAGER \(you\) +online/);
		expect(r.stdout).toContain("no more sessions to show");
		expect(r.stderr).toContain('sessions takes nothing, or "more" for the next page');
	});

	it("an ID it made up itself (<host>-<pid>) is forgotten at the hub when it quits", async () => {
		const r = await script([], "status\n");
		expect(r.code).toBe(0);
		const id = /connected as (\S+) in room default/.exec(r.stdout)?.[1] ?? "";
		expect(id).toMatch(/-\d+$/);
		await expect.poll(async () => hub.hub.store.getSession("default", id)).toBeNull();
		expect(existsSync(join(home.dir, "secrets", `default.${id}.secret`))).toBe(false);
	});

	it("prints the backlog at connect and acks it, so the next run does not print it again", async () => {
		const sender = await connectClient(hub.url, "EPSILON");
		clients.push(sender);
		await sender.send("ZETA", "one");
		await sender.send("ZETA", "two");
		const first = await script(["ZETA"], "status\n");
		expect(first.code).toBe(0);
		expect(first.stdout).toMatch(/2 messages waiting\n.*EPSILON → ZETA: one\n.*EPSILON → ZETA: two\n/s);
		const second = await script(["ZETA"], "status\n");
		expect(second.code).toBe(0);
		expect(second.stdout).toMatch(/0 messages waiting/);
		expect(second.stdout).not.toContain("EPSILON → ZETA");
	});

	it("--no-ack leaves messages for peek, inbox and ack", async () => {
		const sender = await connectClient(hub.url, "ETA");
		clients.push(sender);
		await sender.send("THETA", "keep me");
		const r = await script(["THETA", "--no-ack"], "peek\nack\npeek\n");
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/ETA → THETA: keep me\n(.*\n)?.*ETA → THETA: keep me\n1 message shown \(not acked\)\nacked 1 message\ninbox empty\n/);
	});

	it("quit exits 0 and EOF exits 0", async () => {
		expect((await script(["IOTA"], "quit\nsend never sent\n")).code).toBe(0);
		const r = await script(["IOTA"], "");
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/connected to .* as IOTA/);
	});

	it("an ID held by a live session: exits 1 with the hub's sentence, no stack trace", async () => {
		// The holder uses the same secret store, as a Claude session's bridge on this machine would.
		const holder = await connectClient(hub.url, "KAPPA", { secrets: new FileSecretStore(paths.secrets(home.dir)) });
		clients.push(holder);
		const r = await script([], "status\n", { CLAUDE_RELAY_SESSION_ID: "KAPPA" });
		expect(r.code).toBe(1);
		expect(r.stderr).toMatch(/^claude-relay client: KAPPA is in use by a live connection.*came from CLAUDE_RELAY_SESSION_ID.*claude-relay client <ID>/);
		expect(r.stderr.trim().split("\n")).toHaveLength(1);
		expect(holder.ready).toBe(true);
	});

	it("an ID claimed elsewhere (no secret here): exits 1 saying so", async () => {
		const owner = await connectClient(hub.url, "LAMBDA"); // in-memory secret: this RELAY_HOME has none
		await owner.close();
		const r = await script(["LAMBDA"], "status\n");
		expect(r.code).toBe(1);
		expect(r.stderr).toMatch(/LAMBDA is already registered in room default and this hello has no secret/);
	});

	it("hub down, bad ID, bad URL: one line each, no stack trace", async () => {
		const port = await freePort();
		const down = await script(["MU", "--url", `ws://127.0.0.1:${port}`], "status\n");
		expect(down.code).toBe(1);
		expect(down.stderr).toMatch(/^claude-relay client: Cannot reach the relay hub at ws:\/\/127\.0\.0\.1:\d+\. Is the hub running/);
		const bad = await script(["9lives"], "");
		expect(bad.code).toBe(2);
		expect(bad.stderr).toMatch(/^claude-relay client: session ID must start with a letter/);
		const reserved = await script(["admin"], "");
		expect(reserved.code).toBe(2);
		expect(reserved.stderr).toMatch(/reserved word/);
		const url = await script(["MU", "--url", "http://x"], "");
		expect(url.code).toBe(2);
		expect(url.stderr).toMatch(/is not a ws:\/\/ or wss:\/\/ URL/);
		for (const r of [down, bad, reserved, url]) expect(r.stderr.trim().split("\n")).toHaveLength(1);
	});

	it("arguments yargs refuses (two IDs, an unknown option) exit 2 with the usage, like a bad ID", async () => {
		for (const args of [["MU", "NU"], ["MU", "--frobnicate"]]) {
			const r = await script(args, "");
			expect(r.code).toBe(2);
			expect(r.stderr).toContain("claude-relay client [id]");
			expect(r.stderr).toMatch(/Unknown arguments?: /);
		}
	});

	it("--room: joins that room only", async () => {
		const other = await connectClient(hub.url, "OMICRON"); // in room default
		clients.push(other);
		const r = await script(["PI", "--room", "lab"], "peers\nstatus\n");
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/as PI in room lab: 0 peers online/);
		expect(r.stdout).toMatch(/no other session online in room lab\n/);
		expect(r.stdout).toMatch(/connected as PI in room lab to /);
	});

	it("a body over the hub's limit is refused with the sentence, and the client keeps going", async () => {
		const r = await script(["NU"], `send ${"x".repeat(70_000)}\nstatus\n`);
		expect(r.code).toBe(0);
		expect(r.stderr).toMatch(/E_TOO_LARGE: Message body of 70000 bytes is over the hub's 65536-byte limit/);
		expect(r.stdout).toMatch(/connected as NU/);
	});
});

// ---------------------------------------------------------------------------------------------------------
// A real terminal
// ---------------------------------------------------------------------------------------------------------

/**
 * The visible screen after `output` was written to a `cols`-wide terminal: enough of VT100 for what
 * readline emits (CR, LF, BS, CUU/CUD/CUF/CUB, CHA, ED, EL; SGR and other CSI ignored), with deferred wrap.
 */
function renderScreen(output: string, cols = 80): { lines: string[]; row: number } {
	const lines: string[][] = [[]];
	let row = 0;
	let col = 0;
	const line = (r: number) => {
		while (lines.length <= r) lines.push([]);
		return lines[r] as string[];
	};
	for (let i = 0; i < output.length; i++) {
		const ch = output[i] as string;
		if (ch === "\u001b") {
			// biome-ignore lint/suspicious/noControlCharactersInRegex: parsing terminal escape sequences on purpose
			const m = /^\u001b\[([?\d;]*)([A-Za-z])/.exec(output.slice(i));
			if (!m) {
				i += 1;
				continue;
			}
			i += m[0].length - 1;
			const n = Number.parseInt(m[1] || "", 10);
			const count = Number.isNaN(n) ? 1 : n;
			switch (m[2]) {
				case "A":
					row = Math.max(0, row - count);
					break;
				case "B":
					row += count;
					break;
				case "C":
					col = Math.min(cols - 1, col + count);
					break;
				case "D":
					col = Math.max(0, Math.min(col, cols - 1) - count);
					break;
				case "G":
					col = Math.min(cols - 1, count - 1);
					break;
				case "J":
					if (Number.isNaN(n) || n === 0) {
						line(row).splice(col);
						lines.splice(row + 1);
					}
					break;
				case "K":
					if (Number.isNaN(n) || n === 0) line(row).splice(col);
					else if (n === 2) lines[row] = [];
					break;
			}
			continue;
		}
		if (ch === "\r") col = 0;
		else if (ch === "\n") row += 1;
		else if (ch === "\b") col = Math.max(0, col - 1);
		else if (ch >= " ") {
			if (col >= cols) {
				row += 1;
				col = 0;
			}
			const l = line(row);
			while (l.length < col) l.push(" ");
			l[col] = ch;
			col += 1;
		}
	}
	line(row);
	return { lines: lines.map((l) => l.join("").trimEnd()), row };
}

/** The screen rows from `n - 1` above the cursor's row down to it. */
function rowsToCursor(output: string, n: number): string[] {
	const { lines, row } = renderScreen(output);
	return lines.slice(Math.max(0, row - n + 1), row + 1);
}

const HAS_SCRIPT = process.platform === "linux" && spawnSync("script", ["--version"]).status === 0;

describe.skipIf(!HAS_SCRIPT)("claude-relay client on a terminal (util-linux script)", () => {
	function onTerminal(id: string): Proc {
		// script gives the client a real pty; stty fixes its size, so wrapping is predictable.
		const cmd = `stty cols 80 rows 40 2>/dev/null; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} client ${id}`;
		const p = new Proc(spawn("script", ["-qfec", cmd, "/dev/null"], { cwd: ROOT, env: cliEnv({ TERM: "xterm" }), stdio: ["pipe", "pipe", "pipe"] }));
		procs.push(p);
		return p;
	}

	it("prints an incoming message above the prompt and keeps the partial input on the last line", async () => {
		const t = onTerminal("PTY-A");
		await t.waitFor("PTY-A> ");
		t.child.stdin?.write("send:PTY-B hel");
		await t.waitFor("hel");
		const sender = await connectClient(hub.url, "PTY-B");
		clients.push(sender);
		await sender.send("PTY-A", "ping from B");
		await t.waitFor("ping from B");
		await new Promise((r) => setTimeout(r, 150));
		expect(rowsToCursor(t.stdout, 2)).toEqual([expect.stringMatching(/^\[\d\d:\d\d:\d\d\] PTY-B → PTY-A: ping from B$/), "PTY-A> send:PTY-B hel"]);

		// Finish the line: it is sent as typed, then Tab-complete a peer ID.
		t.child.stdin?.write("lo\r");
		await sender.waitReady();
		await t.waitFor("delivered live to PTY-B");
		t.child.stdin?.write("send:PTY-\t");
		await new Promise((r) => setTimeout(r, 200));
		expect(rowsToCursor(t.stdout, 1)).toEqual(["PTY-A> send:PTY-B"]);

		// A long input that wraps over two rows survives messages too: pasted at once (readline echoes it
		// without tracking rows) and then typed key by key.
		t.child.stdin?.write("\u0015"); // Ctrl-U: clear the line
		const long = `send ${"w".repeat(100)}`;
		t.child.stdin?.write(long);
		await new Promise((r) => setTimeout(r, 150));
		await sender.send("PTY-A", "second ping");
		await t.waitFor("second ping");
		await new Promise((r) => setTimeout(r, 150));
		const wrapped = [`PTY-A> ${long}`.slice(0, 80), `PTY-A> ${long}`.slice(80)];
		expect(rowsToCursor(t.stdout, 3)).toEqual([expect.stringMatching(/PTY-B → PTY-A: second ping$/), ...wrapped]);
		for (const ch of "xyz") {
			t.child.stdin?.write(ch);
			await new Promise((r) => setTimeout(r, 20));
		}
		await sender.send("PTY-A", "third ping");
		await t.waitFor("third ping");
		await new Promise((r) => setTimeout(r, 150));
		expect(rowsToCursor(t.stdout, 4)).toEqual([
			expect.stringMatching(/PTY-B → PTY-A: second ping$/),
			expect.stringMatching(/PTY-B → PTY-A: third ping$/),
			wrapped[0],
			`${wrapped[1]}xyz`,
		]);

		t.child.stdin?.write("\u0015quit\r");
		expect(await t.exited).toBe(0);
	});
});

// ---------------------------------------------------------------------------------------------------------
// Pure parts
// ---------------------------------------------------------------------------------------------------------

describe("command parsing and completion", () => {
	it("reads every command, with defaults and bounds", () => {
		expect(parseCommand("send hello  world ")).toEqual({ kind: "send", to: "*", body: "hello  world" });
		expect(parseCommand("send:CC-2 hi there")).toEqual({ kind: "send", to: "CC-2", body: "hi there" });
		expect(parseCommand("send:*  all")).toEqual({ kind: "send", to: "*", body: "all" });
		expect(parseCommand("history")).toEqual({ kind: "history", limit: 20 });
		expect(parseCommand("history 5")).toEqual({ kind: "history", limit: 5 });
		expect(parseCommand("history:CC-2 3")).toEqual({ kind: "history", with: "CC-2", limit: 3 });
		expect(parseCommand("inbox 2")).toEqual({ kind: "inbox", limit: 2, peek: false });
		expect(parseCommand("peek")).toEqual({ kind: "inbox", limit: 20, peek: true });
		expect(parseCommand("wait 1.5")).toEqual({ kind: "wait", seconds: 1.5 });
		expect(parseCommand("reply ok")).toEqual({ kind: "reply", body: "ok", all: false });
		expect(parseCommand("reply-all ok")).toEqual({ kind: "reply", body: "ok", all: true });
		expect(parseCommand("send:#shop:api deploying")).toEqual({ kind: "send", to: "#shop:api", body: "deploying" });
		expect(parseCommand("send:CC-1,CC-2,CC-1 both")).toEqual({ kind: "send", to: "CC-1,CC-2", body: "both" });
		expect(parseCommand("subscribe shop:api")).toEqual({ kind: "subscribe", topic: "shop:api" });
		expect(parseCommand("unsubscribe #shop:api")).toEqual({ kind: "unsubscribe", topic: "#shop:api" });
		expect(parseCommand("topics")).toEqual({ kind: "topics" });
		expect(parseCommand("thread m-18-a8k2p0")).toEqual({ kind: "thread", id: "m-18-a8k2p0" });
		expect(parseCommand("receipts m-18-a8k2p0")).toEqual({ kind: "receipts", id: "m-18-a8k2p0" });
		expect(parseCommand("history:#shop:api 4")).toEqual({ kind: "history", with: "#shop:api", limit: 4 });
		expect(parseCommand("PEERS")).toEqual({ kind: "peers" });
		expect(parseCommand("sessions")).toEqual({ kind: "sessions", more: false });
		expect(parseCommand("sessions more")).toEqual({ kind: "sessions", more: true });
		expect(parseCommand("sessions 5").kind).toBe("invalid");
		expect(parseCommand("exit")).toEqual({ kind: "quit" });
		expect(parseCommand("   ")).toEqual({ kind: "empty" });
	});

	it("explains what is wrong with a bad line", () => {
		const msg = (line: string) => {
			const c = parseCommand(line);
			return c.kind === "invalid" ? c.message : `not invalid: ${c.kind}`;
		};
		expect(msg("send")).toMatch(/send needs a message/);
		expect(msg("send:")).toMatch(/needs an ID after the colon/);
		expect(msg("send:CC-2")).toMatch(/send:CC-2 needs a message/);
		expect(msg("send:../x hi")).toMatch(/path separator/);
		expect(msg("send:#a/b hi")).toMatch(/topic name contains a path separator/);
		expect(msg("send:CC-1,* hi")).toMatch(/a recipient list holds session IDs only/);
		expect(msg("subscribe")).toMatch(/subscribe takes one topic name/);
		expect(msg("subscribe a b")).toMatch(/subscribe takes one topic name/);
		expect(msg("thread <x>")).toMatch(/thread takes a message id: it must be a message id like m-18-a8k2p0/);
		expect(msg("receipts")).toMatch(/receipts takes a message id/);
		expect(msg("history 0")).toMatch(/history takes a whole number from 1 to 500/);
		expect(msg("wait forever")).toMatch(/wait takes a number of seconds/);
		expect(msg("peers now")).toMatch(/peers takes no arguments/);
		expect(msg("dance")).toMatch(/^unknown command "dance"; commands: send <msg>/);
	});

	it("completes commands, and peer IDs after send: and history:", () => {
		expect(complete("se", [])[0]).toEqual(["send", "send:", "sessions"]);
		expect(complete("send:C", ["CC-2", "CC-1", "BOB"])).toEqual([["send:CC-1 ", "send:CC-2 "], "send:C"]);
		expect(complete("history:B", ["CC-2", "BOB"])).toEqual([["history:BOB "], "history:B"]);
		expect(complete("zz", [])[0]).toEqual(COMMAND_NAMES);
		expect(complete("send hel", ["CC-1"])[0]).toEqual([]);
	});
});

describe("formatting", () => {
	const m: Message = { id: "m-1-a", seq: 1, room: "default", from: "CC-1", to: "CC-2", body: "two\nlines", replyTo: null, sentAt: Date.UTC(2025, 0, 1) };

	it("one line per message when piped; indented lines on a terminal", () => {
		expect(formatMessage(m)).toMatch(/^\[\d\d:\d\d:\d\d\] CC-1 → CC-2: two\\nlines$/);
		expect(formatMessage(m, { color: false, multiline: true })).toMatch(/CC-1 → CC-2:\n {4}two\n {4}lines$/);
		expect(formatMessage({ ...m, replyTo: "m-0-z" })).toMatch(/CC-1 → CC-2 \(re m-0-z\): /);
		// A person's message (the hub's mark, set only by POST /api/send) says so; an agent's never does.
		expect(formatMessage({ ...m, from: "Operator", human: true })).toMatch(/\] Operator \(person\) → CC-2: /);
		expect(formatMessage({ ...m, body: "(person)" })).toMatch(/\] CC-1 → CC-2: \(person\)$/);
	});

	it("never writes control characters from a body raw", () => {
		expect(sanitize("a\u001b[2Jb\u0007c\u009bd\u007f", true)).toBe("a^[[2Jb^Gc\\u009bd^?");
		const shown = formatMessage({ ...m, body: "\u001b]0;pwned\u0007" }, { color: false, multiline: true });
		expect([...shown].filter((ch) => ch.charCodeAt(0) < 0x20)).toEqual([]);
	});

	it("shows a reply's thread when it is not the message it answers, and a receipt push in one line", () => {
		expect(formatMessage({ ...m, to: "#shop:api", replyTo: "m-7-b", thread: "m-5-c" })).toMatch(/CC-1 → #shop:api \(re m-7-b, thread m-5-c\): /);
		expect(formatMessage({ ...m, replyTo: "m-7-b", thread: "m-7-b" })).toMatch(/CC-1 → CC-2 \(re m-7-b\): /);
		expect(formatReceiptPush({ message: "m-18-a8k2p0", recipient: "CC-2", state: "seen", at: 1 })).toBe("✓ seen by CC-2 (m-18-a8k2p0)");
		expect(formatReceiptPush({ message: "m-1-a", recipient: "CC-2\u001b[2J", state: "seen", at: 1 })).not.toContain("\u001b");
	});

	it("reply-all goes where the message went: its topic, *, or its list (with the sender, without me)", () => {
		expect(replyAllTarget({ ...m, to: "#shop:api" }, "CC-2")).toBe("#shop:api");
		expect(replyAllTarget({ ...m, to: "*" }, "CC-2")).toBe("*");
		expect(replyAllTarget({ ...m, to: "CC-2,CC-3,CC-4" }, "CC-3")).toBe("CC-1,CC-2,CC-4");
		expect(replyAllTarget(m, "CC-2")).toBe("CC-1");
	});

	it("says where a send went", () => {
		const base = { message: { ...m, id: "m-9-x" }, duplicate: false, warnings: [] };
		expect(formatSendOutcome({ ...base, live: ["B"], queued: [] })).toBe("delivered live to B (m-9-x)");
		expect(formatSendOutcome({ ...base, live: [], queued: ["C"] })).toBe("queued for C (offline) (m-9-x)");
		expect(formatSendOutcome({ ...base, live: ["B"], queued: ["C", "D"] })).toBe("delivered live to B; queued for C, D (offline) (m-9-x)");
		expect(formatSendOutcome({ ...base, live: [], queued: [] })).toBe("stored; it reached no one (m-9-x)");
	});
});
