/**
 * The Claude Code hooks, run as Claude Code runs them: the built CLI (`node dist/cli.js hook <event>`) as a
 * child process with the hook JSON on stdin, against a real in-process hub. The "bridge" holding the session
 * is a HubClient that claimed the ID with the file secret store under the same RELAY_HOME (so the secret the
 * hooks need exists), kept connected.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BODY_MAX_CHARS, CONTEXT_MAX_CHARS, PROMPT_MAX_MESSAGES } from "../mcp-client/claude/hook-prompt.js";
import { MAX_CHAIN, readState, stateFile, stateKey } from "../mcp-client/claude/hook-state.js";
import { HubClient } from "../mcp-client/hub-client.js";
import { FileSecretStore } from "../mcp-client/secrets.js";
import { paths } from "../server/paths.js";
import { minimalEnv } from "./fixtures/env.js";
import { connectClient, startHub, type TestHub } from "./fixtures/hub.js";
import { CLI, freePort } from "./fixtures/processes.js";

interface Run {
	code: number | null;
	stdout: string;
	stderr: string;
	ms: number;
}

let hub: TestHub;
let home: string;
let tmp: string;
const clients: HubClient[] = [];

beforeAll(() => {
	if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`);
});

beforeEach(async () => {
	tmp = mkdtempSync(join(tmpdir(), "relay-hooks-"));
	home = join(tmp, "relay-home");
	hub = await startHub();
});

afterEach(async () => {
	for (const c of clients.splice(0)) await c.close({ bye: false });
	await hub.stop();
	rmSync(tmp, { recursive: true, force: true });
});

/** Claims `session` like the bridge does (secret saved under RELAY_HOME) and stays connected. */
async function bridge(session: string): Promise<HubClient> {
	const client = new HubClient({ url: hub.url, session, secrets: new FileSecretStore(paths.secrets(home)), keepaliveMs: 0, minReconnectDelayMs: 50 });
	await client.waitReady(5_000);
	clients.push(client);
	return client;
}

async function peer(session: string): Promise<HubClient> {
	const client = await connectClient(hub.url, session);
	clients.push(client);
	return client;
}

function hookEnv(session: string | undefined, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
	const env = minimalEnv({ HOME: tmp, RELAY_HOME: home, RELAY_URL: hub.url, ...extra });
	if (session) env.CLAUDE_RELAY_SESSION_ID = session;
	return env;
}

function runHook(args: string[], input: unknown, env: NodeJS.ProcessEnv, timeoutMs = 25_000): Promise<Run> {
	const started = Date.now();
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [CLI, "hook", ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
		let stdout = "";
		let stderr = "";
		child.stdout.setEncoding("utf8").on("data", (d: string) => {
			stdout += d;
		});
		child.stderr.setEncoding("utf8").on("data", (d: string) => {
			stderr += d;
		});
		const timer = setTimeout(() => {
			child.kill("SIGKILL");
			reject(new Error(`hook ${args.join(" ")} did not exit within ${timeoutMs} ms`));
		}, timeoutMs);
		child.on("close", (code) => {
			clearTimeout(timer);
			resolve({ code, stdout, stderr, ms: Date.now() - started });
		});
		child.stdin.end(typeof input === "string" ? input : JSON.stringify(input));
	});
}

const promptInput = (session_id: string, prompt = "hello") => ({ session_id, transcript_path: "/tmp/t.jsonl", cwd: tmp, hook_event_name: "UserPromptSubmit", prompt });
const stopInput = (session_id: string, stop_hook_active = false) => ({ session_id, transcript_path: "/tmp/t.jsonl", cwd: tmp, hook_event_name: "Stop", stop_hook_active });

async function unread(client: HubClient) {
	return client.request("inbox", { peek: true, limit: 1000 });
}

