/**
 * The sessions registry: which human-readable session IDs (CC-1, CODEX, ...) exist on this machine, which
 * process owns each, where it runs, and whether it is online. One JSON file, `paths.registry()`:
 *
 *     { "CC-1": { "id": "CC-1", "pid": 4242, "cwd": "/home/me/app", "host": "laptop",
 *                 "started": "2026-01-12T15:30:00.000Z", "lastSeen": "2026-01-12T15:31:02.000Z",
 *                 "status": "online", "hubUrl": "ws://localhost:9999" } }
 *
 * Who writes it: `claude-session <ID>` (through `claude-relay register`) before Claude starts, and the bridge:
 *
 *     await upsertSession({ id, hubUrl, status: "online" });   // on connect (pid, cwd, host are filled in)
 *     await markOffline(id);                                   // on exit
 *
 * Guarantees: every write happens under a cross-process lock (proper-lockfile) and replaces the file
 * atomically (write-file-atomic), so concurrent writers never lose each other's entries and a reader never
 * sees half a file. A file that is corrupt anyway (hand-edited, disk full, another program) is moved aside to
 * `registry.json.corrupt-<timestamp>` with a warning on stderr and the registry starts empty: reading it never
 * throws for its content. Nothing here writes to stdout (the bridge's stdout belongs to MCP).
 *
 * Links are not followed (sessions/safe-files.ts): a registry file that is a symbolic link is refused with a
 * RegistryError that says what to delete (write-file-atomic would otherwise replace the link's target), and
 * a stray non-directory where the lock directory belongs (`registry.json.lock`) is removed with a warning.
 *
 * Status: the stored status is what the owner last said. A reader shows an entry whose pid is dead on this
 * host as "ended", never "online" (see `effectiveStatus`).
 */
import { mkdir, rename, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import lockfile from "proper-lockfile";
import writeFileAtomic from "write-file-atomic";
import { z } from "zod";
import { paths } from "../server/paths.js";
import { checkName } from "../server/protocol.js";
import { UserError } from "./cli-errors.js";
import {
	clearStrayLock,
	readOwnFile,
	refuseLink,
	UnsafeFileError,
} from "./safe-files.js";


export const SESSION_STATUSES = ["online", "offline", "ended"] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

const isoDate = z
	.string()
	.refine((s) => !Number.isNaN(Date.parse(s)), "not an ISO date");

export const SessionEntry = z.object({
	id: z.string(),
	/** The process whose life bounds the session: the shell that ran `claude-session`, or the bridge. */
	pid: z.number().int().nonnegative(),
	cwd: z.string(),
	host: z.string(),
	/** When this pid first registered the ID. */
	started: isoDate,
	hubUrl: z.string().optional(),
	/** Last write by the owner (register, connect, offline). */
	lastSeen: isoDate,
	status: z.enum(SESSION_STATUSES),
	claudeSessionId: z.string().optional(),
	/** The ID this session had before `relay_rename` (hooks of that Claude session follow it here). */
	renamedFrom: z.string().optional(),
});
export type SessionEntry = z.infer<typeof SessionEntry>;

/** The file: session ID → entry; every key is a valid ID and equals its entry's `id`. */
export const RegistryFile = z
	.record(z.string(), SessionEntry)
	.superRefine((reg, ctx) => {
		for (const [key, entry] of Object.entries(reg)) {
			const check = checkName(key);
			if (!check.ok)
				ctx.addIssue({ code: "custom", path: [key], message: check.reason });
			else if (entry.id !== key)
				ctx.addIssue({
					code: "custom",
					path: [key, "id"],
					message: `id is not ${key}`,
				});
		}
	});
export type Registry = Record<string, SessionEntry>;

/** What a caller of `upsertSession` gives: the ID, and whatever it knows better than the defaults. */
export interface SessionUpdate {
	id: string;
	/**
	 * Default: the pid already registered for this ID when that process is alive on this host (so the bridge
	 * keeps the pid of the shell that ran `claude-session`), otherwise this process.
	 */
	pid?: number;
	/** Default: the registered cwd when the pid is kept, otherwise `process.cwd()`. */
	cwd?: string;
	/** Default: `os.hostname()`. */
	host?: string;
	hubUrl?: string;
	/** Default: "online". */
	status?: SessionStatus;
	claudeSessionId?: string;
}

/** An expected failure (bad ID, lock held too long): its message is meant for people, without a stack. */
export class RegistryError extends UserError {
	override name = "RegistryError";
}

/** Ended entries last seen longer ago than this are removed by `listSessions({ prune: true })`. */
export const PRUNE_AFTER_MS = 24 * 60 * 60 * 1000;

const LOCK_OPTIONS: lockfile.LockOptions = {
	// The file need not exist yet; the lock is a directory `<file>.lock` next to it.
	realpath: false,
	// A holder that died keeps its lock for at most this long; a live holder refreshes it (update).
	stale: 10_000,
	// Writers hold the lock for a few milliseconds; keep retrying for half a minute or so before giving up.
	retries: {
		retries: 100,
		factor: 1.3,
		minTimeout: 5,
		maxTimeout: 250,
		randomize: true,
	},
	onCompromised: (err) =>
		warn(`the registry lock was taken over while held (${err.message})`),
};

function warn(message: string): void {
	process.stderr.write(`claude-relay: warning: ${message}\n`);
}

function assertId(id: string): void {
	const check = checkName(id);
	if (!check.ok) throw new RegistryError(check.reason);
}

/** True when a process with this pid exists on this machine (EPERM: it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
	// pid 0 and negatives address process groups, not a process.
	if (!Number.isInteger(pid) || pid <= 0) return false;
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code !== "ESRCH";
	}
}

/**
 * The status to show: "ended" when the owning process is gone from this host, whatever was stored.
 * Entries of other hosts (a shared home directory) keep their stored status: their pid means nothing here.
 */
export function effectiveStatus(
	entry: SessionEntry,
	localHost = hostname(),
): SessionStatus {
	if (entry.host === localHost && !isProcessAlive(entry.pid)) return "ended";
	return entry.status;
}

type ParseOutcome =
	| { ok: true; registry: Registry }
	| { ok: false; reason: string };

function parseRegistry(text: string): ParseOutcome {
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch (err) {
		return { ok: false, reason: `not valid JSON (${(err as Error).message})` };
	}
	const parsed = RegistryFile.safeParse(json);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
		return {
			ok: false,
			reason: `not a registry (${where}${issue?.message ?? "invalid"})`,
		};
	}
	return { ok: true, registry: parsed.data };
}

