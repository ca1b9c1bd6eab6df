/**
 * The git side of the edit guard:
 *
 *   claude-relay guard git [--repo DIR] [--chain] [--uninstall]   installs (or removes) a pre-commit hook
 *   claude-relay guard check [FILE...]                             what that hook runs
 *
 * `check` refuses (exit 1) a commit whose staged files (added, changed, deleted, both sides of a rename)
 * are covered by another session's live claim in this repository, with the PreToolUse guard's message
 * (holder, pattern, reason, expiry, how to coordinate) on stderr. RELAY_GUARD=off skips it for one commit;
 * RELAY_GUARD=warn only prints. "Another session": any session but the one this shell belongs to
 * (CLAUDE_RELAY_SESSION_ID / RELAY_CLIENT_ID), so a commit from a Claude session's own shell may touch its
 * own claims. When the hub cannot be reached the commit goes on, with a warning: the guard never stops
 * work because the hub is away.
 *
 * Installing never clobbers a pre-commit hook that is not ours: without --chain it refuses and prints the
 * line to add to that hook; with --chain it moves it to `pre-commit.local`, which our hook runs first (and
 * uninstall puts back).
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { checkName } from "../../server/protocol.js";
import { relayHome } from "../../server/paths.js";
import { UserError } from "../../sessions/cli-errors.js";
import { blockingClaims, coordinateLine, fetchClaims, guardMode, holderLine, printable } from "../claims-check.js";
import { resolveIdentity } from "../identity.js";
import { DEFAULT_RELAY_URL, DEFAULT_ROOM, loadToken } from "../options.js";
import { repoOf } from "../repo.js";
import { shellQuote } from "./settings.js";

/** Marks the hooks we wrote, so that install updates them and uninstall removes only them. */
export const HOOK_MARKER = "# claude-relay guard";
const CHAINED = "pre-commit.local";
const HUB_TIMEOUT_MS = 2_000;
const GIT_TIMEOUT_MS = 5_000;

function git(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ ok: boolean; out: string; err: string }> {
	return new Promise((done) => {
		execFile("git", args, { cwd, env: { ...env, GIT_TERMINAL_PROMPT: "0" }, timeout: GIT_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, out, stderr) =>
			done({ ok: !err, out: String(out), err: String(stderr).trim() }),
		);
	});
}

/** The hook script: runs a chained hook first (when there is one), then `guard check`. */
export function hookScript(prefix: string, opts: { url?: string; room?: string } = {}): string {
	const args = [...(opts.url ? ["--url", opts.url] : []), ...(opts.room ? ["--room", opts.room] : [])].map(shellQuote);
	return [
		"#!/bin/sh",
		`${HOOK_MARKER}: refuses a commit that touches files another Claude Code session has claimed.`,
		"# Installed by `claude-relay guard git`; removed by `claude-relay guard git --uninstall`.",
		"# Skip it for one commit: RELAY_GUARD=off git commit ...",
		`[ "$RELAY_GUARD" = off ] && exit 0`,
		`chained="$(dirname "$0")/${CHAINED}"`,
		`if [ -x "$chained" ]; then "$chained" "$@" || exit $?; fi`,
		`exec ${[prefix, "guard", "check", ...args].join(" ")}`,
		"",
	].join("\n");
}

export interface GuardGitOptions {
	repo?: string;
	chain: boolean;
	uninstall: boolean;
	url?: string;
	room?: string;
	print?: (line: string) => void;
}

/** Where git looks for this repository's hooks (core.hooksPath honoured). */
async function hooksDir(dir: string): Promise<string> {
	const top = await git(["rev-parse", "--show-toplevel"], dir);
	if (!top.ok) throw new UserError(`${dir} is not inside a git repository (${top.err || "git rev-parse failed"}); pass --repo DIR.`, 2);
	const r = await git(["rev-parse", "--git-path", "hooks"], dir);
	if (!r.ok) throw new UserError(`cannot find the hooks directory of ${dir}: ${r.err}`);
	const p = r.out.trim();
	return isAbsolute(p) ? p : resolve(dir, p);
}

