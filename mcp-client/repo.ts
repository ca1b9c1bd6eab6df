/**
 * Repository identity for file claims, computed on the client (the bridge, the guard hook, the git
 * pre-commit guard) with git, and never at the hub. Two checkouts of one repository must agree on it (so
 * their claims meet), and two unrelated repositories must not:
 *   - the `origin` remote URL, normalized: scheme, user, password, port and a trailing `.git` or `/` dropped,
 *     lowercased: git@github.com:a/b.git, https://github.com/a/b and ssh://git@github.com:22/a/b.git are all
 *     `github.com/a/b`. A local path remote (/srv/git/b.git, file:///srv/git/b.git) is its absolute path
 *     without `.git`, case kept;
 *   - with no origin, the repository root's directory name.
 * Every git call is bounded (a hung git must never hold up an edit or the MCP handshake) and runs with
 * `GIT_TERMINAL_PROMPT=0`, so git never asks anything.
 */
import { execFile } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";

export const GIT_TIMEOUT_MS = 2_000;

export interface RepoInfo {
	/** The repository (or worktree) root, a real path. */
	root: string;
	/** The identity claims are scoped to. */
	identity: string;
}

/** The identity for an origin URL (`baseDir` resolves a relative local path); null if it is not one. */
export function normalizeRemote(url: string, baseDir = process.cwd()): string | null {
	const text = url.trim();
	if (text === "") return null;
	const strip = (p: string) => p.replace(/\/+$/, "").replace(/\.git$/i, "").replace(/\/+$/, "");
	// scp-like: [user@]host:path (no scheme, and not a Windows drive or a local path)
	const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)(.+)$/.exec(text);
	if (scp && !/^[A-Za-z]$/.test(scp[1] ?? "") && !text.includes("://")) {
		const path = strip((scp[2] ?? "").replace(/^\/+/, ""));
		return path ? `${(scp[1] ?? "").toLowerCase()}/${path.toLowerCase()}` : null;
	}
	if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text)) {
		let u: URL;
		try {
			u = new URL(text);
		} catch {
			return null;
		}
		if (u.protocol === "file:") {
			const path = strip(decodeURIComponent(u.pathname));
			return path || null;
		}
		const path = strip(decodeURIComponent(u.pathname).replace(/^\/+/, "").replace(/\/{2,}/g, "/"));
		if (!u.hostname || !path) return null;
		return `${u.hostname.toLowerCase()}/${path.toLowerCase()}`;
	}
	// A local path, as `git clone /srv/git/b.git` records it.
	return strip(resolve(baseDir, text)) || null;
}

function git(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string | null> {
	return new Promise((resolvePromise) => {
		execFile(
			"git",
			args,
			{ cwd, env: { ...env, GIT_TERMINAL_PROMPT: "0" }, timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024, windowsHide: true },
			(err, stdout) => resolvePromise(err ? null : stdout.trim()),
		);
	});
}

export interface RepoOptions {
	/** The environment git runs with (a pre-commit hook must keep GIT_INDEX_FILE and friends). */
	env?: NodeJS.ProcessEnv;
	timeoutMs?: number;
}

/**
 * The repository containing `dir`, or null (not in a repository, no git, git too slow). Unless an `env` is
 * given, GIT_DIR and GIT_WORK_TREE are removed: they describe whatever repository the caller was started
 * in, not `dir`.
 */
export async function repoOf(dir: string, opts: RepoOptions = {}): Promise<RepoInfo | null> {
	const env = opts.env ?? withoutGitLocation(process.env);
	const timeoutMs = opts.timeoutMs ?? GIT_TIMEOUT_MS;
	const root = await git(["rev-parse", "--show-toplevel"], dir, env, timeoutMs);
	if (!root) return null;
	const origin = await git(["remote", "get-url", "origin"], root, env, timeoutMs);
	const fromOrigin = origin ? normalizeRemote(origin, root) : null;
	return { root: realOrSame(root), identity: fromOrigin ?? basename(root) };
}

export function withoutGitLocation(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
	const out = { ...env };
	for (const k of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX"]) delete out[k];
	return out;
}

function realOrSame(p: string): string {
	try {
		return realpathSync(p);
	} catch {
		return p;
	}
}

/**
 * `file` (absolute, or relative to `cwd`) as a real path, even when it does not exist yet (a Write creates
 * it): the nearest existing directory above it is resolved, the rest appended.
 */
export function realTarget(file: string, cwd: string): { dir: string; path: string } {
	const abs = resolve(cwd, file);
	let dir = dirname(abs);
	const rest: string[] = [basename(abs)];
	for (let i = 0; i < 256 && !existsSync(dir); i++) {
		const parent = dirname(dir);
		if (parent === dir) break;
		rest.unshift(basename(dir));
		dir = parent;
	}
	const real = realOrSame(dir);
	return { dir: real, path: join(real, ...rest) };
}

/** `path` relative to `root` with `/` separators, or null when it is outside (or is the root itself). */
export function repoRelative(root: string, path: string): string | null {
	const rel = relative(root, path);
	if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) return null;
	return rel.split(sep).join("/");
}

/** Where an edited file falls for claims: its repository and its repo-relative path; null when in none. */
export async function locateFile(file: string, cwd: string, opts: RepoOptions = {}): Promise<(RepoInfo & { path: string }) | null> {
	const target = realTarget(file, cwd);
	const repo = await repoOf(target.dir, opts);
	if (!repo) return null;
	const path = repoRelative(repo.root, target.path);
	return path ? { ...repo, path } : null;
}