describe("hook prompt (UserPromptSubmit)", () => {
	it("hands unread messages over as additionalContext, in the exact shape, and acks them", async () => {
		const cc1 = await bridge("CC-1");
		const cc2 = await peer("CC-2");
		const first = await cc2.send("CC-1", "Found it: auth.ts line 42");
		const long = "x".repeat(BODY_MAX_CHARS + 500);
		const second = await cc2.send("CC-1", long, { replyTo: first.message.id });

		const run = await runHook(["prompt"], promptInput("claude-1"), hookEnv("CC-1"));
		expect(run.code).toBe(0);
		expect(run.stderr).toBe("");
		const out = JSON.parse(run.stdout) as { hookSpecificOutput: { hookEventName: string; additionalContext: string } };
		expect(Object.keys(out)).toEqual(["hookSpecificOutput"]);
		expect(Object.keys(out.hookSpecificOutput)).toEqual(["hookEventName", "additionalContext"]);
		expect(out.hookSpecificOutput.hookEventName).toBe("UserPromptSubmit");
		const ctx = out.hookSpecificOutput.additionalContext;
		expect(typeof ctx).toBe("string");
		expect(ctx).toContain("2 unread messages for CC-1");
		expect(ctx).toContain("not from the user");
		const nonce = /nonce="([a-z0-9]{10})"/.exec(ctx)?.[1];
		expect(ctx).toContain(`\n<relay-message nonce="${nonce}" id="${first.message.id}" seq="${first.message.seq}" from="CC-2" to="CC-1" sent="`);
		expect(ctx).toContain(`\nFound it: auth.ts line 42\n</relay-message nonce="${nonce}">`);
		expect(ctx).toContain(`id="${second.message.id}" seq="${second.message.seq}" from="CC-2" to="CC-1"`);
		expect(ctx).toContain(`reply_to="${first.message.id}" thread="${first.message.id}" chars="0-${BODY_MAX_CHARS}/${BODY_MAX_CHARS + 500}">`);
		expect(ctx).toContain(`</relay-message nonce="${nonce}">\n… [500 more chars: relay_get {"id":"${second.message.id}","offset":${BODY_MAX_CHARS}}]`);
		expect(ctx).not.toContain("x".repeat(BODY_MAX_CHARS + 1));

		// Acked for the session: the bridge's view of the inbox is empty, and a second prompt adds nothing.
		expect((await unread(cc1)).messages).toEqual([]);
		const again = await runHook(["prompt"], promptInput("claude-1"), hookEnv("CC-1"));
		expect(again).toMatchObject({ code: 0, stdout: "", stderr: "" });
	});

	it("bounds what it hands over and says how many remain (they stay unread)", async () => {
		const cc1 = await bridge("CC-1");
		const cc2 = await peer("CC-2");
		for (let i = 0; i < PROMPT_MAX_MESSAGES + 5; i++) await cc2.send("CC-1", `message ${i} ${"y".repeat(900)}`);
		const run = await runHook(["prompt"], promptInput("claude-1"), hookEnv("CC-1"));
		expect(run.code).toBe(0);
		const ctx = (JSON.parse(run.stdout) as { hookSpecificOutput: { additionalContext: string } }).hookSpecificOutput.additionalContext;
		expect(ctx.length).toBeLessThanOrEqual(CONTEXT_MAX_CHARS);
		const shown = (ctx.match(/^<relay-message nonce="[a-z0-9]{10}" id="m-\d+-[a-z0-9]{6}" seq="\d+" from="CC-2" /gm) ?? []).length;
		expect(shown).toBeGreaterThan(0);
		expect(shown).toBeLessThan(PROMPT_MAX_MESSAGES);
		const left = PROMPT_MAX_MESSAGES + 5 - shown;
		expect(ctx).toContain(`${left} more unread messages wait: read them with relay_receive.`);
		expect(ctx).toContain("message 0 ");
		// Only what was shown was acked; the rest waits, oldest first.
		const rest = await unread(cc1);
		expect(rest.messages.length).toBe(left);
		expect(rest.messages[0]?.body.startsWith(`message ${shown} `)).toBe(true);
	});

	it("reads invalid or empty stdin as {} and still works", async () => {
		await bridge("CC-1");
		const cc2 = await peer("CC-2");
		await cc2.send("CC-1", "hi");
		const run = await runHook(["prompt"], "this is not json", hookEnv("CC-1"));
		expect(run.code).toBe(0);
		expect(JSON.parse(run.stdout).hookSpecificOutput.additionalContext).toContain("hi");
	});
});