export async function runGuardGit(opts: GuardGitOptions): Promise<number> {
	const print = opts.print ?? ((l: string) => process.stdout.write(`${l}\n`));
	if (opts.room !== undefined) {
		const check = checkName(opts.room, "room name");
		if (!check.ok) throw new UserError(`--room: ${check.reason}`, 2);
	}
	if (opts.url !== undefined && !/^wss?:\/\/[^/\s]+/i.test(opts.url)) throw new UserError(`--url: ${JSON.stringify(opts.url)} is not a ws:// or wss:// URL`, 2);
	const dir = resolve(opts.repo ?? process.cwd());
	const hooks = await hooksDir(dir);
	// Loaded here: `guard check` runs at every commit and needs none of install.
	const { cliPrefix } = await import("./install.js");
	const file = join(hooks, "pre-commit");
	const chained = join(hooks, CHAINED);
	const current = existsSync(file) ? readFileSync(file, "utf8") : undefined;
	const ours = current?.includes(HOOK_MARKER) ?? false;

	if (opts.uninstall) {
		if (current === undefined) {
			print(`✓ No pre-commit hook in ${hooks}: nothing to remove`);
			return 0;
		}
		if (!ours) {
			print(`! ${file} is not claude-relay's: left alone`);
			return 0;
		}
		rmSync(file);
		if (existsSync(chained)) {
			renameSync(chained, file);
			print(`✓ Removed the claude-relay guard; your own hook is back at ${file}`);
		} else print(`✓ Removed the claude-relay guard (${file})`);
		return 0;
	}

	const script = hookScript(cliPrefix(), { url: opts.url, room: opts.room });
	if (current !== undefined && !ours) {
		const line = `${cliPrefix()} guard check || exit 1`;
		if (!opts.chain) {
			throw new UserError(
				`${file} already exists and is not claude-relay's; it was left as it is. Either run again with --chain (it moves to ${CHAINED} and runs before the guard), or add this line to it yourself:\n  ${line}`,
			);
		}
		if (existsSync(chained)) throw new UserError(`${chained} already exists; cannot chain ${file} there. Nothing was changed.`);
		renameSync(file, chained);
		print(`✓ Your pre-commit hook moved to ${chained}; the guard runs it first`);
	}
	if (current === script) {
		print(`✓ The claude-relay guard is already installed in ${file}: no change`);
		return 0;
	}
	mkdirSync(hooks, { recursive: true });
	writeFileSync(file, script, { mode: 0o755 });
	chmodSync(file, 0o755);
	print(`✓ Installed the claude-relay guard: ${file}`);
	print("  A commit touching files another session claimed is refused; RELAY_GUARD=off git commit … overrides it once.");
	return 0;
}

export interface GuardCheckOptions {
	files?: string[];
	url?: string;
	room?: string;
	env?: NodeJS.ProcessEnv;
	/** Where problems and refusals go (the hook's stderr). */
	warn?: (line: string) => void;
}

/** The staged paths of the commit being made, both sides of renames, deletions included. */
async function stagedFiles(cwd: string, env: NodeJS.ProcessEnv): Promise<string[] | null> {
	const r = await git(["diff", "--cached", "--name-only", "-z", "--no-renames"], cwd, env);
	return r.ok ? r.out.split("\0").filter(Boolean) : null;
}

/** 0: the commit may go on; 1: it touches another session's claims (mode deny or ask). */
export async function runGuardCheck(opts: GuardCheckOptions = {}): Promise<number> {
	const env = opts.env ?? process.env;
	const warn = opts.warn ?? ((l: string) => process.stderr.write(`${l}\n`));
	const mode = guardMode(undefined, env);
	if (mode === "off") return 0;
	const cwd = process.cwd();
	// The environment as git gave it to the hook: GIT_INDEX_FILE names the index of this very commit.
	const repo = await repoOf(cwd, { env, timeoutMs: GIT_TIMEOUT_MS });
	if (!repo) return 0;
	const files = opts.files?.length ? opts.files.map((f) => f.replace(/\\/g, "/").replace(/^\.\//, "")) : await stagedFiles(cwd, env);
	if (!files || files.length === 0) return 0;

	const url = opts.url?.trim() || env.RELAY_URL?.trim() || DEFAULT_RELAY_URL;
	const room = opts.room?.trim() || env.RELAY_ROOM?.trim() || DEFAULT_ROOM;
	const identity = resolveIdentity({ env });
	const self = identity.problem || identity.source === "hostname-pid" ? undefined : identity.id;
	let result: Awaited<ReturnType<typeof fetchClaims>>;
	try {
		const token = loadToken(env.RELAY_TOKEN_FILE?.trim() || undefined, env, relayHome(env));
		result = await fetchClaims({ url, token, room, repo: repo.identity, timeoutMs: HUB_TIMEOUT_MS });
	} catch (err) {
		warn(`claude-relay guard: could not ask the hub at ${url} about claims (${(err as Error).message}); this commit was not checked.`);
		return 0;
	}
	const hits = files.flatMap((f) => {
		const blockers = blockingClaims(result.claims, f, self);
		return blockers.length ? [{ file: f, blockers }] : [];
	});
	if (hits.length === 0) return 0;
	const lines = [
		`claude-relay guard: this commit touches files claimed by other Claude Code sessions (in ${printable(repo.identity)}):`,
		...hits.slice(0, 20).map((h) => `  ${printable(h.file)}: claimed by ${h.blockers.map((c) => holderLine(c, result.now)).join("; ")}`),
		...(hits.length > 20 ? [`  … and ${hits.length - 20} more files`] : []),
		coordinateLine(hits.flatMap((h) => h.blockers)),
	];
	if (mode === "warn") {
		for (const l of lines) warn(l);
		warn("(RELAY_GUARD=warn: committing anyway.)");
		return 0;
	}
	for (const l of lines) warn(l);
	warn("To commit anyway: RELAY_GUARD=off git commit …");
	return 1;
}

/** For `claude-relay doctor` and tests: whether `dir`'s repository has our pre-commit hook. */
export async function guardInstalled(dir: string): Promise<boolean> {
	try {
		const file = join(await hooksDir(dir), "pre-commit");
		return existsSync(file) && readFileSync(file, "utf8").includes(HOOK_MARKER);
	} catch {
		return false;
	}
}
