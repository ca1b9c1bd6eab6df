/**
 * The tmux driver: types the nudge into the pane the session's bridge runs in (its hello meta says
 * `tmuxPane` and `tmuxSocket`), after checking that the pane is still that session's and is waiting for
 * input. Every tmux call is `tmux -S <socket> …` through execFile (no shell), bounded by 5 s.
 *
 * "Still that session's": the socket is a socket of this user; the pane exists and is not dead; the harness
 * (the bridge's parent process, read from the process table) is the pane's process or a descendant of it;
 * and the pane's foreground program (`#{pane_current_command}`, which tmux takes from the foreground
 * process group's argv[0]) is the harness's own program name, so a pane where the user has put the harness
 * in the background, or runs an editor in front of it, is left alone.
 *
 * "Waiting for input" (a heuristic): the pane is not in copy mode; one of its bottom `lines` non-empty lines
 * matches the harness's prompt pattern (an empty input line: text a person has started typing does not
 * match); and the screen does not change for `quiet_ms`. Limits: a harness that prints a line looking like
 * its prompt while it works, or one that is silent for quiet_ms mid-task, can be nudged while busy (the
 * nudge then waits in its input, harmlessly); a harness whose prompt matches no pattern is never nudged
 * (configure [tmux.prompts]); a pane zoomed or resized meanwhile only delays the check.
 */
import { execFile } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { basename } from "node:path";
import { harnessFromArgv } from "../../harness/clients.js";
import { ancestors, parentOf } from "../../nested.js";
import { type AutowakeConfig, DEFAULT_PROMPT, perClient } from "../config.js";

export interface TmuxTarget {
	session: string;
	pane: string;
	socket: string;
	host: string | undefined;
	/** The bridge's pid (hello meta). */
	bridgePid: number | undefined;
	/** The session's `client` meta: which prompt pattern applies. */
	client: string | undefined;
}

export type TmuxCheck =
	| { ok: true; harnessPid: number; program: string }
	| { ok: false; reason: "not-local" | "bad-target" | "no-bridge" | "no-pane" | "not-harness" | "other-program" | "in-mode"; detail: Record<string, unknown> }
	| { ok: false; reason: "busy" | "no-prompt"; detail: Record<string, unknown>; transient: true };

type Run = (socket: string, args: string[]) => Promise<string>;

export const runTmux: Run = (socket, args) =>
	new Promise((resolve, reject) => {
		execFile("tmux", ["-S", socket, ...args], { timeout: 5_000, maxBuffer: 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
			if (err) reject(new Error((stderr || err.message).trim().slice(0, 300)));
			else resolve(stdout);
		});
	});

/** argv[0]'s base name of a process, as tmux reads it for pane_current_command; undefined if unknown. */
export function programName(pid: number): string | undefined {
	try {
		if (process.platform === "linux") {
			const argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
			return argv0 ? basename(argv0).replace(/^-/, "") : undefined;
		}
	} catch {
		return undefined;
	}
	return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function argvOf(pid: number): string[] | undefined {
	try {
		return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
	} catch {
		return undefined;
	}
}

/**
 * Whether the pane's foreground program (`command`) is the harness's own launcher: npm's `codex` is a node
 * script that runs Codex's native binary (the bridge's parent), so tmux names `node`, the leader of the
 * terminal's foreground process group. True only when that leader is an ancestor of the harness, its name
 * is `command`, and its command line names the same harness as the harness's (harness/clients.ts); a shell,
 * an editor or a `sleep` in front of the harness is none of that. Linux only (/proc), like programName.
 */
export function viaLauncher(harness: number, command: string): boolean {
	if (process.platform !== "linux") return false;
	let stat: string;
	try {
		stat = readFileSync(`/proc/${harness}/stat`, "utf8");
	} catch {
		return false;
	}
	// After "(comm) ": state ppid pgrp session tty_nr tpgid …
	const tpgid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[5]);
	if (!Number.isInteger(tpgid) || tpgid <= 1 || !ancestors(harness).includes(tpgid)) return false;
	const leader = argvOf(tpgid);
	const own = argvOf(harness);
	if (!leader || !own || basename(leader[0] ?? "").replace(/^-/, "") !== command) return false;
	const name = harnessFromArgv(leader);
	return name !== undefined && name === harnessFromArgv(own);
}

export class TmuxDriver {
	constructor(
		private readonly cfg: AutowakeConfig["tmux"],
		private readonly run: Run = runTmux,
	) {}

	#prompt(client: string | undefined): RegExp {
		const p = perClient(this.cfg.prompts, client) ?? DEFAULT_PROMPT;
		return new RegExp(p);
	}

	async #screen(t: TmuxTarget): Promise<string> {
		return this.run(t.socket, ["capture-pane", "-p", "-t", t.pane]);
	}

	async check(t: TmuxTarget): Promise<TmuxCheck> {
		if (t.host === undefined || t.host !== hostname()) return { ok: false, reason: "not-local", detail: { host: t.host } };
		if (!/^%\d{1,9}$/.test(t.pane) || !t.socket.startsWith("/")) return { ok: false, reason: "bad-target", detail: { pane: t.pane } };
		try {
			const st = statSync(t.socket);
			const uid = process.getuid?.();
			if (!st.isSocket() || (uid !== undefined && st.uid !== uid)) return { ok: false, reason: "bad-target", detail: { socket: "not a socket of this user" } };
		} catch {
			return { ok: false, reason: "no-pane", detail: { socket: "gone" } };
		}
		const harness = t.bridgePid !== undefined ? parentOf(t.bridgePid) : undefined;
		if (harness === undefined || harness <= 1) return { ok: false, reason: "no-bridge", detail: { bridgePid: t.bridgePid } };
		let info: string;
		try {
			info = (await this.run(t.socket, ["display-message", "-p", "-t", t.pane, "#{pane_pid}\t#{pane_current_command}\t#{pane_in_mode}\t#{pane_dead}"])).trim();
		} catch (err) {
			return { ok: false, reason: "no-pane", detail: { error: (err as Error).message } };
		}
		const [panePid, command = "", inMode, dead] = info.split("\t");
		if (dead === "1") return { ok: false, reason: "no-pane", detail: { dead: true } };
		const pid = Number(panePid);
		if (!(harness === pid || ancestors(harness).includes(pid))) return { ok: false, reason: "not-harness", detail: { panePid: pid, harnessPid: harness } };
		const program = programName(harness);
		if ((program === undefined || command !== program) && !viaLauncher(harness, command)) return { ok: false, reason: "other-program", detail: { runs: command, harness: program ?? null } };
		if (inMode !== "0") return { ok: false, reason: "in-mode", detail: {} };
		const prompt = this.#prompt(t.client);
		const first = await this.#screen(t);
		const bottom = first
			.split("\n")
			.map((l) => l.replace(/\s+$/, ""))
			.filter((l) => l.length > 0)
			.slice(-this.cfg.lines);
		if (!bottom.some((l) => prompt.test(l))) return { ok: false, reason: "no-prompt", detail: { prompt: prompt.source }, transient: true };
		await sleep(this.cfg.quiet_ms);
		if ((await this.#screen(t)) !== first) return { ok: false, reason: "busy", detail: { quietMs: this.cfg.quiet_ms }, transient: true };
		return { ok: true, harnessPid: harness, program: program ?? command };
	}

	/** Types `text` literally, then Enter. */
	async type(t: TmuxTarget, text: string): Promise<void> {
		await this.run(t.socket, ["send-keys", "-t", t.pane, "-l", text]);
		await this.run(t.socket, ["send-keys", "-t", t.pane, "Enter"]);
	}
}
