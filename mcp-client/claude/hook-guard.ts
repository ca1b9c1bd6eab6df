/**
 * `claude-relay hook guard` (PreToolUse, for Edit, Write, MultiEdit and NotebookEdit): before the edit,
 * checks the target file against the other sessions' live claims in its repository and, when one covers
 * it, answers by mode (--guard / RELAY_GUARD, default ask):
 *
 *   deny  {"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"…"}}
 *         (the reason reaches the model, which should coordinate instead)
 *   ask   the same with "ask": the user decides, the reason shown in the prompt; the model gets it as
 *         additionalContext too
 *   warn  only {"hookSpecificOutput":{"hookEventName":"PreToolUse","additionalContext":"…"}}: the edit goes on
 *   off   nothing (the hook exits before reading anything)
 *
 * The reason names the holder, the claimed pattern, their reason, the expiry and how to coordinate. Silent
 * (exit 0, no output) whenever it cannot tell: the session is not bridged, the file is in no repository, git
 * or the hub does not answer in time, no claim covers the file. An edit is never blocked because the hub is
 * away. Bounds: git 1 s per call, the hub request 0.75 s, the whole hook 3 s (hook-main.ts).
 */
import { blockingClaims, fetchClaims, type GuardMode, guardReason } from "../claims-check.js";
import { locateFile } from "../repo.js";
import { type HookContext, printJson } from "./hook-common.js";

export const GUARDED_TOOLS: ReadonlySet<string> = new Set(["Edit", "Write", "MultiEdit", "NotebookEdit"]);
/** The matcher install writes for the guard. */
export const GUARD_MATCHER = "Edit|Write|MultiEdit|NotebookEdit";
const GIT_TIMEOUT_MS = 1_000;
/** A hub on loopback answers in milliseconds, through a tunnel in a few hundred: past this the edit goes on. */
const HUB_TIMEOUT_MS = 750;

/** The file a guarded tool call writes, from Claude Code's tool_input; undefined for anything else. */
export function targetFile(input: HookContext["input"]): string | undefined {
	if (typeof input.tool_name !== "string" || !GUARDED_TOOLS.has(input.tool_name)) return undefined;
	const ti = input.tool_input;
	if (typeof ti !== "object" || ti === null) return undefined;
	const t = ti as { file_path?: unknown; notebook_path?: unknown };
	const file = typeof t.file_path === "string" ? t.file_path : typeof t.notebook_path === "string" ? t.notebook_path : undefined;
	return file && file.length <= 4096 ? file : undefined;
}

/** The PreToolUse answer for a covered file, by mode; undefined for off. */
export function guardOutput(mode: GuardMode, reason: string): unknown {
	if (mode === "off") return undefined;
	if (mode === "warn") return { hookSpecificOutput: { hookEventName: "PreToolUse", additionalContext: reason } };
	if (mode === "ask") {
		return { hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: "ask", permissionDecisionReason: reason, additionalContext: reason } };
	}
	return { hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: "deny", permissionDecisionReason: reason } };
}

export async function runGuardHook(ctx: HookContext, mode: GuardMode): Promise<number> {
	const file = targetFile(ctx.input);
	if (!file || mode === "off") return 0;
	const cwd = typeof ctx.input.cwd === "string" && ctx.input.cwd ? ctx.input.cwd : process.cwd();
	const located = await locateFile(file, cwd, { timeoutMs: GIT_TIMEOUT_MS });
	if (!located) return 0;
	const { claims, now } = await fetchClaims({ url: ctx.url, token: ctx.token, room: ctx.room, repo: located.identity, timeoutMs: HUB_TIMEOUT_MS });
	const blockers = blockingClaims(claims, located.path, ctx.session);
	if (blockers.length === 0) return 0;
	const reason = guardReason(located.path, located.identity, blockers, now);
	const out = guardOutput(mode, reason);
	if (out) printJson(out);
	ctx.log("info", `guard: ${mode} for a claimed file`, { session: ctx.session, path: located.path, repo: located.identity, holders: blockers.map((c) => c.session) });
	return 0;
}
