/**
 * Nested and background runs: a `claude -p` started from a session's Bash tool, a subagent or a fork
 * inherits CLAUDE_RELAY_SESSION_ID, so its bridge asks for the ID its own parent session's bridge holds.
 * Contesting it would be wrong either way (refused every 5 s, or worse, taking the ID over), so such a
 * bridge takes `<ID>-bg<n>` instead (an ephemeral ID, forgotten when it ends).
 *
 * How the bridge knows: the hub's E_ID_TAKEN names the live holder (`holder: {host, pid, ppid}`, from its
 * hello meta). The holder is "the session that started this run" when it runs on this host and its parent
 * process (the harness that runs that bridge; read from the process table, else the ppid it announced) is
 * one of this bridge's own ancestors. Two terminals that share an ID have no such relation (their common
 * ancestor, a tmux server or a login shell, is never a bridge's parent), so they still get E_ID_TAKEN.
 *
 * The walk up the process tree is bounded (64 levels; each step one read of /proc/<pid>/stat on Linux, one
 * `ps -o ppid=` elsewhere, bounded by 1 s).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { checkName } from "../server/protocol.js";

const MAX_DEPTH = 64;
/** A nested run tries `<ID>-bg1` … `<ID>-bg9` (siblings running at once take the next one). */
export const MAX_BG = 9;

export interface Holder {
	host?: string | undefined;
	pid?: number | undefined;
	ppid?: number | undefined;
}

/** The parent pid of a process on this machine, or undefined (gone, not ours to see, or no `ps`). */
export function parentOf(pid: number): number | undefined {
	if (!Number.isInteger(pid) || pid <= 0) return undefined;
	if (process.platform === "linux") {
		try {
			const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
			// "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
			const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
			return Number.isInteger(ppid) && ppid >= 0 ? ppid : undefined;
		} catch {
			return undefined;
		}
	}
	const r = spawnSync("ps", ["-o", "ppid=", "-p", String(pid)], { encoding: "utf8", timeout: 1_000 });
	const ppid = Number(r.stdout?.trim());
	return r.status === 0 && Number.isInteger(ppid) && ppid >= 0 ? ppid : undefined;
}

/** This process's ancestors, nearest first (its parent, its grandparent, …), without pid 0 and 1. */
export function ancestors(pid = process.pid): number[] {
	const out: number[] = [];
	let at: number | undefined = pid === process.pid ? process.ppid : parentOf(pid);
	while (at !== undefined && at > 1 && out.length < MAX_DEPTH && !out.includes(at)) {
		out.push(at);
		at = parentOf(at);
	}
	return out;
}

/** Whether `holder` (E_ID_TAKEN's) is a bridge whose harness is one of this process's ancestors. */
export function heldByAncestor(holder: Holder, opts: { host?: string; ancestors?: number[] } = {}): boolean {
	if (holder.host === undefined || holder.host !== (opts.host ?? hostname())) return false;
	if (holder.pid === undefined || holder.pid === process.pid) return false;
	// What the process table says beats what the holder announced; the announcement serves where the table
	// cannot be read (another user's process).
	const harness = parentOf(holder.pid) ?? holder.ppid;
	if (harness === undefined || harness <= 1) return false;
	return (opts.ancestors ?? ancestors()).includes(harness);
}

/** `<base>-bg<n>`, cut so that it is a valid ID (64 characters at most). */
export function backgroundId(base: string, n: number): string {
	const suffix = `-bg${n}`;
	const id = `${base.slice(0, 64 - suffix.length).replace(/[-_]+$/, "")}${suffix}`;
	return checkName(id).ok ? id : `session${suffix}`;
}
