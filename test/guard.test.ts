/**
 * File claims end to end, as the issue's "Done means" puts it: two real bridges (the built CLI, driven by
 * the MCP SDK's Client) in two clones of one repository whose origin URLs are spelt differently, A claims
 * src/auth/**, and B's edit guard (`claude-relay hook guard`, a real process fed Claude Code's PreToolUse
 * JSON) denies src/auth/token.ts and allows src/ui/x.ts; after A releases, or after the TTL, B may edit; a
 * third repository is unaffected; the git pre-commit guard refuses and then accepts the same commit; with
 * the hub down the guard exits 0 with no output, in under a second.
 */
import { type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBridge, type TestBridge } from "./fixtures/bridge.js";
import { startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI } from "./fixtures/processes.js";

interface Run {
	code: number | null;
	stdout: string;
	stderr: string;
	ms: number;
}

let tmp: { dir: string; cleanup: () => void };
let hub: TestHub;
let home: string;
let cloneA: string;
let cloneB: string;
let other: string;
let a: TestBridge;
let b: TestBridge;

const sh = (cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> => {
	const r = spawnSync(cmd, args, { cwd, env: { PATH: process.env.PATH, HOME: tmp.dir, GIT_CONFIG_NOSYSTEM: "1", ...env }, encoding: "utf8" });
	if (r.error) throw r.error;
	return r;
};
/**
 * Like sh, without blocking: the hub runs in this process, and a `git commit` whose pre-commit hook asks it
 * about claims must not wait on a blocked event loop.
 */
function shAsync(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve, reject) => {
		const child = spawn(cmd, args, { cwd, env: { PATH: process.env.PATH, HOME: tmp.dir, GIT_CONFIG_NOSYSTEM: "1", ...env } });
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", (d) => {
			stdout += d;
		});
		child.stderr.on("data", (d) => {
			stderr += d;
		});
		child.on("error", reject);
		child.on("close", (status) => resolve({ status, stdout, stderr }));
	});
}
const git = (cwd: string, ...args: string[]) => {
	const r = sh("git", args, cwd);
	if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
	return r.stdout.trim();
};

/** The environment Claude Code gives a hook of session `id`; nothing of the caller's RELAY_* or CLAUDE_*. */
function hookEnv(id: string | undefined, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
	return { PATH: process.env.PATH, HOME: tmp.dir, RELAY_HOME: home, RELAY_URL: hub.url, ...(id ? { CLAUDE_RELAY_SESSION_ID: id } : {}), ...extra };
}

function runCli(args: string[], stdin: string, env: NodeJS.ProcessEnv, cwd = tmp.dir): Promise<Run> {
	const started = Date.now();
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [CLI, ...args], { env, cwd, stdio: ["pipe", "pipe", "pipe"] });
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
			reject(new Error(`claude-relay ${args.join(" ")} did not exit`));
		}, 20_000);
		child.on("close", (code) => {
			clearTimeout(timer);
			resolve({ code, stdout, stderr, ms: Date.now() - started });
		});
		child.stdin.end(stdin);
	});
}

/** Claude Code's PreToolUse input for an edit of `file` from a session working in `cwd`. */
function preToolUse(tool: "Edit" | "Write" | "MultiEdit" | "NotebookEdit", file: string, cwd: string): string {
	const tool_input =
		tool === "NotebookEdit"
			? { notebook_path: file, new_source: "print(1)", cell_type: "code", edit_mode: "replace" }
			: tool === "Write"
				? { file_path: file, content: "export const x = 1;\n" }
				: tool === "MultiEdit"
					? { file_path: file, edits: [{ old_string: "a", new_string: "b" }] }
					: { file_path: file, old_string: "a", new_string: "b", replace_all: false };
	return JSON.stringify({
		session_id: "5e8f0c1a-claude-session",
		transcript_path: join(tmp.dir, "transcript.jsonl"),
		cwd,
		permission_mode: "default",
		hook_event_name: "PreToolUse",
		tool_name: tool,
		tool_input,
		tool_use_id: "toolu_01ABC",
	});
}