async function readText(file: string): Promise<string | undefined> {
	try {
		return await readOwnFile(file, "the sessions registry");
	} catch (err) {
		if (err instanceof UnsafeFileError) throw new RegistryError(err.message);
		throw err;
	}
}

async function exists(file: string): Promise<boolean> {
	try {
		await stat(file);
		return true;
	} catch {
		return false;
	}
}

/** Moves a corrupt file aside (the caller holds the lock) and says so on stderr. */
async function quarantine(file: string, reason: string): Promise<void> {
	const stamp = new Date().toISOString().replace(/[:.]/g, "-");
	let backup = `${file}.corrupt-${stamp}`;
	for (let n = 1; await exists(backup); n++)
		backup = `${file}.corrupt-${stamp}-${n}`;
	await rename(file, backup);
	warn(
		`the sessions registry ${file} is ${reason}; moved it to ${backup} and started an empty registry`,
	);
}

/** Reads the file while holding the lock, quarantining it when corrupt. */
async function readLocked(file: string): Promise<Registry> {
	const text = await readText(file);
	if (text === undefined) return {};
	const outcome = parseRegistry(text);
	if (outcome.ok) return outcome.registry;
	await quarantine(file, outcome.reason);
	return {};
}

async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
	await mkdir(dirname(file), { recursive: true, mode: 0o700 });
	let release: () => Promise<void>;
	try {
		await clearStrayLock(file, warn);
		release = await lockfile.lock(file, LOCK_OPTIONS);
	} catch (err) {
		if (err instanceof UnsafeFileError) throw new RegistryError(err.message);
		const code = (err as NodeJS.ErrnoException).code;
		if (code === "ELOCKED")
			throw new RegistryError(
				`the sessions registry is locked by another process (${file}.lock); if no claude-relay process is running, remove that directory`,
			);
		if (code === "ENOTDIR" || code === "EEXIST")
			throw new RegistryError(
				`cannot lock the sessions registry: ${file}.lock is in the way (${(err as Error).message}); delete it (rm -r ${file}.lock) and retry`,
			);
		throw err;
	}
	try {
		return await fn();
	} finally {
		await release().catch(() => {
			// Released already (compromised lock): nothing left to undo.
		});
	}
}

async function refuseLinkOrFail(file: string): Promise<void> {
	try {
		await refuseLink(file, "the sessions registry");
	} catch (err) {
		throw err instanceof UnsafeFileError ? new RegistryError(err.message) : err;
	}
}

/** Reads, changes and writes the registry under the lock; `change` says whether there is anything to write. */
async function mutate<T>(
	file: string,
	change: (reg: Registry) => { result: T; changed: boolean },
): Promise<T> {
	return withLock(file, async () => {
		const reg = await readLocked(file);
		const { result, changed } = change(reg);
		if (changed) {
			// write-file-atomic resolves links and would replace the target: refuse one made since the read.
			await refuseLinkOrFail(file);
			await writeFileAtomic(file, `${JSON.stringify(reg, null, "\t")}\n`, {
				mode: 0o600,
			});
		}
		return result;
	});
}

