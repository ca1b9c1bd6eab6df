/**
 * The hooks' memory between runs, one small JSON file per Claude Code session (its `session_id`) under
 * $RELAY_HOME/state/hooks-<session>.json, read and written under a cross-process lock (the stop and wake
 * hooks of one Stop event run at the same time).
 *
 * The loop guard. An "automatic turn" is a turn the user did not start: the stop hook blocking a stop
 * (`decision: block`) or the wake hook waking an idle session (exit 2). Two sessions that answer each other
 * through these could go on forever, so:
 *   - a Stop whose input has `stop_hook_active: true` (the model is already continuing because of a stop
 *     hook) is blocked again only for NEW mail: a message with a higher seq than the last one that caused a
 *     block or a wake (`lastNotifiedSeq`);
 *   - the wake hook only wakes for new mail in that sense too, so a stop and a wake never fire for the same
 *     messages;
 *   - at most MAX_CHAIN (3) automatic turns in a row per Claude session: after that the hooks stay quiet
 *     (the mail waits, and the prompt hook hands it over at the user's next prompt). The chain is reset by
 *     a prompt from the user (the prompt hook), or after CHAIN_QUIET_MS (10 minutes) without an automatic
 *     turn.
 * Claude Code's own limit (it ignores stop blocks after 8 in a row) is a backstop, not the guard.
 */
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync, renameSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import lockfile from "proper-lockfile";
import { clearStrayLock } from "../../sessions/safe-files.js";
import { readSmallFile } from "./hook-common.js";

export const MAX_CHAIN = 3;
export const CHAIN_QUIET_MS = 10 * 60_000;
const PRUNE_AFTER_MS = 7 * 24 * 60 * 60_000;

export interface HookState {
	/** Highest message seq that caused a stop block or a wake. */
	lastNotifiedSeq: number;
	/** Automatic turns in the current chain. */
	chain: number;
	/** When the last automatic turn was started (epoch ms). */
	chainAt: number;
	/** The stop hook's last decision, so the wake hook started by the same Stop does not repeat it. */
	lastStop?: { at: number; blocked: boolean; maxSeq: number };
	/** The wake hook currently waiting for this session; an older one that sees another token gives up. */
	wake?: { token: string; pid: number; at: number };
}

const EMPTY: HookState = { lastNotifiedSeq: 0, chain: 0, chainAt: 0 };

export function stateDir(home: string): string {
	return join(home, "state");
}

/** File-name-safe key for a Claude session id (or for the relay ID when Claude's is unknown). */
export function stateKey(claudeSessionId: string | undefined, relaySession: string, room: string): string {
	const raw = claudeSessionId ? `c-${claudeSessionId}` : `r-${room}-${relaySession}`;
	if (/^[A-Za-z0-9_-]{1,100}$/.test(raw)) return raw;
	return `h-${createHash("sha256").update(raw).digest("hex").slice(0, 32)}`;
}

export function stateFile(home: string, key: string): string {
	return join(stateDir(home), `hooks-${key}.json`);
}

export function readState(file: string): HookState {
	const text = readSmallFile(file, 64 * 1024);
	if (!text) return { ...EMPTY };
	try {
		const v = JSON.parse(text) as Partial<HookState>;
		return {
			lastNotifiedSeq: typeof v.lastNotifiedSeq === "number" ? v.lastNotifiedSeq : 0,
			chain: typeof v.chain === "number" ? v.chain : 0,
			chainAt: typeof v.chainAt === "number" ? v.chainAt : 0,
			...(v.lastStop && typeof v.lastStop === "object" ? { lastStop: v.lastStop } : {}),
			...(v.wake && typeof v.wake === "object" ? { wake: v.wake } : {}),
		};
	} catch {
		return { ...EMPTY };
	}
}

function writeState(file: string, state: HookState): void {
	const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
	try {
		writeFileSync(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
		renameSync(tmp, file);
	} catch (err) {
		rmSync(tmp, { force: true });
		throw err;
	}
}

/**
 * Reads, changes and writes the state under the lock; returns what `change` returned. Without the lock
 * (another process holds it for over ~1 s, or the directory is not writable) it throws.
 */
export async function updateState<T>(file: string, change: (state: HookState) => T): Promise<T> {
	const dir = join(file, "..");
	mkdirSync(dir, { recursive: true, mode: 0o700 });
	// A stray file where the lock directory belongs would fail every hook run after ~1.5 s of retries.
	await clearStrayLock(file, () => undefined);
	const release = await lockfile.lock(file, {
		realpath: false,
		stale: 5_000,
		retries: { retries: 30, minTimeout: 10, maxTimeout: 50 },
	});
	try {
		const state = readState(file);
		const result = change(state);
		writeState(file, state);
		return result;
	} finally {
		await release().catch(() => undefined);
	}
}

/** True if the current chain is over the cap (a quiet gap resets it). */
export function chainExhausted(state: HookState, now = Date.now()): boolean {
	if (now - state.chainAt > CHAIN_QUIET_MS) return false;
	return state.chain >= MAX_CHAIN;
}

/** Records one automatic turn caused by mail up to `maxSeq`. */
export function recordAutomaticTurn(state: HookState, maxSeq: number, now = Date.now()): void {
	if (now - state.chainAt > CHAIN_QUIET_MS) state.chain = 0;
	state.chain += 1;
	state.chainAt = now;
	state.lastNotifiedSeq = Math.max(state.lastNotifiedSeq, maxSeq);
}

/** The user spoke: the chain of automatic turns is over. */
export function resetChain(state: HookState): void {
	state.chain = 0;
	state.chainAt = 0;
}

/** Removes state files untouched for a week (cheap; called now and then). */
export function pruneStates(home: string, now = Date.now()): void {
	const dir = stateDir(home);
	let names: string[];
	try {
		names = readdirSync(dir);
	} catch {
		return;
	}
	for (const name of names) {
		if (!name.startsWith("hooks-")) continue;
		const file = join(dir, name);
		try {
			if (now - statSync(file).mtimeMs > PRUNE_AFTER_MS) rmSync(file, { force: true });
		} catch {
			// gone already
		}
	}
}
