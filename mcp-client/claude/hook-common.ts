/**
 * What every `claude-relay hook <event>` shares: reading Claude Code's hook input (stdin JSON, bounded),
 * finding out whether this Claude session is bridged (session ID, stored secret), attaching to the hub as an
 * observer with tight bounds, writing the answer, and a small log file. A hook must never break a session:
 * anything unexpected ends in no output and exit code 0 (wake's exit 2 is its only way to speak).
 *
 * Session ID rule for hooks (the bridge's rule, minus what a hook cannot know):
 *   1. `--id X` on the hook's command line: written by `claude-relay install --id X`, which also registers
 *      the bridge with `-e CLAUDE_RELAY_SESSION_ID=X`; that variable beats the terminal's, so this flag does too.
 *   2. CLAUDE_RELAY_SESSION_ID: exported by `claude-session CC-1` in the terminal before `claude` starts;
 *      Claude Code passes its environment to both the bridge and the hooks, so both see the same ID.
 *   3. RELAY_CLIENT_ID.
 *   Nothing else: the bridge's last resort (<hostname>-<pid>) names a process a hook cannot see, and a
 *   bridge registered with `--client-id` by hand needs the same `--id` on the hook commands.
 * Then: a secret stored for that ID under $RELAY_HOME/secrets (the bridge saved it at its first claim). No
 * ID, an invalid ID or no secret means "not bridged": the hook stays silent.
 */
import { closeSync, mkdirSync, openSync, readSync, statSync, renameSync, appendFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { HubClient, type SecretStore } from "../hub-client.js";
import { resolveIdentity } from "../identity.js";
import { parseHubUrls } from "../hub-urls.js";
import { DEFAULT_RELAY_URL, DEFAULT_ROOM, loadToken } from "../options.js";
import { FileSecretStore } from "../secrets.js";
import { paths, relayHome } from "../../server/paths.js";
import { checkName, type ResultOf } from "../../server/protocol.js";
import { terminalSafeJson } from "../../server/sanitize.js";
import { VERSION } from "../../server/version.js";

export { HOOK_EVENTS, type HookEvent, WAKE_DEFAULT_SECONDS } from "./constants.js";

/** Whole-hook bound for prompt and stop (Claude Code waits for them before going on). */
export const HOOK_DEADLINE_MS = 5_000;
export const CONNECT_TIMEOUT_MS = 1_500;
export const REQUEST_TIMEOUT_MS = 1_500;
const STDIN_WAIT_MS = 1_000;
const STDIN_MAX_BYTES = 1024 * 1024;
const LOG_ROTATE_BYTES = 1024 * 1024;

/** The fields of Claude Code's hook input that the hooks use; anything may be missing. */
export interface HookInput {
	session_id?: string;
	transcript_path?: string;
	cwd?: string;
	hook_event_name?: string;
	stop_hook_active?: boolean;
	prompt?: string;
	source?: string;
	[key: string]: unknown;
}

export interface HookOptions {
	/** Hub URL (flag); else RELAY_URL; else ws://localhost:9999. Several hubs: comma-separated. */
	url?: string;
	room?: string;
	/** Forced session ID (see the rule above). */
	id?: string;
	/** wake: how long to wait, seconds. */
	timeout?: number;
	/** guard: deny|ask|warn|off (else RELAY_GUARD, else ask). */
	guard?: string;
}

/** Reads stdin as JSON: at most 1 MiB, at most ~1 s; empty, a terminal, or invalid JSON give {}. */
export async function readHookInput(stdin: NodeJS.ReadStream = process.stdin, waitMs = STDIN_WAIT_MS): Promise<HookInput> {
	if (stdin.isTTY) return {};
	const text = await new Promise<string>((resolve) => {
		const chunks: Buffer[] = [];
		let size = 0;
		let done = false;
		const finish = () => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			stdin.off("data", onData);
			stdin.off("end", finish);
			stdin.off("error", finish);
			stdin.pause();
			resolve(Buffer.concat(chunks).toString("utf8"));
		};
		const onData = (chunk: Buffer) => {
			size += chunk.length;
			if (size > STDIN_MAX_BYTES) return finish();
			chunks.push(chunk);
		};
		const timer = setTimeout(finish, waitMs);
		stdin.on("data", onData);
		stdin.once("end", finish);
		stdin.once("error", finish);
	});
	try {
		const parsed: unknown = JSON.parse(text);
		return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as HookInput) : {};
	} catch {
		return {};
	}
}

/** Everything a hook needs to talk to the hub for this session, or why it should stay silent. */
export interface HookContext {
	home: string;
	url: string;
	room: string;
	token: string | undefined;
	session: string;
	/** Where the ID came from: "--id", "CLAUDE_RELAY_SESSION_ID" or "RELAY_CLIENT_ID". */
	idSource: string;
	secrets: SecretStore;
	/** Claude Code's own session id (stdin session_id, else CLAUDE_CODE_SESSION_ID), if known. */
	claudeSessionId: string | undefined;
	input: HookInput;
	log: HookLog;
}

export type Resolution = { ok: true; ctx: HookContext } | { ok: false; reason: string };

