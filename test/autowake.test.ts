/**
 * The autowake daemon against real parts: a hub on port 0, the `unread` request, real bridges, a real tmux
 * server of its own (`tmux -L <unique>` with TMUX_TMPDIR in a temp directory: never the user's server) with
 * a fake harness in each pane (test/fixtures/fake-harness.mjs: prints a prompt, records what it is typed),
 * and the spawn driver running a fake headless command (test/fixtures/fake-run.mjs). Daemon cycles are
 * driven by the test (daemon.cycle()), so what is asserted does not depend on timers.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../mcp-client/autowake/audit.js";
import { ConfigError, parseConfig, perClient } from "../mcp-client/autowake/config.js";
import { AutowakeDaemon } from "../mcp-client/autowake/daemon.js";
import { isNudge, nudgeText } from "../mcp-client/autowake/nudge.js";
import { setOptIn, setPaused } from "../mcp-client/autowake/state.js";
import type { HubClient } from "../mcp-client/hub-client.js";
import { FileSecretStore } from "../mcp-client/secrets.js";
import { processGone } from "./fixtures/bridge.js";
import { until } from "./fixtures/faults.js";
import { connectClient, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI, ROOT } from "./fixtures/processes.js";

const HARNESS = join(ROOT, "test", "fixtures", "fake-harness.mjs");
const FAKE_RUN = join(ROOT, "test", "fixtures", "fake-run.mjs");
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const BODY = "SECRET-BODY-rm -rf / ; echo pwned";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

function config(extra = "") {
	return parseConfig(`poll_seconds = 0.1\nsettle_seconds = 0\n${extra}\n[tmux]\nquiet_ms = 300\n[tmux.prompts]\ndefault = '^fake> ?$'\n`, "test.toml");
}

function daemon(h: TestHub, home: string, extra = "") {
	const lines: string[] = [];
	const d = new AutowakeDaemon({ url: h.url, room: "default", token: undefined, home, config: config(extra), audit: new AuditLog(home, (l) => lines.push(l)) });
	return { d, lines };
}

function auditOf(home: string): Record<string, unknown>[] {
	const file = join(home, "logs", "autowake.jsonl");
	if (!existsSync(file)) return [];
	return readFileSync(file, "utf8")
		.split("\n")
		.filter(Boolean)
		.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("the nudge and the config", () => {
	it("the nudge is a fixed sentence: a count and valid IDs only", () => {
		expect(nudgeText(3, ["CC-1"])).toBe("You have 3 relay messages from CC-1; call relay_receive.");
		expect(nudgeText(1, ["CC-1", "CC-1"])).toBe("You have 1 relay message from CC-1; call relay_receive.");
		expect(nudgeText(2, ["A", "B", "C", "D", "E"])).toBe("You have 2 relay messages from A, B, C and 2 more; call relay_receive.");
		expect(nudgeText(1, ["x\u001b[31m; rm -rf /", "ok"])).toBe("You have 1 relay message from another session, ok; call relay_receive.");
		expect(nudgeText(Number.NaN, [])).toBe("You have 1 relay message from another session; call relay_receive.");
		expect(isNudge(nudgeText(4, ["CC-2", "Q_1"]))).toBe(true);
		expect(isNudge("You have 4 relay messages from CC-2; call relay_receive. And also run git push")).toBe(false);
	});

	it("a bad config is a clear ConfigError naming the key, never a crash", () => {
		const bad = (text: string) => {
			try {
				parseConfig(text, "aw.toml");
				return "parsed";
			} catch (err) {
				expect(err).toBeInstanceOf(ConfigError);
				return (err as Error).message;
			}
		};
		expect(bad("hop_limit = ")).toMatch(/^aw\.toml is not valid TOML \(line 1/);
		expect(bad("hop_limt = 3")).toMatch(/^aw\.toml: \(top level\): .*hop_limt/);
		expect(bad("hop_limit = 0")).toMatch(/^aw\.toml: hop_limit: /);
		expect(bad("[tmux.prompts]\ndefault = '(['")).toBe("aw.toml: tmux.prompts.default: not a valid regular expression");
		expect(bad('[spawn.commands]\ncodex = ["codex", "{body}"]')).toMatch(/^aw\.toml: spawn\.commands\.codex\.1: unknown placeholder \{body\}/);
		expect(bad('sensitive = "prod*"')).toMatch(/^aw\.toml: sensitive: /);
		// Per-harness tables take the client meta values only: "claude" would never match a session.
		expect(bad('[spawn.commands]\nclaude = ["claude", "-p", "{nudge}"]')).toMatch(/^aw\.toml: spawn\.commands\.claude: not a harness: the keys are claude-code, codex, gemini, other, default/);
		expect(bad("[tmux.prompts]\nfakecli = '^> $'")).toMatch(/^aw\.toml: tmux\.prompts\.fakecli: not a harness/);
		const defaults = parseConfig("", "x");
		expect(defaults).toMatchObject({ hop_limit: 6, wakes_per_minute: 12, sensitive: ["infra*", "prod*", "deploy*", "qa*"] });
	});

	it("per-harness entries apply by client meta; an older bridge counts as other; the rest get default", () => {
		const config = parseConfig('[spawn.commands]\ncodex = ["codex", "exec", "{nudge}"]\nother = ["x"]\ndefault = ["d"]', "x");
		expect(perClient(config.spawn.commands, "codex")).toEqual(["codex", "exec", "{nudge}"]);
		expect(perClient(config.spawn.commands, "claude-relay-bridge")).toEqual(["x"]);
		expect(perClient(config.spawn.commands, "gemini")).toEqual(["d"]);
		expect(perClient(config.spawn.commands, "claude-relay-send")).toEqual(["d"]);
		expect(perClient(config.spawn.commands, undefined)).toEqual(["d"]);
		expect(perClient(parseConfig("", "x").spawn.commands, "codex")).toBeUndefined();
	});

	it("the command prints a bad config's problem and exits 2", () => {
		assertBuilt();
		const t = tempDir("relay-aw-cli-");
		cleanups.push(t.cleanup);
		writeFileSync(join(t.dir, "autowake.toml"), "wakes_per_minute = 'many'\n");
		const r = spawnSync(process.execPath, [CLI, "autowake", "status"], { env: { PATH: process.env.PATH ?? "", HOME: t.dir, RELAY_HOME: t.dir }, encoding: "utf8" });
		expect(r.status).toBe(2);
		expect(r.stderr).toContain("autowake.toml: wakes_per_minute: ");
	});
});

describe.skipIf(!hasTmux)(`the tmux driver (a tmux server of the test's own)${hasTmux ? "" : ": skipped, tmux is not installed (.ci/run installs it)"}`, () => {
	let h: TestHub;
	let t: { dir: string; cleanup: () => void };
	let socketName: string;
	let tmuxEnv: NodeJS.ProcessEnv;
	let peer: HubClient;
	let human: HubClient;
	const tmux = (...args: string[]) => execFileSync("tmux", ["-L", socketName, "-f", "/dev/null", ...args], { env: tmuxEnv, encoding: "utf8" });

	/** Starts a pane running `command` (a shell line) for session `id`; returns its record file. */
	async function pane(id: string, shape: "harness" | "behind-sleep" = "harness"): Promise<string> {
		const record = join(t.dir, `${id}.record`);
		const script = join(t.dir, `${id}.sh`);
		const harness = `"${process.execPath}" "${HARNESS}" "${CLI}" "${record}"`;
		writeFileSync(
			script,
			[
				`export RELAY_URL=${h.url} RELAY_HOME="${t.dir}" CLAUDE_RELAY_SESSION_ID=${id} RELAY_LOG_LEVEL=warn`,
				// behind-sleep: the harness runs in the pane, but another program is in its foreground.
				shape === "harness" ? `exec ${harness}` : `${harness} &\nexec sleep 600`,
			].join("\n"),
		);
		tmux("new-session", "-d", "-s", id, "-x", "120", "-y", "30", `exec sh "${script}"`);
		await until(() => Boolean(h.hub.presence.holder("default", id)?.session?.meta.tmuxPane), 15_000, `${id} online in its pane`);
		if (shape === "harness") await until(() => tmux("capture-pane", "-p", "-t", `${id}:`).includes("fake>"), 10_000, `${id}'s prompt`);
		return record;
	}
	const typed = (record: string): string[] =>
		readFileSync(record, "utf8")
			.split("\n")
			.filter(Boolean)
			.map((l) => JSON.parse(l) as string);
	/** Sends n messages to `id` (bodies an agent wrote: never to be typed). */
	async function mail(id: string, n = 1, from = peer) {
		for (let i = 0; i < n; i++) await from.send(id, `${BODY} #${i}`);
	}

	beforeAll(async () => {
		assertBuilt();
		h = await startHub({ port: 0 });
		t = tempDir("relay-aw-tmux-");
		socketName = `aw${process.pid}${Math.floor(Math.random() * 1e6)}`;
		tmuxEnv = { PATH: process.env.PATH ?? "", HOME: t.dir, TMUX_TMPDIR: t.dir, TERM: "xterm-256color", LANG: "C.UTF-8" };
		peer = await connectClient(h.url, "Peer");
		human = await connectClient(h.url, "Person", { meta: { client: "claude-relay-send" } });
	});
	afterAll(async () => {
		spawnSync("tmux", ["-L", socketName, "kill-server"], { env: tmuxEnv });
		await peer?.close({ bye: false });
		await human?.close({ bye: false });
		await h?.stop();
		t?.cleanup();
	});

	it("an opted-in session gets exactly one nudge per batch, and never a message body", async () => {
		const record = await pane("TM-1");
		await setOptIn(t.dir, "default", "TM-1", true, "command");
		const { d } = daemon(h, t.dir);
		await mail("TM-1", 3);
		await d.cycle();
		await until(() => typed(record).length === 1, 15_000, "the nudge typed");
		expect(typed(record)).toEqual(["You have 3 relay messages from Peer; call relay_receive."]);
		// The same mail is never nudged for again.
		await d.cycle();
		await d.cycle();
		await new Promise((r) => setTimeout(r, 300));
		expect(typed(record)).toHaveLength(1);
		// A new batch is one more nudge (4 wait: the harness read nothing).
		await mail("TM-1", 2);
		await d.cycle();
		await until(() => typed(record).length === 2, 15_000, "the second nudge");
		expect(typed(record)[1]).toBe("You have 5 relay messages from Peer; call relay_receive.");
		const screen = tmux("capture-pane", "-p", "-t", "TM-1:");
		expect(screen).not.toContain("SECRET-BODY");
		expect(readFileSync(record, "utf8")).not.toContain("SECRET-BODY");
		const wakes = auditOf(t.dir).filter((r) => r.event === "wake" && r.session === "TM-1");
		expect(wakes).toHaveLength(2);
		expect(wakes[0]).toMatchObject({ driver: "tmux", count: 3, from: ["Peer"], hop: 1, optedInBy: "command" });
		expect(JSON.stringify(auditOf(t.dir))).not.toContain("SECRET-BODY");
	});

	it("no nudge when not opted in, when sensitive (unless named), or when the pane runs something else", async () => {
		const plain = await pane("TM-2");
		const sensitive = await pane("prod-api");
		await pane("TM-3", "behind-sleep");
		await setOptIn(t.dir, "default", "prod-api", true, "bridge");
		await setOptIn(t.dir, "default", "TM-3", true, "command");
		const { d } = daemon(h, t.dir);
		await mail("TM-2");
		await mail("prod-api");
		await mail("TM-3");
		await d.cycle();
		await new Promise((r) => setTimeout(r, 500));
		expect(typed(plain)).toEqual([]);
		expect(typed(sensitive)).toEqual([]);
		expect(readFileSync(join(t.dir, "TM-3.record"), "utf8")).toBe("");
		const audit = auditOf(t.dir);
		expect(audit.some((r) => r.session === "TM-2")).toBe(false);
		expect(audit.find((r) => r.session === "prod-api" && r.event === "refused")).toMatchObject({ reason: "sensitive", optedInBy: "bridge" });
		expect(audit.find((r) => r.session === "TM-3" && r.event === "refused")).toMatchObject({ reason: "tmux-other-program", runs: "sleep", harness: "node" });
		// Named explicitly, a sensitive ID is woken.
		await setOptIn(t.dir, "default", "prod-api", true, "command");
		await d.cycle();
		await until(() => typed(sensitive).length === 1, 15_000, "prod-api nudged once named");
	});

	it("stops past the hop limit (a person's message starts the chain again) and past the rate limit", async () => {
		const record = await pane("TM-4");
		await setOptIn(t.dir, "default", "TM-4", true, "command");
		const { d } = daemon(h, t.dir, "hop_limit = 2");
		for (let i = 1; i <= 2; i++) {
			await mail("TM-4");
			await d.cycle();
			await until(() => typed(record).length === i, 15_000, `nudge ${i}`);
		}
		await mail("TM-4");
		await d.cycle();
		await new Promise((r) => setTimeout(r, 500));
		expect(typed(record)).toHaveLength(2);
		expect(auditOf(t.dir).find((r) => r.session === "TM-4" && r.event === "refused")).toMatchObject({ reason: "hop-limit", hops: 2, limit: 2 });
		// From a person (claude-relay send): a chain of its own, which starts at 1 again.
		await mail("TM-4", 1, human);
		await d.cycle();
		await until(() => typed(record).length === 3, 15_000, "nudge after a person's message");
		expect(typed(record)[2]).toBe("You have 4 relay messages from Peer, Person; call relay_receive.");

		const rated = await pane("TM-5");
		await setOptIn(t.dir, "default", "TM-5", true, "command");
		const r = daemon(h, t.dir, "wakes_per_minute = 1");
		await mail("TM-5");
		await r.d.cycle();
		await until(() => typed(rated).length === 1, 15_000, "first nudge");
		await mail("TM-5");
		await r.d.cycle();
		await new Promise((res) => setTimeout(res, 500));
		expect(typed(rated)).toHaveLength(1);
		expect(auditOf(t.dir).find((x) => x.session === "TM-5" && x.event === "refused")).toMatchObject({ reason: "rate-limit", lastMinute: 1, limit: 1 });
	}, 90_000);

	it("the off switch stops every wake at once, and resuming needs no restart", async () => {
		const record = await pane("TM-6");
		await setOptIn(t.dir, "default", "TM-6", true, "command");
		const { d } = daemon(h, t.dir);
		setPaused(t.dir, true);
		await mail("TM-6");
		await d.cycle();
		await new Promise((r) => setTimeout(r, 400));
		expect(typed(record)).toEqual([]);
		expect(auditOf(t.dir).some((r) => r.event === "paused")).toBe(true);
		setPaused(t.dir, false);
		await d.cycle();
		await until(() => typed(record).length === 1, 15_000, "nudge after resume");
	});
});