describe("hook stop (Stop)", () => {
	it("stays silent with no mail, blocks with the exact shape when mail waits, and consumes nothing", async () => {
		const cc1 = await bridge("CC-1");
		const cc2 = await peer("CC-2");
		const cc3 = await peer("CC-3");
		const none = await runHook(["stop"], stopInput("claude-1"), hookEnv("CC-1"));
		expect(none).toMatchObject({ code: 0, stdout: "", stderr: "" });

		await cc1.request("subscribe", { topic: "shop:api" });
		const one = await cc2.send("CC-1", "one");
		const two = await cc3.send("#shop:api", "two", { replyTo: one.message.id });
		const run = await runHook(["stop"], stopInput("claude-1"), hookEnv("CC-1"));
		expect(run.code).toBe(0);
		expect(run.stderr).toBe("");
		const out = JSON.parse(run.stdout) as { decision: string; reason: string };
		expect(Object.keys(out)).toEqual(["decision", "reason"]);
		expect(out.decision).toBe("block");
		// Where each went, and its thread (the second is a reply in the first's).
		expect(two.message.thread).toBe(one.message.id);
		expect(out.reason).toBe(
			`You have 2 unread relay messages from CC-2, CC-3 (CC-2 to CC-1 in thread ${one.message.id}; CC-3 to #shop:api in thread ${one.message.id}). Read them with relay_receive and answer if needed before stopping. They come from other Claude Code sessions (agents), not from the user.`,
		);
		expect((await unread(cc1)).messages.map((m) => m.body)).toEqual(["one", "two"]);
	});

	it("a stray file where its state's lock directory belongs is removed, and the hook still decides", async () => {
		await bridge("CC-1");
		const cc2 = await peer("CC-2");
		await cc2.send("CC-1", "one");
		const lock = join(home, "state", "hooks-c-claude-9.json.lock");
		mkdirSync(join(home, "state"), { recursive: true });
		writeFileSync(lock, "not a lock directory\n");
		const run = await runHook(["stop"], stopInput("claude-9"), hookEnv("CC-1"));
		expect(run.code).toBe(0);
		expect(JSON.parse(run.stdout)).toMatchObject({ decision: "block" });
		expect(existsSync(lock)).toBe(false);
	});

	it("honours stop_hook_active: blocks again only for new mail", async () => {
		await bridge("CC-1");
		const cc2 = await peer("CC-2");
		await cc2.send("CC-1", "one");
		const first = await runHook(["stop"], stopInput("claude-1"), hookEnv("CC-1"));
		expect(JSON.parse(first.stdout).decision).toBe("block");
		// The model went on, did not read it, and stops again: the same mail does not block twice.
		const same = await runHook(["stop"], stopInput("claude-1", true), hookEnv("CC-1"));
		expect(same).toMatchObject({ code: 0, stdout: "" });
		// New mail does.
		await cc2.send("CC-1", "two");
		const fresh = await runHook(["stop"], stopInput("claude-1", true), hookEnv("CC-1"));
		expect(JSON.parse(fresh.stdout)).toEqual({
			decision: "block",
			reason: expect.stringContaining("You have 2 unread relay messages from CC-2 (CC-2 to CC-1 in thread m-"),
		});
	});

	it("caps automatic turns in a row, and a prompt from the user resets the cap", async () => {
		await bridge("CC-1");
		const cc2 = await peer("CC-2");
		for (let i = 1; i <= MAX_CHAIN; i++) {
			await cc2.send("CC-1", `ping ${i}`);
			const run = await runHook(["stop"], stopInput("claude-1", i > 1), hookEnv("CC-1"));
			expect(JSON.parse(run.stdout).decision).toBe("block");
		}
		await cc2.send("CC-1", "one more");
		const capped = await runHook(["stop"], stopInput("claude-1", true), hookEnv("CC-1"));
		expect(capped.code).toBe(0);
		const out = JSON.parse(capped.stdout) as Record<string, unknown>;
		expect(Object.keys(out)).toEqual(["systemMessage"]);
		expect(out.systemMessage).toContain("loop guard");

		// The user types: the prompt hook hands the mail over and ends the chain.
		const prompt = await runHook(["prompt"], promptInput("claude-1"), hookEnv("CC-1"));
		expect(JSON.parse(prompt.stdout).hookSpecificOutput.additionalContext).toContain("one more");
		await cc2.send("CC-1", "after the user spoke");
		const again = await runHook(["stop"], stopInput("claude-1"), hookEnv("CC-1"));
		expect(JSON.parse(again.stdout).decision).toBe("block");
	});

	it("stops two sessions ping-ponging through their stop hooks", async () => {
		const a = await bridge("CC-A");
		const b = await bridge("CC-B");
		await a.send("CC-B", "hi B");
		const blocks = { "CC-A": 0, "CC-B": 0 };
		const sides = [
			{ id: "CC-B" as const, client: b, other: "CC-A", claude: "claude-b" },
			{ id: "CC-A" as const, client: a, other: "CC-B", claude: "claude-a" },
		];
		let rounds = 0;
		let active = { "CC-A": false, "CC-B": false };
		// Each side: its stop hook runs; if it blocks, the "model" reads and answers (a new message for the
		// other side) and stops again with stop_hook_active. Without the guard this never ends.
		for (; rounds < 20; rounds++) {
			let anyBlocked = false;
			for (const side of sides) {
				const run = await runHook(["stop"], stopInput(side.claude, active[side.id]), hookEnv(side.id));
				const blocked = run.stdout !== "" && (JSON.parse(run.stdout) as { decision?: string }).decision === "block";
				active = { ...active, [side.id]: blocked };
				if (!blocked) continue;
				anyBlocked = true;
				blocks[side.id]++;
				const page = await side.client.request("inbox", { limit: 100 });
				expect(page.messages.length).toBeGreaterThan(0);
				await side.client.send(side.other, `re: ${page.messages.at(-1)?.body}`);
			}
			if (!anyBlocked) break;
		}
		// Each side continued automatically MAX_CHAIN times, then the guard ended the exchange.
		expect(rounds).toBeLessThan(20);
		expect(blocks).toEqual({ "CC-A": MAX_CHAIN, "CC-B": MAX_CHAIN });
	});
});

