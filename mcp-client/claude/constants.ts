/**
 * Constants shared by the hook commands, install and the hooks themselves; a module with no imports, so
 * that the yargs command tree (hook-command.ts) and settings.ts load nothing heavy.
 */
export const HOOK_EVENTS = ["prompt", "stop", "wake", "guard", "block-git"] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

/** Default background wait of the wake hook, seconds. */
export const WAKE_DEFAULT_SECONDS = 600;

/**
 * The plugin's name in .claude-plugin/plugin.json (Claude Code reserves names starting with "claude-" for
 * Anthropic's own, so it is not "claude-relay"). Its bridge shows in `claude mcp list` as
 * `plugin:session-relay:relay`, and settings.json enables it as `session-relay@<marketplace>`.
 */
export const PLUGIN_NAME = "session-relay";
/** The name the plugin had before: an install from an older checkout is still recognised. */
export const OLD_PLUGIN_NAMES = ["claude-relay"] as const;

/** Starts every wake line; the prompt hook recognises it (a wake is not a prompt from the user). */
export const WAKE_MARKER = "claude-relay wake:";
