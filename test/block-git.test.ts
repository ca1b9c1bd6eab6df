/**
 * `claude-relay hook block-git`: the command-line reading (git-commands.ts), the built hook as Claude Code
 * runs it (stdin JSON, a deny on stdout only in turns the autowake daemon started), the turn marker's end at
 * a person's prompt, and `install --block-git` against a temp CLAUDE_CONFIG_DIR with a fake `claude`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { readTurn, writeTurn } from "../mcp-client/autowake/state.js";
import { findGitWrites } from "../mcp-client/claude/git-commands.js";
import { relayHookKind } from "../mcp-client/claude/settings.js";
import { tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI, ROOT } from "./fixtures/processes.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
	while (cleanups.length) cleanups.pop()?.();
});
beforeAll(() => assertBuilt());

describe("reading git out of a command line", () => {
	const what = (line: string) => findGitWrites(line).map((f) => f.what);
	it.each([
		["git commit -m 'fix it'", ["commit"]],
		["git -C ../other commit -am x", ["commit"]],
		["git --no-pager -c color.ui=false --git-dir=.git push origin main", ["push"]],
		["git --work-tree /x reset --hard HEAD~1", ["reset --hard"]],
		["cd repo && git add . && git commit -m done", ["commit"]],
		["npm test; git push || echo failed", ["push"]],
		["FOO=1 BAR='a b' git push", ["push"]],
		["env -i PATH=/usr/bin git push", ["push"]],
		["sudo -u me nice -n 5 /usr/bin/git push", ["push"]],
		["timeout 30 git push", ["push"]],
		["bash -c 'cd x; git commit -m y'", ["commit"]],
		['sh -lc "git push"', ["push"]],
		["eval git push", ["push"]],
		["echo $(git commit -m x)", ["commit"]],
		["echo `git push`", ["push"]],
		["(cd x && git push)", ["push"]],
		["cat log | git push", ["push"]],
		["ls\ngit push", ["push"]],
		["$GIT push", ["a command in a variable ($GIT) with git's words"]],
		["git -c alias.ci=commit ci", ["an inline git alias (-c alias.…)"]],
	])("%s", (line, expected) => {
		expect(what(line)).toEqual(expected);
	});
	it.each([
		"git status && git log --grep commit",
		"git reset --soft HEAD~1",
		"git diff; git add -p",
		'echo "git push"',
		"grep -r 'git commit' docs",
		"git commit-tree HEAD^{tree}",
		"gitk --all",
		"npm run push",
	])("lets %s through", (line) => {
		expect(what(line)).toEqual([]);
	});
});

describe("the hook", () => {
	function home() {
		const t = tempDir("relay-blockgit-");
		cleanups.push(t.cleanup);
		return t.dir;
	}
	function hook(kind: string, input: unknown, env: Record<string, string>) {
		const r = spawnSync(process.execPath, [CLI, "hook", kind], {
			input: JSON.stringify(input),
			env: { PATH: process.env.PATH ?? "", ...env },
			encoding: "utf8",
			timeout: 20_000,
		});
		return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
	}
	const bash = (command: string) => ({ hook_event_name: "PreToolUse", tool_name: "Bash", tool_input: { command } });

	it("denies git commit/push/reset --hard in a headless run the daemon started, and nothing else", () => {
		const dir = home();
		const env = { HOME: dir, RELAY_HOME: dir, CLAUDE_RELAY_AUTOWAKE: "1" };
		const denied = hook("block-git", bash("cd x && git -C . push --force"), env);
		expect(denied.code).toBe(0);
		const answer = JSON.parse(denied.stdout);
		expect(answer.hookSpecificOutput).toMatchObject({ hookEventName: "PreToolUse", permissionDecision: "deny" });
		expect(answer.hookSpecificOutput.permissionDecisionReason).toContain("started by the relay's autowake daemon (a headless run)");
		expect(answer.hookSpecificOutput.permissionDecisionReason).toContain("(push)");
		expect(hook("block-git", bash("git status"), env)).toMatchObject({ code: 0, stdout: "" });
		expect(hook("block-git", { tool_name: "Edit", tool_input: { command: "git push" } }, env)).toMatchObject({ code: 0, stdout: "" });
		// Not a daemon turn: the same command goes through.
		expect(hook("block-git", bash("git push"), { HOME: dir, RELAY_HOME: dir, CLAUDE_RELAY_SESSION_ID: "CC-1" })).toMatchObject({ code: 0, stdout: "" });
		// Garbage on stdin never disturbs the session.
		const r = spawnSync(process.execPath, [CLI, "hook", "block-git"], { input: "\u0000not json", env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8" });
		expect(r.status).toBe(0);
		expect(r.stdout).toBe("");
	});

	it("in a turn a tmux nudge began: denies until a person's prompt ends the turn", () => {
		const dir = home();
		const env = { HOME: dir, RELAY_HOME: dir, CLAUDE_RELAY_SESSION_ID: "CC-1" };
		const nudge = "You have 2 relay messages from CC-2; call relay_receive.";
		writeTurn(dir, "default", "CC-1", { nudge, at: Date.now(), driver: "tmux" });
		expect(JSON.parse(hook("block-git", bash("git commit -am wip"), env).stdout).hookSpecificOutput.permissionDecisionReason).toContain("a nudge typed into this session");
		// Another session's marker is not this one's.
		expect(hook("block-git", bash("git commit -am wip"), { ...env, CLAUDE_RELAY_SESSION_ID: "CC-9" }).stdout).toBe("");
		// The nudge itself arriving as the prompt keeps the turn; the person's next prompt ends it.
		hook("prompt", { hook_event_name: "UserPromptSubmit", prompt: nudge }, env);
		expect(readTurn(dir, "default", "CC-1")).toBeDefined();
		hook("prompt", { hook_event_name: "UserPromptSubmit", prompt: "thanks, now commit it" }, env);
		expect(readTurn(dir, "default", "CC-1")).toBeUndefined();
		expect(hook("block-git", bash("git commit -am wip"), env).stdout).toBe("");
		// A stale marker (over 30 minutes) does not count.
		writeTurn(dir, "default", "CC-1", { nudge, at: Date.now() - 31 * 60_000, driver: "tmux" });
		expect(hook("block-git", bash("git push"), env).stdout).toBe("");
	});
});

describe("install --block-git", () => {
	it("adds the PreToolUse hook, keeps it on a plain install, removes it with --no-block-git and uninstall", () => {
		const t = tempDir("relay-blockgit-install-");
		cleanups.push(t.cleanup);
		const tmp = realpathSync(t.dir);
		const home = join(tmp, "home");
		const configDir = join(home, ".claude");
		mkdirSync(home, { recursive: true });
		const env = {
			PATH: [join(ROOT, "test", "fixtures", "fake-claude"), dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
			HOME: home,
			CLAUDE_CONFIG_DIR: configDir,
			RELAY_HOME: join(tmp, "relay"),
			FAKE_CLAUDE_LOG: join(tmp, "claude.log"),
		};
		const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, cwd: tmp, encoding: "utf8", timeout: 60_000 });
		const preToolUse = () => {
			const settings = JSON.parse(readFileSync(join(configDir, "settings.json"), "utf8"));
			return (settings.hooks?.PreToolUse ?? []) as { matcher?: string; hooks: { command: string; timeout: number }[] }[];
		};
		// The edit guard is always there (Edit|Write|...); block-git is the optional Bash one.
		const bash = () => preToolUse().filter((g) => g.matcher === "Bash");
		expect(cli("install").status).toBe(0);
		expect(preToolUse().map((g) => g.matcher)).toEqual(["Edit|Write|MultiEdit|NotebookEdit"]);
		expect(bash()).toEqual([]);
		const dry = cli("install", "--block-git", "--dry-run");
		expect(dry.stdout).toContain("hook block-git");
		expect(bash()).toEqual([]);
		expect(cli("install", "--block-git").status).toBe(0);
		const groups = bash();
		expect(groups).toHaveLength(1);
		expect(relayHookKind(groups[0]?.hooks[0]?.command)).toBe("block-git");
		const before = readFileSync(join(configDir, "settings.json"), "utf8");
		expect(cli("install", "--block-git").stdout).toContain("Nothing to change");
		expect(cli("install").stdout).toContain("Nothing to change");
		expect(readFileSync(join(configDir, "settings.json"), "utf8")).toBe(before);
		expect(cli("install", "--no-block-git").status).toBe(0);
		expect(bash()).toEqual([]);
		cli("install", "--block-git");
		expect(cli("uninstall").status).toBe(0);
		expect(JSON.parse(readFileSync(join(configDir, "settings.json"), "utf8")).hooks).toBeUndefined();
	});
});