describe("hook wake (asyncRewake)", () => {
	it("exits 2 with one stderr line when a message comes, and acks nothing", async () => {
		const cc1 = await bridge("CC-1");
		const cc2 = await peer("CC-2");
		const wake = runHook(["wake", "--timeout", "20"], { session_id: "claude-1", hook_event_name: "SessionStart", source: "startup" }, hookEnv("CC-1"));
		await new Promise((r) => setTimeout(r, 1_500));
		const sent = await cc2.send("CC-1", "are you there?");
		const run = await wake;
		expect(run.code).toBe(2);
		expect(run.stdout).toBe("");
		expect(run.stderr).toBe(
			`claude-relay wake: new message from CC-2 for CC-1 (CC-2 to CC-1 in thread ${sent.message.id}) — read it with relay_receive (it comes from another agent, not the user)\n`,
		);
		expect(run.ms).toBeLessThan(15_000);
		expect((await unread(cc1)).messages.map((m) => m.body)).toEqual(["are you there?"]);
	});

	it("exits 2 at once for mail already waiting at start", async () => {
		await bridge("CC-1");
		const cc2 = await peer("CC-2");
		const cc3 = await peer("CC-3");
		await cc2.send("CC-1", "one");
		await cc3.send("CC-1", "two");
		const run = await runHook(["wake", "--timeout", "20"], { session_id: "claude-1", hook_event_name: "SessionStart" }, hookEnv("CC-1"));
		expect(run.code).toBe(2);
		expect(run.stderr).toMatch(
			/^claude-relay wake: 2 new messages from CC-2, CC-3 for CC-1 \(CC-2 to CC-1 in thread m-\d+-[a-z0-9]{6}; CC-3 to CC-1 in thread m-\d+-[a-z0-9]{6}\) — read them with relay_receive/,
		);
		expect(run.ms).toBeLessThan(8_000);
	});

	it("exits 0 silently at its timeout", async () => {
		await bridge("CC-1");
		const run = await runHook(["wake", "--timeout", "1"], { session_id: "claude-1", hook_event_name: "Stop" }, hookEnv("CC-1"));
		expect(run).toMatchObject({ code: 0, stdout: "", stderr: "" });
		expect(run.ms).toBeLessThan(8_000);
	});

	it("does not wake for mail the stop hook of the same Stop already blocked for, but for newer mail", async () => {
		await bridge("CC-1");
		const cc2 = await peer("CC-2");
		await cc2.send("CC-1", "one");
		const wake = runHook(["wake", "--timeout", "20"], stopInput("claude-1"), hookEnv("CC-1"));
		const stop = await runHook(["stop"], stopInput("claude-1"), hookEnv("CC-1"));
		expect(JSON.parse(stop.stdout).decision).toBe("block");
		// Past the wake hook's wait for the stop decision: it is still waiting, not woken by "one".
		await new Promise((r) => setTimeout(r, 6_000));
		const cc3 = await peer("CC-3");
		const two = await cc3.send("CC-1", "two");
		const run = await wake;
		expect(run.code).toBe(2);
		expect(run.stderr).toBe(
			`claude-relay wake: new message from CC-3 for CC-1 (CC-3 to CC-1 in thread ${two.message.id}) — read it with relay_receive (it comes from another agent, not the user)\n`,
		);
		expect(run.ms).toBeGreaterThan(6_000);
	});

	it("the loop guard's cap holds wakes back too", async () => {
		await bridge("CC-1");
		const cc2 = await peer("CC-2");
		for (let i = 1; i <= MAX_CHAIN; i++) {
			await cc2.send("CC-1", `ping ${i}`);
			const run = await runHook(["stop"], stopInput("claude-1", i > 1), hookEnv("CC-1"));
			expect(JSON.parse(run.stdout).decision).toBe("block");
		}
		const wake = runHook(["wake", "--timeout", "4"], { session_id: "claude-1", hook_event_name: "SessionStart" }, hookEnv("CC-1"));
		await new Promise((r) => setTimeout(r, 1_000));
		await cc2.send("CC-1", "still there?");
		expect(await wake).toMatchObject({ code: 0, stdout: "", stderr: "" });
	});

	it("a newer waiter replaces an older one: one process, one wake", async () => {
		await bridge("CC-1");
		const cc2 = await peer("CC-2");
		const older = runHook(["wake", "--timeout", "20"], { session_id: "claude-1", hook_event_name: "SessionStart" }, hookEnv("CC-1"));
		// "Newer" means registered later: wait until the older waiter has written its token (a fixed sleep
		// was not enough on a loaded machine, where node can take longer than that to start the older one).
		const state = stateFile(home, stateKey("claude-1", "CC-1", "default"));
		const deadline = Date.now() + 15_000;
		while (!readState(state).wake) {
			if (Date.now() > deadline) throw new Error("the first wake hook never registered");
			await new Promise((r) => setTimeout(r, 20));
		}
		const newer = runHook(["wake", "--timeout", "20"], { session_id: "claude-1", hook_event_name: "SessionStart" }, hookEnv("CC-1"));
		const first = await older;
		expect(first).toMatchObject({ code: 0, stdout: "", stderr: "" });
		await cc2.send("CC-1", "ping");
		const second = await newer;
		expect(second.code).toBe(2);
		expect(second.stderr).toContain("new message from CC-2");
	});

	it("a prompt from the user retires the waiter (the session is busy, not idle)", async () => {
		await bridge("CC-1");
		const wake = runHook(["wake", "--timeout", "20"], { session_id: "claude-1", hook_event_name: "SessionStart" }, hookEnv("CC-1"));
		await new Promise((r) => setTimeout(r, 1_500));
		const prompt = await runHook(["prompt"], promptInput("claude-1"), hookEnv("CC-1"));
		expect(prompt).toMatchObject({ code: 0, stdout: "" });
		const run = await wake;
		expect(run).toMatchObject({ code: 0, stdout: "", stderr: "" });
		expect(run.ms).toBeLessThan(8_000);
	});
});

