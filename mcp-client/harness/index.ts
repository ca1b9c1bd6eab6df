/**
 * The harnesses `install`, `uninstall` and `doctor` know (`--for`), and the generic MCP server entry
 * `install --print` shows for any other client (Cursor, Windsurf, Claude Desktop, …). A new harness is one
 * module implementing harness.ts's `Harness` (for a config-file one, `configFileHarness`), listed here.
 */
import { cliLocation, validate } from "../claude/install.js";
import { claude } from "./claude.js";
import { codex } from "./codex.js";
import { gemini } from "./gemini.js";
import type { Harness, HarnessName, HarnessOptions } from "./harness.js";

export const HARNESSES: Record<HarnessName, Harness> = { claude, codex, gemini };

/**
 * The bridge as the `mcpServers` JSON most MCP clients read, with --url, --room and --id as `env`. Such a
 * client passes its own environment to the bridge or not (a GUI app started from the dock has no
 * `claude-session` variable): `--id` fixes the session ID in the entry.
 */
export function genericMcpJson(opts: Pick<HarnessOptions, "url" | "room" | "id">): string {
	validate(opts);
	const loc = cliLocation();
	const env: Record<string, string> = {};
	if (opts.url) env.RELAY_URL = opts.url;
	if (opts.room) env.RELAY_ROOM = opts.room;
	if (opts.id) env.CLAUDE_RELAY_SESSION_ID = opts.id;
	const relay: Record<string, unknown> = { command: loc.node, args: [loc.cli, "mcp"] };
	if (Object.keys(env).length > 0) relay.env = env;
	return `${JSON.stringify({ mcpServers: { relay } }, null, 2)}\n`;
}