/** Applies the session ID rule (file header) and finds the stored secret; never throws. */
export function resolveHookContext(opts: HookOptions, input: HookInput, env: NodeJS.ProcessEnv = process.env): Resolution {
	const home = relayHome(env);
	const log = hookLog(home);
	const forced = opts.id?.trim();
	let session: string;
	let idSource: string;
	if (forced) {
		const check = checkName(forced);
		if (!check.ok) return { ok: false, reason: `--id: ${check.reason}` };
		session = forced;
		idSource = "--id";
	} else {
		const identity = resolveIdentity({ env });
		if (identity.problem) return { ok: false, reason: identity.problem.message };
		if (identity.source === "hostname-pid") return { ok: false, reason: "no session ID (CLAUDE_RELAY_SESSION_ID, RELAY_CLIENT_ID)" };
		session = identity.id;
		idSource = identity.source;
	}
	const room = opts.room?.trim() || env.RELAY_ROOM?.trim() || DEFAULT_ROOM;
	if (!checkName(room, "room name").ok) return { ok: false, reason: `bad room ${JSON.stringify(room)}` };
	const urls = parseHubUrls(opts.url?.trim() || env.RELAY_URL?.trim() || DEFAULT_RELAY_URL);
	if (!urls.ok) return { ok: false, reason: urls.problem };
	const url = urls.urls.join(",");
	let token: string | undefined;
	try {
		token = loadToken(env.RELAY_TOKEN_FILE?.trim() || undefined, env, home);
	} catch (err) {
		return { ok: false, reason: (err as Error).message };
	}
	const store = new FileSecretStore(paths.secrets(home), {
		warn: (fields, msg) => log("warn", msg, fields as Record<string, unknown>),
		error: (fields, msg) => log("error", msg, fields as Record<string, unknown>),
	});
	if (!store.load(room, session)) return { ok: false, reason: `no stored secret for ${session} in room ${room}: not bridged` };
	// Read-only: an observer never claims an ID, and a hook must never write a secret.
	const secrets: SecretStore = { load: (r, s) => store.load(r, s), save: () => {} };
	const claudeSessionId = (typeof input.session_id === "string" && input.session_id) || env.CLAUDE_CODE_SESSION_ID?.trim() || undefined;
	return { ok: true, ctx: { home, url, room, token, session, idSource, secrets, claudeSessionId, input, log } };
}

/** An observer connection for this session: no presence, no contest with the bridge, no backlog replay. */
export function observerClient(ctx: HookContext, extra: { reconnect?: boolean; requestTimeoutMs?: number; keepaliveMs?: number } = {}): HubClient {
	return new HubClient({
		// A one-shot: it needs no list of peers in its hello answer.
		helloPeers: 0,
		url: ctx.url,
		session: ctx.session,
		room: ctx.room,
		token: ctx.token,
		home: ctx.home,
		observer: true,
		secrets: ctx.secrets,
		reconnect: extra.reconnect ?? false,
		connectTimeoutMs: CONNECT_TIMEOUT_MS,
		requestTimeoutMs: extra.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
		keepaliveMs: extra.keepaliveMs ?? 0,
		minReconnectDelayMs: 500,
		maxReconnectDelayMs: 10_000,
		meta: { host: hostname().slice(0, 256), pid: process.pid, client: "claude-relay-hook", version: VERSION.slice(0, 64) },
	});
}

/** Connects (bounded) and returns the client and its hello; throws on any failure. */
export async function connectObserver(ctx: HookContext): Promise<{ client: HubClient; hello: ResultOf<"hello"> }> {
	const client = observerClient(ctx);
	try {
		const hello = await client.waitReady(CONNECT_TIMEOUT_MS + REQUEST_TIMEOUT_MS);
		return { client, hello };
	} catch (err) {
		void client.close({ bye: false });
		throw err;
	}
}

// ----- output ---------------------------------------------------------------------------------------------

/** Writes all of `text` to a file descriptor synchronously (a pipe may be non-blocking: retry on EAGAIN). */
export function writeAllSync(fd: number, text: string): void {
	const buf = Buffer.from(text, "utf8");
	let off = 0;
	let spins = 0;
	while (off < buf.length) {
		try {
			off += writeSync(fd, buf, off, buf.length - off);
		} catch (err) {
			const code = (err as NodeJS.ErrnoException).code;
			if (code === "EAGAIN" && spins++ < 10_000) continue;
			return;
		}
	}
}

/** Prints one JSON object on stdout, the only thing a hook ever prints there. */
export function printJson(value: unknown): void {
	writeAllSync(1, `${JSON.stringify(value)}\n`);
}

// ----- log ------------------------------------------------------------------------------------------------

export interface HookLog {
	(level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
	readonly file: string;
}

/** JSON lines in $RELAY_HOME/logs/hooks.log (moved to hooks.log.old past 1 MiB). Never stdout or stderr. */
export function hookLog(home: string): HookLog {
	const dir = paths.logs(home);
	const file = join(dir, "hooks.log");
	const log = ((level, msg, fields = {}) => {
		try {
			mkdirSync(dir, { recursive: true, mode: 0o700 });
			try {
				if (statSync(file).size > LOG_ROTATE_BYTES) renameSync(file, `${file}.old`);
			} catch {
				// no log yet
			}
			// One JSON line, safe to `cat` or `tail -f` in a terminal (fields may quote the hub or a file).
			const line = terminalSafeJson(JSON.stringify({ time: new Date().toISOString(), level, pid: process.pid, msg, ...fields }));
			appendFileSync(file, `${line}\n`, { mode: 0o600 });
		} catch {
			// a hook that cannot log still must not fail
		}
	}) as HookLog;
	Object.defineProperty(log, "file", { value: file });
	return log;
}

/** Reads a small text file whole, or undefined (missing, unreadable, too big). */
export function readSmallFile(file: string, max = 1024 * 1024): string | undefined {
	let fd: number | undefined;
	try {
		fd = openSync(file, "r");
		const buf = Buffer.alloc(max + 1);
		let n = 0;
		for (;;) {
			const r = readSync(fd, buf, n, buf.length - n, null);
			if (r === 0) break;
			n += r;
			if (n > max) return undefined;
		}
		return buf.subarray(0, n).toString("utf8");
	} catch {
		return undefined;
	} finally {
		if (fd !== undefined) closeSync(fd);
	}
}