describe("silence when the session is not bridged or the hub is away", () => {
	it("hub unreachable: every hook exits 0 with no output, quickly", async () => {
		await bridge("CC-1");
		const port = await freePort();
		const env = hookEnv("CC-1", { RELAY_URL: `ws://127.0.0.1:${port}` });
		for (const [args, input] of [
			[["prompt"], promptInput("claude-1")],
			[["stop"], stopInput("claude-1")],
			[["wake", "--timeout", "2"], stopInput("claude-1")],
		] as const) {
			const run = await runHook([...args], input, env);
			expect(run, args.join(" ")).toMatchObject({ code: 0, stdout: "", stderr: "" });
			expect(run.ms).toBeLessThan(args[0] === "wake" ? 10_000 : 5_500);
		}
	});

	it("no session ID, an invalid one, or no stored secret: silent", async () => {
		await bridge("CC-1");
		const cc2 = await peer("CC-2");
		await cc2.send("CC-1", "hi");
		await cc2.send("CC-3", "hi"); // CC-3 exists nowhere: no secret
		for (const env of [hookEnv(undefined), hookEnv("not a valid id!"), hookEnv("CC-3"), hookEnv("CC-2")]) {
			for (const event of ["prompt", "stop"]) {
				const run = await runHook([event], event === "prompt" ? promptInput("c") : stopInput("c"), env);
				expect(run).toMatchObject({ code: 0, stdout: "", stderr: "" });
			}
		}
	});

	it("a secret file that is a symbolic link is refused: silent, its target untouched, the reason logged", async () => {
		const cc1 = await bridge("CC-1");
		const cc2 = await peer("CC-2");
		await cc2.send("CC-1", "would be handed over through the link");
		const file = new FileSecretStore(paths.secrets(home)).file("default", "CC-1");
		const target = join(tmp, "elsewhere.secret");
		writeFileSync(target, readFileSync(file, "utf8"), { mode: 0o644 });
		rmSync(file);
		symlinkSync(target, file);
		const run = await runHook(["prompt"], promptInput("c"), hookEnv("CC-1", { RELAY_HOOK_DEBUG: "1" }));
		expect(run).toMatchObject({ code: 0, stdout: "", stderr: "" });
		expect(statSync(target).mode & 0o777).toBe(0o644);
		const log = readFileSync(join(home, "logs", "hooks.log"), "utf8");
		expect(log).toMatch(/refusing the secret file .*CC-1\.secret: it is a symbolic link/);
		expect((await unread(cc1)).messages).toHaveLength(1);
	});

	it("an unusable command line exits 0 with no output and says why in the log only", async () => {
		await bridge("CC-1");
		const cases = [["prompt", "--no-such-flag"], ["bogus"], [], ["prompt", "stop"], ["stop", "--url"]];
		for (const args of cases) {
			const run = await runHook(args, {}, hookEnv("CC-1"));
			expect(run, `hook ${args.join(" ")}`).toMatchObject({ code: 0, stdout: "", stderr: "" });
		}
		const log = readFileSync(join(home, "logs", "hooks.log"), "utf8").trimEnd().split("\n");
		expect(log).toHaveLength(cases.length);
		for (const [i, line] of log.entries()) {
			const entry = JSON.parse(line) as { level: string; msg: string };
			expect(entry.level).toBe("error");
			expect(entry.msg).toContain(JSON.stringify(cases[i]));
			expect(entry.msg).toContain("expected hook prompt|stop|wake");
		}
	});
});