const guard = (id: string, tool: Parameters<typeof preToolUse>[0], file: string, cwd: string, mode = "deny", extra: Record<string, string> = {}) =>
	runCli(["hook", "guard", "--guard", mode], preToolUse(tool, file, cwd), hookEnv(id, extra), cwd);

function decision(run: Run): { permissionDecision?: string; permissionDecisionReason?: string; additionalContext?: string; hookEventName?: string } {
	expect(run.code).toBe(0);
	expect(run.stderr).toBe("");
	return (JSON.parse(run.stdout) as { hookSpecificOutput: Record<string, string> }).hookSpecificOutput;
}

function silent(run: Run): void {
	expect(run.code).toBe(0);
	expect(run.stdout).toBe("");
	expect(run.stderr).toBe("");
}

beforeAll(async () => {
	assertBuilt();
	tmp = tempDir("relay-guard-");
	home = join(tmp.dir, "relay-home");
	hub = await startHub({ claimMaxTtlSeconds: 3600 });
	// The upstream, and two clones of it whose origin URLs are spelt two ways that mean one repository.
	const upstream = join(tmp.dir, "upstream");
	mkdirSync(join(upstream, "src", "auth"), { recursive: true });
	mkdirSync(join(upstream, "src", "ui"), { recursive: true });
	writeFileSync(join(upstream, "src", "auth", "token.ts"), "export const token = 1;\n");
	writeFileSync(join(upstream, "src", "ui", "x.ts"), "export const x = 1;\n");
	git(tmp.dir, "init", "-q", "-b", "main", upstream);
	git(upstream, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".");
	git(upstream, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init");
	cloneA = join(tmp.dir, "machine-a", "api");
	cloneB = join(tmp.dir, "machine-b", "api-checkout");
	git(tmp.dir, "clone", "-q", upstream, cloneA);
	git(tmp.dir, "clone", "-q", upstream, cloneB);
	git(cloneA, "remote", "set-url", "origin", "git@github.com:Acme/API.git");
	git(cloneB, "remote", "set-url", "origin", "https://github.com/acme/api");
	for (const c of [cloneA, cloneB]) {
		git(c, "config", "user.email", "dev@example.com");
		git(c, "config", "user.name", "Dev");
	}
	// An unrelated repository with the same layout.
	other = join(tmp.dir, "web");
	mkdirSync(join(other, "src", "auth"), { recursive: true });
	writeFileSync(join(other, "src", "auth", "token.ts"), "x\n");
	git(tmp.dir, "init", "-q", other);
	git(other, "remote", "add", "origin", "git@github.com:acme/web.git");

	a = await startBridge({ url: hub.url, home, id: "CC-1", cwd: cloneA });
	b = await startBridge({ url: hub.url, home, id: "CC-2", cwd: cloneB, env: { RELAY_OWNS: "src/**" } });
	for (const bridge of [a, b]) expect((await bridge.call("relay_status")).data.connected).toBe(true);
});

afterAll(async () => {
	await a?.close();
	await b?.close();
	await hub?.stop();
	tmp?.cleanup();
});

describe("claims end to end: two bridges, two clones, the guard hook and the git guard", () => {
	it("both bridges work out the same repository identity from differently spelt origins", async () => {
		const [sa, sb] = [await a.call("relay_status"), await b.call("relay_status")];
		expect(sa.data.repo).toBe("github.com/acme/api");
		expect(sb.data.repo).toBe("github.com/acme/api");
		expect(sa.text).toContain("Repository: github.com/acme/api");
	});

	it("A claims src/auth/**; B's claim of an overlapping glob is refused naming A; relay_peers marks the overlap", async () => {
		const claim = await a.call("relay_claim", { paths: ["src/auth/**"], reason: "rewriting token refresh", ttlSeconds: 1800 });
		expect(claim.isError).toBe(false);
		expect(claim.data).toMatchObject({ granted: true, repo: "github.com/acme/api", claims: [{ path: "src/auth/**", session: "CC-1" }] });
		expect(claim.text).toMatch(/^Claimed in github.com\/acme\/api until/);

		const refused = await b.call("relay_claim", { paths: [join(cloneB, "src/ui/button.ts"), "src/**/*.ts"] });
		expect(refused.isError).toBe(false);
		expect(refused.data.granted).toBe(false);
		expect(refused.data.conflicts).toMatchObject([{ session: "CC-1", path: "src/auth/**", reason: "rewriting token refresh" }]);
		expect(refused.text).toContain("NOT granted");
		expect(refused.text).toContain('relay_send {"to":"CC-1"');
		expect((await b.call("relay_claims")).data.claims.map((c: { session: string }) => c.session)).toEqual(["CC-1"]);

		const peers = await b.call("relay_peers");
		const peerA = peers.data.peers.find((p: { session: string }) => p.session === "CC-1");
		expect(peers.data.yours).toEqual(["src/**"]);
		expect(peerA).toMatchObject({ claims: ["src/auth/**"], overlaps: [{ theirs: "src/auth/**", yours: "src/**" }] });
		expect(peers.text).toContain("OVERLAPS YOUR WORK");
	});

	it("B's guard denies an edit of src/auth/token.ts, naming holder, reason, expiry and how to coordinate; src/ui/x.ts is allowed", async () => {
		const denied = decision(await guard("CC-2", "Edit", join(cloneB, "src", "auth", "token.ts"), cloneB));
		expect(denied.hookEventName).toBe("PreToolUse");
		expect(denied.permissionDecision).toBe("deny");
		const reason = denied.permissionDecisionReason ?? "";
		expect(reason).toContain("src/auth/token.ts (in github.com/acme/api) is claimed by another session: CC-1 (pattern src/auth/**)");
		expect(reason).toContain('"rewriting token refresh"');
		expect(reason).toMatch(/until \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(in (29|30)m\)/);
		expect(reason).toContain('relay_send {"to":"CC-1"');
		silent(await guard("CC-2", "Edit", join(cloneB, "src", "ui", "x.ts"), cloneB));
	});

	it("the guard covers every writing tool, relative paths and files that do not exist yet; the holder's own guard is silent", async () => {
		for (const tool of ["Write", "MultiEdit", "NotebookEdit"] as const) {
			expect(decision(await guard("CC-2", tool, join(cloneB, "src", "auth", "new.ipynb"), cloneB)).permissionDecision).toBe("deny");
		}
		expect(decision(await guard("CC-2", "Write", "src/auth/deep/new/file.ts", cloneB)).permissionDecision).toBe("deny");
		expect(decision(await guard("CC-2", "Edit", "token.ts", join(cloneB, "src", "auth"))).permissionDecision).toBe("deny");
		silent(await guard("CC-1", "Edit", join(cloneA, "src", "auth", "token.ts"), cloneA));
		// A tool the guard is not for, and garbage on stdin, are silent too.
		silent(await runCli(["hook", "guard", "--guard", "deny"], JSON.stringify({ tool_name: "Read", tool_input: { file_path: join(cloneB, "src/auth/token.ts") } }), hookEnv("CC-2")));
		silent(await runCli(["hook", "guard", "--guard", "deny"], "{not json", hookEnv("CC-2")));
	});

	it("modes: ask lets the user decide, warn only tells the model, off (flag or RELAY_GUARD) says nothing; the default is ask", async () => {
		const file = join(cloneB, "src", "auth", "token.ts");
		const ask = decision(await guard("CC-2", "Edit", file, cloneB, "ask"));
		expect(ask.permissionDecision).toBe("ask");
		expect(ask.permissionDecisionReason).toContain("CC-1");
		expect(ask.additionalContext).toBe(ask.permissionDecisionReason);
		const warn = decision(await guard("CC-2", "Edit", file, cloneB, "warn"));
		expect(warn.permissionDecision).toBeUndefined();
		expect(warn.additionalContext).toContain("claimed by another session: CC-1");
		silent(await guard("CC-2", "Edit", file, cloneB, "off"));
		silent(await runCli(["hook", "guard"], preToolUse("Edit", file, cloneB), hookEnv("CC-2", { RELAY_GUARD: "off" }), cloneB));
		expect(decision(await runCli(["hook", "guard"], preToolUse("Edit", file, cloneB), hookEnv("CC-2"), cloneB)).permissionDecision).toBe("ask");
		expect(decision(await runCli(["hook", "guard"], preToolUse("Edit", file, cloneB), hookEnv("CC-2", { RELAY_GUARD: "deny" }), cloneB)).permissionDecision).toBe("deny");
	});

	it("a session that is not bridged gets a silent guard", async () => {
		silent(await guard("CC-9", "Edit", join(cloneB, "src", "auth", "token.ts"), cloneB));
		silent(await runCli(["hook", "guard", "--guard", "deny"], preToolUse("Edit", join(cloneB, "src/auth/token.ts"), cloneB), hookEnv(undefined)));
	});

	it("a third repository with the same paths is unaffected", async () => {
		silent(await guard("CC-2", "Edit", join(other, "src", "auth", "token.ts"), other));
		silent(await guard("CC-2", "Edit", join(tmp.dir, "not-a-repo.txt"), tmp.dir));
	});

	it("the git pre-commit guard refuses the commit while A holds the claim, and accepts the same commit after A releases", async () => {
		const install = await runCli(["guard", "git", "--repo", cloneB], "", hookEnv("CC-2"));
		expect(install.code).toBe(0);
		expect(install.stdout).toContain("Installed the claude-relay guard");
		expect((await runCli(["guard", "git", "--repo", cloneB], "", hookEnv("CC-2"))).stdout).toContain("already installed");

		writeFileSync(join(cloneB, "src", "auth", "token.ts"), "export const token = 2;\n");
		writeFileSync(join(cloneB, "src", "ui", "x.ts"), "export const x = 2;\n");
		git(cloneB, "add", "-A");
		const commitEnv = hookEnv("CC-2");
		const refused = await shAsync("git", ["commit", "-m", "touch auth and ui"], cloneB, commitEnv);
		expect(refused.status).toBe(1);
		expect(refused.stderr).toContain("this commit touches files claimed by other Claude Code sessions (in github.com/acme/api)");
		expect(refused.stderr).toContain("src/auth/token.ts: claimed by CC-1 (pattern src/auth/**)");
		expect(refused.stderr).toContain('"rewriting token refresh"');
		expect(refused.stderr).not.toContain("src/ui/x.ts:");
		expect(refused.stderr).toContain("RELAY_GUARD=off git commit");
		expect(git(cloneB, "rev-list", "--count", "HEAD")).toBe("1");
		// warn lets it through with the same words; the holder's own shell is not stopped by its own claim.
		const warned = await runCli(["guard", "check"], "", hookEnv("CC-2", { RELAY_GUARD: "warn" }), cloneB);
		expect(warned.code).toBe(0);
		expect(warned.stderr).toContain("src/auth/token.ts: claimed by CC-1");
		const holder = await runCli(["guard", "check"], "", hookEnv("CC-1"), cloneB);
		expect(holder).toMatchObject({ code: 0, stderr: "" });
		const named = await runCli(["guard", "check", "src/auth/other.ts"], "", hookEnv(undefined), cloneB);
		expect(named.code).toBe(1);

		const released = await a.call("relay_release", { paths: ["src/auth/**"] });
		expect(released.data.released).toMatchObject([{ path: "src/auth/**" }]);
		const accepted = await shAsync("git", ["commit", "-m", "touch auth and ui"], cloneB, commitEnv);
		expect(accepted.stderr).toBe("");
		expect(accepted.status).toBe(0);
		expect(git(cloneB, "rev-list", "--count", "HEAD")).toBe("2");
		silent(await guard("CC-2", "Edit", join(cloneB, "src", "auth", "token.ts"), cloneB));
	});

	it("after the TTL the claim is gone and B's edit is allowed", async () => {
		const claim = await a.call("relay_claim", { paths: ["src/ui/"], ttlSeconds: 1 });
		expect(claim.data.granted).toBe(true);
		expect(decision(await guard("CC-2", "Edit", join(cloneB, "src", "ui", "x.ts"), cloneB)).permissionDecision).toBe("deny");
		await new Promise((r) => setTimeout(r, 1_100));
		silent(await guard("CC-2", "Edit", join(cloneB, "src", "ui", "x.ts"), cloneB));
	});

	it("the git guard never clobbers an existing pre-commit hook: refuses with the line to add, or chains it", async () => {
		const hooks = join(other, ".git", "hooks");
		const own = join(hooks, "pre-commit");
		const mine = "#!/bin/sh\necho my-own-hook-ran >&2\nexit 0\n";
		writeFileSync(own, mine);
		chmodSync(own, 0o755);
		const refused = await runCli(["guard", "git", "--repo", other], "", hookEnv("CC-2"));
		expect(refused.code).toBe(1);
		expect(refused.stderr).toContain("already exists and is not claude-relay's");
		expect(refused.stderr).toContain("guard check || exit 1");
		expect(readFileSync(own, "utf8")).toBe(mine);

		expect((await runCli(["guard", "git", "--repo", other, "--chain"], "", hookEnv("CC-2"))).code).toBe(0);
		expect(readFileSync(join(hooks, "pre-commit.local"), "utf8")).toBe(mine);
		git(other, "config", "user.email", "dev@example.com");
		git(other, "config", "user.name", "Dev");
		git(other, "add", "-A");
		const commit = await shAsync("git", ["commit", "-m", "web"], other, hookEnv("CC-2"));
		expect(commit.status).toBe(0);
		expect(commit.stderr).toContain("my-own-hook-ran");

		expect((await runCli(["guard", "git", "--repo", other, "--uninstall"], "", hookEnv("CC-2"))).stdout).toContain("your own hook is back");
		expect(readFileSync(own, "utf8")).toBe(mine);
	});

	it("with the hub down: the guard exits 0 with no output in under a second, and a commit goes through with a warning", async () => {
		await a.call("relay_claim", { paths: ["src/auth/**"], reason: "again" });
		expect(decision(await guard("CC-2", "Edit", join(cloneB, "src", "auth", "token.ts"), cloneB)).permissionDecision).toBe("deny");
		await hub.stop();
		const runs: Run[] = [];
		for (let i = 0; i < 3; i++) runs.push(await guard("CC-2", "Edit", join(cloneB, "src", "auth", "token.ts"), cloneB));
		for (const run of runs) silent(run);
		// The best of three: one slow process start on a busy machine says nothing about the guard.
		expect(Math.min(...runs.map((r) => r.ms))).toBeLessThan(1_000);

		writeFileSync(join(cloneB, "src", "auth", "token.ts"), "export const token = 3;\n");
		git(cloneB, "add", "-A");
		const commit = await shAsync("git", ["commit", "-m", "hub away"], cloneB, hookEnv("CC-2"));
		expect(commit.status).toBe(0);
		expect(commit.stderr).toContain("could not ask the hub");
	});

	it("a hub that accepts connections but never answers holds the guard only for its bound", async () => {
		const sockets: import("node:net").Socket[] = [];
		const mute: Server = createServer((s) => sockets.push(s));
		await new Promise<void>((r) => mute.listen(0, "127.0.0.1", r));
		const port = (mute.address() as { port: number }).port;
		try {
			const run = await guard("CC-2", "Edit", join(cloneB, "src", "auth", "token.ts"), cloneB, "deny", { RELAY_URL: `ws://127.0.0.1:${port}` });
			silent(run);
			expect(run.ms).toBeLessThan(3_500);
		} finally {
			for (const s of sockets) s.destroy();
			await new Promise((r) => mute.close(r));
		}
	});
});
