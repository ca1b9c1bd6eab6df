/**
 * `claude-relay hook block-git` (PreToolUse, matcher Bash; installed by `claude-relay install --block-git`):
 * in a turn the autowake daemon started, refuses Bash commands that run `git commit`, `git push` or
 * `git reset --hard` (git-commands.ts says how the command is read and what it cannot catch). Outside such
 * turns, and for every other tool, it says nothing and the command runs.
 *
 * A turn the daemon started is one of:
 * - a headless run of the spawn driver: its environment has CLAUDE_RELAY_AUTOWAKE=1, which Claude Code
 *   passes to its hooks;
 * - a turn the tmux driver's nudge began: the daemon wrote $RELAY_HOME/autowake/turns/<room>.<ID>.json just
 *   before typing, and it holds until the session's next prompt that is not that nudge (the prompt hook
 *   removes it: a person took over) or 30 minutes, whichever is first.
 * The session ID is the hooks' (--id, CLAUDE_RELAY_SESSION_ID, RELAY_CLIENT_ID); the room --room or RELAY_ROOM.
 */
import { readTurn } from "../autowake/state.js";
import { findGitWrites } from "./git-commands.js";
import type { HookInput, HookOptions } from "./hook-common.js";

/** The session and room the hooks run for (the hook rule, without a secret: nothing is asked of the hub). */
export function hookSession(opts: HookOptions, env: NodeJS.ProcessEnv): { session: string | undefined; room: string } {
	const session = opts.id?.trim() || env.CLAUDE_RELAY_SESSION_ID?.trim() || env.RELAY_CLIENT_ID?.trim() || undefined;
	return { session, room: opts.room?.trim() || env.RELAY_ROOM?.trim() || "default" };
}

/** Whether this hook runs in a turn the autowake daemon started, and which kind. */
export function daemonTurn(home: string, opts: HookOptions, env: NodeJS.ProcessEnv): "spawn" | "tmux" | undefined {
	if (env.CLAUDE_RELAY_AUTOWAKE === "1") return "spawn";
	const { session, room } = hookSession(opts, env);
	return session && readTurn(home, room, session) ? "tmux" : undefined;
}

/** The hook's answer on stdout: a deny, or nothing (the command goes on). */
export function blockGitAnswer(input: HookInput, turn: "spawn" | "tmux" | undefined): string | undefined {
	if (!turn || input.tool_name !== "Bash") return undefined;
	const command = (input.tool_input as { command?: unknown } | undefined)?.command;
	if (typeof command !== "string") return undefined;
	const found = findGitWrites(command.slice(0, 100_000));
	if (found.length === 0) return undefined;
	const what = [...new Set(found.map((f) => f.what))].join(", ");
	return JSON.stringify({
		hookSpecificOutput: {
			hookEventName: "PreToolUse",
			permissionDecision: "deny",
			permissionDecisionReason: `claude-relay block-git: this turn was started by the relay's autowake daemon (${turn === "spawn" ? "a headless run" : "a nudge typed into this session"}), not by your user, and it may not change or publish git history (${what}). Leave the change uncommitted and say in your reply what you would commit or push; your user can do it.`,
		},
	});
}