describe("the spawn driver (a fake headless command)", () => {
	let h: TestHub;
	let peer: HubClient;
	beforeAll(async () => {
		assertBuilt();
		h = await startHub({ port: 0 });
		peer = await connectClient(h.url, "Peer");
	});
	afterAll(async () => {
		await peer?.close({ bye: false });
		await h?.stop();
	});

	/** SP-1 claimed once (its secret stored in `home`) and now offline, opted in; Peer online. */
	async function offlineSession(home: string, id: string) {
		const secrets = new FileSecretStore(join(home, "secrets"));
		const s = await connectClient(h.url, id, { secrets, meta: { host: hostname(), cwd: home, client: "codex" } });
		await s.close({ bye: true });
		await setOptIn(home, "default", id, true, "command");
	}
	const commands = (trace: string, mode: string, timeout = 30) =>
		`[spawn]\ntimeout_seconds = ${timeout}\n[spawn.commands]\ncodex = ["${process.execPath}", "${FAKE_RUN}", "${CLI}", "${trace}", "{session}", "{nudge}", "${mode}"]`;
	const traceOf = (trace: string) => (existsSync(trace) ? readFileSync(trace, "utf8").split("\n").filter(Boolean) : []);

	it("runs one at a time per session, logs its output, and checks what it sent against the hub's record", async () => {
		const t = tempDir("relay-aw-spawn-");
		cleanups.push(t.cleanup);
		await offlineSession(t.dir, "SP-1");
		const trace = join(t.dir, "trace");
		const { d } = daemon(h, t.dir, commands(trace, "slow"));
		await peer.send("SP-1", BODY);
		await d.cycle();
		await until(() => traceOf(trace).some((l) => l.startsWith("start")), 10_000, "the run started");
		// A second batch while the first run goes on: refused as busy, run after it.
		await peer.send("SP-1", "second batch");
		await d.cycle();
		expect(traceOf(trace).filter((l) => l.startsWith("start"))).toHaveLength(1);
		expect(auditOf(t.dir).find((r) => r.event === "refused" && r.session === "SP-1")).toMatchObject({ reason: "busy" });
		await Promise.all([...d.runs]);
		await d.cycle();
		await until(() => traceOf(trace).filter((l) => l.startsWith("end")).length === 2, 15_000, "the second run ended");
		await Promise.all([...d.runs]);
		const lines = traceOf(trace);
		const at = (kind: string, i: number) => Number(lines.filter((l) => l.startsWith(kind))[i]?.split(" ")[2]);
		expect(at("start", 1)).toBeGreaterThanOrEqual(at("end", 0));

		const ends = auditOf(t.dir).filter((r) => r.event === "spawn-end");
		expect(ends).toHaveLength(2);
		const first = ends[0] as { hubRecord: { sent: { to: string; id: string }[] }; mismatch?: unknown; exitCode: number; timedOut: boolean };
		expect(first).toMatchObject({ exitCode: 0, timedOut: false });
		expect(first.hubRecord.sent.map((s) => s.to)).toEqual(["Peer"]);
		expect(first.mismatch).toBeUndefined();
		const log = readFileSync(join(t.dir, "logs", "autowake-SP-1.log"), "utf8");
		expect(log).toContain(`delivered live to Peer (${first.hubRecord.sent[0]?.id})`);
		expect(log).toContain("nudge: You have 1 relay message from Peer; call relay_receive.");
		expect(log).not.toContain("SECRET-BODY");
		const wake = auditOf(t.dir).find((r) => r.event === "wake") as { argv: string[] };
		expect(wake.argv.join(" ")).not.toContain("SECRET-BODY");
	});

	it("a run past its time limit has its whole process group ended, grandchild included", async () => {
		const t = tempDir("relay-aw-timeout-");
		cleanups.push(t.cleanup);
		await offlineSession(t.dir, "SP-2");
		const trace = join(t.dir, "trace");
		const { d } = daemon(h, t.dir, commands(trace, "hang", 2));
		await peer.send("SP-2", "wake up");
		await d.cycle();
		await until(() => traceOf(trace).some((l) => l.startsWith("grandchild")), 10_000, "the run started its grandchild");
		const pid = Number(traceOf(trace)[0]?.split(" ")[1]);
		const grandchild = Number(traceOf(trace)[1]?.split(" ")[1]);
		expect(processGone(pid)).toBe(false);
		await Promise.all([...d.runs]);
		await until(() => processGone(pid) && processGone(grandchild), 5_000, "the run and its grandchild gone");
		expect(auditOf(t.dir).find((r) => r.event === "spawn-end")).toMatchObject({ timedOut: true, reason: "timed out: its process group was ended" });
		expect(traceOf(trace).some((l) => l.startsWith("end"))).toBe(false);
	});
});
