/**
 * Constants shared by the hook commands, install and the hooks themselves; a module with no imports, so
 * that the yargs command tree (hook-command.ts) and settings.ts load nothing heavy.
 */
export const HOOK_EVENTS = ["prompt", "stop", "wake", "block-git"] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

/** Default background wait of the wake hook, seconds. */
export const WAKE_DEFAULT_SECONDS = 600;

/** Starts every wake line; the prompt hook recognises it (a wake is not a prompt from the user). */
export const WAKE_MARKER = "claude-relay wake:";
