/**
 * `claude-relay install` and `claude-relay uninstall`: register the bridge with an agent harness (`--for`:
 * Claude Code by default, where the hooks are merged into its settings.json too; Codex CLI; Gemini CLI), or
 * remove exactly that; `install --print` shows the entry for any other MCP client. Implementations:
 * install.ts (Claude Code) and ../harness/.
 */
import type { CommandModule } from "yargs";
import { reportFailure, UserError } from "../../sessions/cli-errors.js";

/** The --for values (harness/index.ts HARNESSES), here so that --help loads no harness module. */
export const HARNESS_NAMES = ["claude", "codex", "gemini"] as const;
type HarnessArg = (typeof HARNESS_NAMES)[number];

export const forOption = {
	choices: HARNESS_NAMES,
	default: "claude" as const,
	describe: "The agent harness: claude (Claude Code), codex (Codex CLI: $CODEX_HOME/config.toml), gemini (Gemini CLI: ~/.gemini/settings.json)",
};

/** The Claude Code-only flags given with another harness: refused (exit 2), not silently ignored. */
function claudeOnly(argv: { for: HarnessArg; scope?: string; guard?: string; blockGit?: boolean }): void {
	if (argv.for === "claude") return;
	const given = [argv.scope !== undefined && argv.scope !== "user" && "--scope project", argv.guard !== undefined && "--guard", argv.blockGit !== undefined && "--block-git"].filter(Boolean);
	if (given.length > 0) throw new UserError(`${given.join(", ")}: Claude Code only (its hooks and project .mcp.json); --for ${argv.for} registers the bridge in the user's ${argv.for} config`, 2);
}

interface InstallArgs {
	for: HarnessArg;
	print: boolean;
	scope?: "user" | "project";
	url?: string;
	room?: string;
	id?: string;
	guard?: "deny" | "ask" | "warn" | "off";
	blockGit?: boolean;
	dryRun: boolean;
}

const scopeOption = {
	choices: ["user", "project"] as const,
	describe: "Claude Code: user (default): `claude mcp add -s user` (every project); project: ./.mcp.json (this project only)",
};

export const installCommand: CommandModule<object, InstallArgs> = {
	command: "install",
	describe: "Register the bridge with an agent harness: Claude Code (claude mcp add, and the relay hooks in its settings.json), Codex CLI or Gemini CLI",
	builder: (y) =>
		y
			.options({
				for: forOption,
				print: { type: "boolean", default: false, describe: "Print the bridge's MCP server entry (mcpServers JSON) for any other MCP client (Cursor, Windsurf, …); write nothing" },
				scope: scopeOption,
				url: { type: "string", describe: "Hub URL for the bridge and the hooks; several hubs sharing one Redis: comma-separated (default at run time: $RELAY_URL or ws://localhost:9999)" },
				room: { type: "string", describe: "Room for the bridge and the hooks (default: $RELAY_ROOM or default)" },
				id: {
					type: "string",
					describe: "A fixed session ID for every session (-e CLAUDE_RELAY_SESSION_ID); usually left out: `claude-session <ID>` names each terminal",
				},
				guard: {
					choices: ["deny", "ask", "warn", "off"] as const,
					describe: "Claude Code: how the edit guard (PreToolUse) answers for files another session claimed; written into its command (default at run time: $RELAY_GUARD, else ask)",
				},
				"block-git": {
					type: "boolean",
					describe:
						"Claude Code: also install `hook block-git` (PreToolUse on Bash): refuses git commit, push and reset --hard in turns the autowake daemon started. --no-block-git removes it; left out, an installed one is kept",
				},
				"dry-run": { type: "boolean", default: false, describe: "Print what would change (commands and a diff), change nothing" },
			})
			.example("$0 install --for codex", "[mcp_servers.relay] in $CODEX_HOME/config.toml (default ~/.codex), other settings and comments kept")
			.example("$0 install --for gemini --dry-run", "Show the change to ~/.gemini/settings.json")
			.example("$0 install --print --id CURSOR-1", "The entry to paste into another client's MCP config")
			.example("$0 install --block-git", "Also guard git history in turns the autowake daemon starts")
			.example("$0 install", "Bridge at user scope, hooks in ~/.claude/settings.json (or $CLAUDE_CONFIG_DIR)")
			.example("$0 install --guard deny", "Edits of files another session claimed are refused, with the holder named")
			.example("$0 install --dry-run", "Show the plan")
			.example("$0 install --url ws://localhost:9999 --scope project", "Bridge in ./.mcp.json, with the hub URL fixed")
			.epilogue("Idempotent: running it again changes nothing. Every changed file is backed up first, into $RELAY_HOME/backups/ (never beside it).") as never,
	handler: async (argv) => {
		try {
			const { HARNESSES, genericMcpJson } = await import("../harness/index.js");
			if (argv.print) {
				process.stdout.write(genericMcpJson({ url: argv.url, room: argv.room, id: argv.id }));
				return;
			}
			claudeOnly(argv);
			process.exitCode = await HARNESSES[argv.for].install({
				url: argv.url,
				room: argv.room,
				id: argv.id,
				dryRun: argv.dryRun,
				claude: { scope: argv.scope ?? "user", guard: argv.guard, blockGit: argv.blockGit },
			});
		} catch (err) {
			reportFailure("install", err);
		}
	},
};

export const uninstallCommand: CommandModule<object, Pick<InstallArgs, "for" | "scope" | "dryRun">> = {
	command: "uninstall",
	describe: "Remove what `claude-relay install` added: the bridge registration (and, for Claude Code, the relay hooks)",
	builder: (y) =>
		y
			.options({
				for: forOption,
				scope: scopeOption,
				"dry-run": { type: "boolean", default: false, describe: "Print what would change, change nothing" },
			})
			.example("$0 uninstall", "claude mcp remove relay -s user, and the relay hooks out of settings.json")
			.example("$0 uninstall --for codex", "[mcp_servers.relay] out of $CODEX_HOME/config.toml, the rest byte for byte") as never,
	handler: async (argv) => {
		try {
			claudeOnly(argv);
			const { HARNESSES } = await import("../harness/index.js");
			process.exitCode = await HARNESSES[argv.for].uninstall({ dryRun: argv.dryRun, claude: { scope: argv.scope ?? "user" } });
		} catch (err) {
			reportFailure("uninstall", err);
		}
	},
};
