/**
 * The README's examples must work as written, so that they cannot drift from what the hub accepts again
 * (they once used `ME`/`YOU`, which the hub refuses as reserved words):
 *
 * - every session ID and room name the README and the commands' --help examples put on a command line
 *   (`client X`, `send X … --from Y`, `claude-session X`, `X> ` prompts, `send:X`, `RELAY_CLIENT_ID=X`, …)
 *   passes checkName, the hub's own rule;
 * - the "Sending from scripts" block and the piped test-client line are run, line by line, as a shell would
 *   run them, with `claude-relay` on PATH, against a real hub.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import { checkName, parseTarget } from "../server/protocol.js";
import { testEnv } from "./fixtures/env.js";
import { connectClient, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI, ROOT } from "./fixtures/processes.js";

const README = readFileSync(join(ROOT, "README.md"), "utf8");
const ID = "[A-Za-z][A-Za-z0-9_-]*";

/** Fenced code blocks of a language (sh by default), as their text. */
function codeBlocks(markdown: string, lang = "sh"): string[] {
	return [...markdown.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, "gm"))].map((m) => m[1] ?? "");
}

/** The code spans and blocks of a markdown text: where commands are. */
function codeOf(markdown: string): string {
	const spans = [...markdown.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
	return [...codeBlocks(markdown, "[a-z]*"), ...spans].join("\n");
}

interface Found {
	ids: Array<{ id: string; where: string }>;
	rooms: Array<{ id: string; where: string }>;
	recipients: Array<{ id: string; where: string }>;
}

/** Every session ID, room and recipient that a command line in `code` names. */
function namesIn(code: string): Found {
	const found: Found = { ids: [], rooms: [], recipients: [] };
	const add = (list: Array<{ id: string; where: string }>, re: RegExp) => {
		for (const m of code.matchAll(re)) if (m[1]) list.push({ id: m[1].replace(/^'|'$/g, ""), where: m[0].trim() });
	};
	add(found.ids, new RegExp(`(?:claude-relay|\\$0) client (${ID})`, "g"));
	add(found.ids, new RegExp(`claude-session (${ID})`, "g"));
	add(found.ids, new RegExp(`claude-relay register (${ID})`, "g"));
	add(found.ids, new RegExp(`--(?:from|id|client-id)[ =](${ID})`, "g"));
	add(found.ids, new RegExp(`(?:RELAY_CLIENT_ID|CLAUDE_RELAY_SESSION_ID)=(${ID})`, "g"));
	add(found.ids, new RegExp(`^(${ID})> `, "gm"));
	add(found.recipients, new RegExp(`(?:claude-relay|\\$0) send ('\\*'|${ID})`, "g"));
	add(found.recipients, new RegExp(`(?:send|history):(${ID})`, "g"));
	add(found.rooms, new RegExp(`--room[ =](${ID})`, "g"));
	add(found.rooms, new RegExp(`RELAY_ROOM=(${ID})`, "g"));
	return found;
}

/** The "Examples:" part of a command's --help. */
function helpExamples(args: string[]): string {
	const r = spawnSync(process.execPath, [CLI, ...args, "--help"], { env: testEnv(), encoding: "utf8" });
	expect(r.status).toBe(0);
	const at = r.stdout.indexOf("Examples:");
	expect(at).toBeGreaterThanOrEqual(0);
	// yargs prints `$0` as the script name; put back the command name the checks look for.
	return r.stdout
		.slice(at)
		.split("\n")
		.map((l) => l.trim().replace(/^cli\.js /, "claude-relay "))
		.join("\n");
}

function expectAllValid(found: Found): void {
	for (const { id, where } of [...found.ids, ...found.rooms]) {
		const what = found.rooms.some((r) => r.where === where) ? "room name" : "session ID";
		expect({ where, check: checkName(id, what) }).toEqual({ where, check: { ok: true } });
	}
	for (const { id, where } of found.recipients) expect({ where, ok: parseTarget(id).ok }).toEqual({ where, ok: true });
}

describe("the README's and --help's example IDs pass the hub's name check", () => {
	it("finds the names it checks (a guard against an extraction that matches nothing)", () => {
		const found = namesIn(codeOf(README));
		const ids = found.ids.map((f) => f.where);
		expect(ids).toEqual(expect.arrayContaining(["claude-relay client Dana", "claude-session CC-1", "--from release-bot", "RELAY_CLIENT_ID=ci", "Dana>"]));
		expect(found.recipients.map((r) => r.id)).toEqual(expect.arrayContaining(["CC-1", "CC-2", "*"]));
		// And it would have caught the old examples.
		const old = namesIn("claude-relay client ME\nME> peers\nclaude-relay send CC-2 hi --from ME\n");
		expect(old.ids.map((f) => checkName(f.id).ok)).toEqual([false, false, false]);
	});

	it("README.md", () => {
		expectAllValid(namesIn(codeOf(README)));
	});

	it("docs/PROTOCOL.md", () => {
		expectAllValid(namesIn(codeOf(readFileSync(join(ROOT, "docs", "PROTOCOL.md"), "utf8"))));
	});

	it.each([["client"], ["send"], ["sessions"], ["register"], ["hook"], ["install"], ["tunnel"], ["launchd", "install"], ["mcp"]])("claude-relay %s --help", (...cmd: string[]) => {
		assertBuilt();
		expectAllValid(namesIn(helpExamples(cmd)));
	});
});

describe("the README's command lines run as written", () => {
	let hub: TestHub;
	let home: { dir: string; cleanup: () => void };
	let bin: string;
	const peers: HubClient[] = [];

	beforeAll(async () => {
		assertBuilt();
		hub = await startHub();
		home = tempDir("relay-readme-");
		bin = join(home.dir, "bin");
		mkdirSync(bin);
		// `claude-relay` as `npm link` would put it on PATH.
		writeFileSync(join(bin, "claude-relay"), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
		chmodSync(join(bin, "claude-relay"), 0o755);
		// CC-1 online, answering every message at once (so the piped client's `wait 10` returns at once).
		const cc1 = await connectClient(hub.url, "CC-1");
		cc1.on("message", (m) => void cc1.send(m.from, `got ${m.body}`).catch(() => undefined));
		peers.push(cc1);
	});

	afterAll(async () => {
		for (const p of peers) await p.close();
		await hub?.stop();
		home?.cleanup();
	});

	/** Runs one line with sh, asynchronously (the hub runs in this process and must keep answering). */
	function sh(line: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
		return new Promise((resolve) => {
			const child = spawn("sh", ["-c", line], {
				cwd: ROOT,
				env: testEnv({ PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, RELAY_URL: hub.url, RELAY_HOME: home.dir, NO_COLOR: "1" }),
				stdio: ["ignore", "pipe", "pipe"],
			});
			let stdout = "";
			let stderr = "";
			child.stdout.setEncoding("utf8").on("data", (d: string) => {
				stdout += d;
			});
			child.stderr.setEncoding("utf8").on("data", (d: string) => {
				stderr += d;
			});
			child.on("close", (code) => resolve({ code, stdout, stderr }));
		});
	}

	/** The README's code block that contains `marker`, as its command lines (comments cut off). */
	function block(marker: string): string[] {
		const text = codeBlocks(README).find((b) => b.includes(marker));
		if (!text) throw new Error(`no sh block in README.md contains ${marker}`);
		return text
			.split("\n")
			.map((l) => l.replace(/\s+#.*$/, "").trim())
			.filter(Boolean);
	}

	it("Sending from scripts: every line exits 0 and says delivered or queued", async () => {
		const lines = block('claude-relay send CC-1 "build done"');
		expect(lines.length).toBeGreaterThanOrEqual(5);
		for (const line of lines) {
			const r = await sh(line);
			expect({ line, code: r.code, stderr: r.stderr }).toEqual({ line, code: 0, stderr: expect.not.stringMatching(/reserved|invalid|E_/) });
			// A topic nobody subscribes to in the test's hub is stored and reaches no one: still a success.
			expect(r.stdout).toMatch(/delivered live to|queued for|"message":|stored; it reached no one/);
		}
	});

	it("the piped test client: connects as the README's ID, runs every command, exits 0", async () => {
		const [line] = block("send:CC-1 ping\\nwait 10").filter((l) => l.includes("| claude-relay client"));
		expect(line).toBeDefined();
		const r = await sh(line as string);
		expect(r.stderr).toBe("");
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/connected to ws:\/\/127\.0\.0\.1:\d+ as Dana in room default/);
		expect(r.stdout).toContain("delivered live to CC-1");
		expect(r.stdout).toMatch(/CC-1 → Dana: got ping/);
	});
});
