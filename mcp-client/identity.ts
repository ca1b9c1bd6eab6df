/**
 * Who this bridge is: the session ID it claims at the hub (and where that ID came from), and what it tells
 * the hub about itself (host, cwd, pid, git branch, the harness, Claude's own session id).
 *
 * Session ID order, most specific first:
 *   1. CLAUDE_RELAY_SESSION_ID: set per terminal by `claude-session CC-1` just before `claude` starts, so it
 *      names exactly this session. It must beat the flag: the flag lives in the MCP registration
 *      (`claude mcp add -s user ... -- claude-relay mcp --client-id X`), which every session of that user or
 *      project shares; if the flag won, two sessions would fight over one ID.
 *   2. --client-id: a default chosen when registering the server (a machine- or project-wide name).
 *   3. RELAY_CLIENT_ID: usually exported in a shell profile, so the broadest default of all.
 *   4. <hostname>-<pid>: unique, so it never collides, but it changes at every start: messages queued for
 *      it are never read by the next session. A fallback only.
 */
import { readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { ErrorCode, RelayError } from "../server/errors.js";
import { checkName, type SessionMeta } from "../server/protocol.js";
import { VERSION } from "../server/version.js";

export type IdentitySource =
	| "CLAUDE_RELAY_SESSION_ID"
	| "--client-id"
	| "RELAY_CLIENT_ID"
	| "hostname-pid";

export interface Identity {
	/** The ID to claim; when `problem` is set, the value that was refused. */
	id: string;
	source: IdentitySource;
	/** Why the ID cannot be used (E_BAD_ID), in words that say what to change. */
	problem?: RelayError;
}

export interface IdentityInput {
	clientIdFlag?: string | undefined;
	env?: NodeJS.ProcessEnv;
	host?: string;
	pid?: number;
}

/** Resolves the session ID in the documented order and validates it with the protocol's `checkName`. */
export function resolveIdentity(input: IdentityInput = {}): Identity {
	const env = input.env ?? process.env;
	const candidates: [IdentitySource, string | undefined, string][] = [
		[
			"CLAUDE_RELAY_SESSION_ID",
			env.CLAUDE_RELAY_SESSION_ID,
			"run `claude-session <ID>` again with a valid ID, or unset CLAUDE_RELAY_SESSION_ID",
		],
		[
			"--client-id",
			input.clientIdFlag,
			"change --client-id in the MCP registration (`claude mcp get relay`)",
		],
		["RELAY_CLIENT_ID", env.RELAY_CLIENT_ID, "change or unset RELAY_CLIENT_ID"],
	];
	for (const [source, raw, fix] of candidates) {
		const id = raw?.trim();
		if (!id) continue;
		const check = checkName(id);
		if (check.ok) return { id, source };
		return {
			id,
			source,
			problem: new RelayError(
				ErrorCode.BAD_ID,
				`The session ID from ${source} is not usable: ${check.reason}. To fix: ${fix}.`,
			),
		};
	}
	return {
		id: fallbackId(input.host ?? hostname(), input.pid ?? process.pid),
		source: "hostname-pid",
	};
}

/** `<hostname>-<pid>` made into a valid ID: letters, digits, '-' and '_' only, starting with a letter, 64 at most. */
export function fallbackId(host: string, pid: number): string {
	const suffix = `-${pid}`;
	let name = host
		.split(".")[0]
		?.replace(/[^A-Za-z0-9_-]+/g, "-")
		.replace(/^-+|-+$/g, "");
	if (!name) name = "session";
	if (!/^[A-Za-z]/.test(name)) name = `h${name}`;
	name = name.slice(0, 64 - suffix.length);
	const id = `${name}${suffix}`;
	return checkName(id).ok ? id : `session${suffix}`;
}

const clip = (s: string | undefined, max: number) =>
	s === undefined ? undefined : s.length > max ? s.slice(0, max) : s;

/**
 * What this session tells the hub at hello (shown to peers); cut to the protocol's limits. `client` is the
 * harness that runs the bridge (harness/clients.ts), or the name of one of claude-relay's own programs.
 */
export function sessionMeta(
	claudeSessionId: string | undefined,
	cwd = process.cwd(),
	client = "other",
): SessionMeta {
	const meta: SessionMeta = {
		host: clip(hostname(), 256),
		cwd: clip(cwd, 4096),
		pid: process.pid,
		ppid: process.ppid,
		client: client.slice(0, 64),
		version: clip(VERSION, 64),
	};
	const tmux = tmuxLocation();
	if (tmux) Object.assign(meta, tmux);
	const branch = gitBranch(cwd);
	if (branch) meta.branch = clip(branch, 256);
	if (claudeSessionId) meta.claudeSessionId = clip(claudeSessionId, 128);
	return meta;
}

/**
 * The tmux pane this process runs in, from `$TMUX_PANE` (`%<n>`) and the socket path before the first comma
 * of `$TMUX`; undefined outside tmux or when either looks like something else. The autowake daemon types
 * its nudge into that pane (after checking that the pane still runs this session's harness).
 */
export function tmuxLocation(env: NodeJS.ProcessEnv = process.env): { tmuxPane: string; tmuxSocket: string } | undefined {
	const pane = env.TMUX_PANE?.trim();
	const socket = env.TMUX?.split(",")[0]?.trim();
	if (!pane || !socket || !/^%\d{1,9}$/.test(pane)) return undefined;
	// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters on purpose
	if (!socket.startsWith("/") || socket.length > 1024 || /[\u0000-\u001f\u007f]/.test(socket)) return undefined;
	return { tmuxPane: pane, tmuxSocket: socket };
}

/**
 * The checked-out branch of the repository containing `cwd` (a short commit id when detached), read from
 * .git/HEAD rather than by running git: no process to spawn, no dependency on git being installed.
 */
export function gitBranch(cwd: string): string | undefined {
	let dir = resolve(cwd);
	for (let depth = 0; depth < 64; depth++) {
		const dotGit = join(dir, ".git");
		try {
			const st = statSync(dotGit);
			let gitDir = dotGit;
			if (st.isFile()) {
				// A worktree or submodule: ".git" is a file saying "gitdir: <path>".
				const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, "utf8"));
				if (!m?.[1]) return undefined;
				gitDir = resolve(dir, m[1].trim());
			}
			const head = readFileSync(join(gitDir, "HEAD"), "utf8").trim();
			const ref = /^ref:\s*refs\/heads\/(.+)$/.exec(head);
			if (ref?.[1]) return ref[1];
			return /^[0-9a-f]{7,}$/i.test(head) ? head.slice(0, 12) : undefined;
		} catch {
			// no .git here: look in the parent
		}
		const parent = dirname(dir);
		if (parent === dir) return undefined;
		dir = parent;
	}
	return undefined;
}
