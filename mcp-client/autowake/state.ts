/**
 * The autowake daemon's local state under $RELAY_HOME/autowake/, shared with the commands and the hooks:
 *
 *   sessions.json   which sessions are opted in, per room: {"rooms": {"default": {"CC-2": {"on": true,
 *                   "by": "command", "at": "…"}}}}. `by` is "command" (`claude-relay autowake on|off ID`) or
 *                   "bridge" (its --autowake flag). An explicit `off` beats the flag; a sensitive ID is woken
 *                   only when the command named it. Written atomically under a lock (as the registry).
 *   paused          the global off switch: while this file exists nothing is woken (`autowake pause`,
 *                   `resume`); the daemon looks at it every cycle, so it takes effect without a restart.
 *   turns/<room>.<ID>.json  the turn the daemon started by typing its nudge: what it typed and when. The
 *                   block-git hook reads it; the prompt hook removes it at the next prompt that is not
 *                   the nudge (a person took over), and it expires after TURN_MAX_MS anyway.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import lockfile from "proper-lockfile";
import writeFileAtomic from "write-file-atomic";
import { z } from "zod";
import { checkName } from "../../server/protocol.js";

/** A turn the daemon started counts as one for this long at most (the block-git hook stops refusing then). */
export const TURN_MAX_MS = 30 * 60_000;
/** The opt-in file is refused past this size (it is a few lines per session). */
const MAX_OPTIN_BYTES = 1024 * 1024;

export const autowakeDir = (home: string) => join(home, "autowake");
export const optInFile = (home: string) => join(autowakeDir(home), "sessions.json");
export const pausedFile = (home: string) => join(autowakeDir(home), "paused");
export const turnFile = (home: string, room: string, session: string) => join(autowakeDir(home), "turns", `${room}.${session}.json`);

const OptIn = z.object({ on: z.boolean(), by: z.enum(["command", "bridge"]), at: z.string() });
export type OptIn = z.infer<typeof OptIn>;
const OptInFile = z.object({ rooms: z.record(z.string(), z.record(z.string(), OptIn)) });
type OptIns = z.infer<typeof OptInFile>;

/** The opt-ins as stored; a missing, oversized or corrupt file is none (nothing is woken). */
export function readOptIns(home: string): OptIns {
	try {
		const file = optInFile(home);
		if (statSync(file).size > MAX_OPTIN_BYTES) return { rooms: {} };
		const parsed = OptInFile.safeParse(JSON.parse(readFileSync(file, "utf8")));
		return parsed.success ? parsed.data : { rooms: {} };
	} catch {
		return { rooms: {} };
	}
}

/** The sessions of a room that are opted in, with how. */
export function optedIn(home: string, room: string): Map<string, OptIn> {
	const out = new Map<string, OptIn>();
	for (const [id, entry] of Object.entries(readOptIns(home).rooms[room] ?? {})) if (entry.on && checkName(id).ok) out.set(id, entry);
	return out;
}

/**
 * Records `on` or `off` for a session. `by: "bridge"` (the --autowake flag) never overrides what the command
 * said: an explicit `off` stays off, and an explicit `on` stays explicit. Returns the entry now stored.
 */
export async function setOptIn(home: string, room: string, session: string, on: boolean, by: OptIn["by"]): Promise<OptIn> {
	for (const [v, what] of [
		[session, "session ID"],
		[room, "room name"],
	] as const) {
		const check = checkName(v, what);
		if (!check.ok) throw new Error(check.reason);
	}
	const file = optInFile(home);
	await mkdir(dirname(file), { recursive: true, mode: 0o700 });
	const release = await lockfile.lock(file, { realpath: false, stale: 10_000, retries: { retries: 50, minTimeout: 5, maxTimeout: 200 } });
	try {
		const all = readOptIns(home);
		const rooms = all.rooms;
		const current = rooms[room]?.[session];
		if (by === "bridge" && current?.by === "command") return current;
		const entry: OptIn = { on, by, at: new Date().toISOString() };
		rooms[room] = { ...(rooms[room] ?? {}), [session]: entry };
		await writeFileAtomic(file, `${JSON.stringify(all, null, "\t")}\n`, { mode: 0o600 });
		return entry;
	} finally {
		await release().catch(() => undefined);
	}
}

export function isPaused(home: string): boolean {
	try {
		statSync(pausedFile(home));
		return true;
	} catch {
		return false;
	}
}

export function setPaused(home: string, paused: boolean): void {
	const file = pausedFile(home);
	if (!paused) {
		rmSync(file, { force: true });
		return;
	}
	mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
	writeFileSync(file, `paused ${new Date().toISOString()}\n`, { mode: 0o600 });
}

export interface TurnMarker {
	/** Exactly what was typed (the nudge). */
	nudge: string;
	/** Epoch ms. */
	at: number;
	driver: "tmux";
}

export function writeTurn(home: string, room: string, session: string, marker: TurnMarker): void {
	const file = turnFile(home, room, session);
	mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
	writeFileSync(file, JSON.stringify(marker), { mode: 0o600 });
}

/** The marker of a turn the daemon started that still counts (younger than TURN_MAX_MS), if any. */
export function readTurn(home: string, room: string, session: string, now = Date.now()): TurnMarker | undefined {
	if (!checkName(session).ok || !checkName(room, "room name").ok) return undefined;
	try {
		const raw = JSON.parse(readFileSync(turnFile(home, room, session), "utf8")) as Partial<TurnMarker>;
		if (typeof raw.nudge !== "string" || typeof raw.at !== "number" || now - raw.at > TURN_MAX_MS || raw.at > now + 60_000) return undefined;
		return { nudge: raw.nudge, at: raw.at, driver: "tmux" };
	} catch {
		return undefined;
	}
}

export function clearTurn(home: string, room: string, session: string): void {
	if (!checkName(session).ok || !checkName(room, "room name").ok) return;
	rmSync(turnFile(home, room, session), { force: true });
}