/**
 * The registry as stored (statuses as their owners wrote them; see `listSessions` for what to show).
 * Missing file: empty. Corrupt file: moved aside, warned about on stderr, empty. Never throws for content.
 */
export async function readRegistry(
	file: string = paths.registry(),
): Promise<Registry> {
	// Writes are atomic renames, so a lock-free read sees a whole file; only a bad one needs the lock.
	const text = await readText(file);
	if (text === undefined) return {};
	const outcome = parseRegistry(text);
	if (outcome.ok) return outcome.registry;
	return withLock(file, () => readLocked(file));
}

/**
 * Records or refreshes a session (see `SessionUpdate` for the defaults) and returns the stored entry.
 * Throws RegistryError for an invalid ID.
 */
export async function upsertSession(
	update: SessionUpdate,
	file: string = paths.registry(),
): Promise<SessionEntry> {
	assertId(update.id);
	if (
		update.pid !== undefined &&
		(!Number.isInteger(update.pid) || update.pid < 0)
	)
		throw new RegistryError(
			`pid must be a non-negative integer (got ${update.pid})`,
		);
	const host = update.host ?? hostname();
	return mutate(file, (reg) => {
		const now = new Date().toISOString();
		const previous = reg[update.id];
		const keepOwner =
			previous !== undefined &&
			previous.host === host &&
			(update.pid === undefined
				? isProcessAlive(previous.pid)
				: update.pid === previous.pid);
		const pid =
			update.pid ?? (keepOwner && previous ? previous.pid : process.pid);
		const entry: SessionEntry = {
			id: update.id,
			pid,
			cwd: update.cwd ?? (keepOwner && previous ? previous.cwd : process.cwd()),
			host,
			started: keepOwner && previous ? previous.started : now,
			lastSeen: now,
			status: update.status ?? "online",
		};
		const hubUrl = update.hubUrl ?? (keepOwner ? previous?.hubUrl : undefined);
		if (hubUrl !== undefined) entry.hubUrl = hubUrl;
		const claudeSessionId =
			update.claudeSessionId ??
			(keepOwner ? previous?.claudeSessionId : undefined);
		if (claudeSessionId !== undefined) entry.claudeSessionId = claudeSessionId;
		if (keepOwner && previous?.renamedFrom !== undefined) entry.renamedFrom = previous.renamedFrom;
		reg[update.id] = entry;
		return { result: entry, changed: true };
	});
}

/** Marks a session offline (its owner disconnected or is exiting). Returns the entry, or undefined if unknown. */
export async function markOffline(
	id: string,
	file: string = paths.registry(),
): Promise<SessionEntry | undefined> {
	assertId(id);
	return mutate(file, (reg) => {
		const entry = reg[id];
		if (!entry) return { result: undefined, changed: false };
		entry.status = "offline";
		entry.lastSeen = new Date().toISOString();
		return { result: entry, changed: true };
	});
}

/**
 * A live session took another ID (relay_rename): its entry moves to `to`, with `renamedFrom`, replacing
 * any entry `to` had. Returns the new entry; undefined when `from` was not registered.
 */
export async function renameSession(
	from: string,
	to: string,
	file: string = paths.registry(),
): Promise<SessionEntry | undefined> {
	assertId(from);
	assertId(to);
	return mutate(file, (reg) => {
		const entry = reg[from];
		if (!entry) return { result: undefined, changed: false };
		const moved: SessionEntry = { ...entry, id: to, renamedFrom: from, lastSeen: new Date().toISOString() };
		delete reg[from];
		reg[to] = moved;
		return { result: moved, changed: true };
	});
}

/** Forgets a session. Returns whether it was registered. */
export async function removeSession(
	id: string,
	file: string = paths.registry(),
): Promise<boolean> {
	assertId(id);
	return mutate(file, (reg) => {
		if (!(id in reg)) return { result: false, changed: false };
		delete reg[id];
		return { result: true, changed: true };
	});
}

export interface ListOptions {
	/** Remove entries that are ended and were last seen more than 24 hours ago. */
	prune?: boolean;
	file?: string;
}

/** The sessions to show, sorted by ID, with `status` replaced by `effectiveStatus`. */
export async function listSessions(
	options: ListOptions = {},
): Promise<SessionEntry[]> {
	const file = options.file ?? paths.registry();
	const localHost = hostname();
	const shown = (reg: Registry) =>
		Object.values(reg)
			.map((entry) => ({ ...entry, status: effectiveStatus(entry, localHost) }))
			.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
	if (!options.prune) return shown(await readRegistry(file));
	return mutate(file, (reg) => {
		const cutoff = Date.now() - PRUNE_AFTER_MS;
		let changed = false;
		for (const entry of Object.values(reg)) {
			if (
				effectiveStatus(entry, localHost) === "ended" &&
				Date.parse(entry.lastSeen) < cutoff
			) {
				delete reg[entry.id];
				changed = true;
			}
		}
		return { result: shown(reg), changed };
	});
}
