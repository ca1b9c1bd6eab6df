/**
 * `claude-relay install` and `claude-relay uninstall`: register the bridge with Claude Code and merge the
 * hooks into its settings.json, or remove exactly that. Implementation: install.ts.
 */
import type { CommandModule } from "yargs";
import { reportFailure } from "../../sessions/cli-errors.js";

interface InstallArgs {
	scope: "user" | "project";
	url?: string;
	room?: string;
	id?: string;
	guard?: "deny" | "ask" | "warn" | "off";
	blockGit?: boolean;
	dryRun: boolean;
}

const scopeOption = {
	choices: ["user", "project"] as const,
	default: "user" as const,
	describe: "user: `claude mcp add -s user` (every project); project: ./.mcp.json (this project only)",
};

export const installCommand: CommandModule<object, InstallArgs> = {
	command: "install",
	describe: "Register the bridge with Claude Code (claude mcp add) and add the relay hooks to its settings.json",
	builder: (y) =>
		y
			.options({
				scope: scopeOption,
				url: { type: "string", describe: "Hub URL for the bridge and the hooks; several hubs sharing one Redis: comma-separated (default at run time: $RELAY_URL or ws://localhost:9999)" },
				room: { type: "string", describe: "Room for the bridge and the hooks (default: $RELAY_ROOM or default)" },
				id: {
					type: "string",
					describe: "A fixed session ID for every session (-e CLAUDE_RELAY_SESSION_ID); usually left out: `claude-session <ID>` names each terminal",
				},
				guard: {
					choices: ["deny", "ask", "warn", "off"] as const,
					describe: "How the edit guard (PreToolUse) answers for files another session claimed; written into its command (default at run time: $RELAY_GUARD, else ask)",
				},
				"block-git": {
					type: "boolean",
					describe:
						"Also install `hook block-git` (PreToolUse on Bash): refuses git commit, push and reset --hard in turns the autowake daemon started. --no-block-git removes it; left out, an installed one is kept",
				},
				"dry-run": { type: "boolean", default: false, describe: "Print what would change (commands and a diff), change nothing" },
			})
			.example("$0 install --block-git", "Also guard git history in turns the autowake daemon starts")
			.example("$0 install", "Bridge at user scope, hooks in ~/.claude/settings.json (or $CLAUDE_CONFIG_DIR)")
			.example("$0 install --guard deny", "Edits of files another session claimed are refused, with the holder named")
			.example("$0 install --dry-run", "Show the plan")
			.example("$0 install --url ws://localhost:9999 --scope project", "Bridge in ./.mcp.json, with the hub URL fixed")
			.epilogue("Idempotent: running it again changes nothing. Every changed file is backed up first, into $RELAY_HOME/backups/ (never beside it).") as never,
	handler: async (argv) => {
		try {
			const { runInstall } = await import("./install.js");
			process.exitCode = await runInstall({ scope: argv.scope, url: argv.url, room: argv.room, id: argv.id, guard: argv.guard, blockGit: argv.blockGit, dryRun: argv.dryRun });
		} catch (err) {
			reportFailure("install", err);
		}
	},
};

export const uninstallCommand: CommandModule<object, Pick<InstallArgs, "scope" | "dryRun">> = {
	command: "uninstall",
	describe: "Remove what `claude-relay install` added: the bridge registration and the relay hooks",
	builder: (y) =>
		y
			.options({
				scope: scopeOption,
				"dry-run": { type: "boolean", default: false, describe: "Print what would change, change nothing" },
			})
			.example("$0 uninstall", "claude mcp remove relay -s user, and the relay hooks out of settings.json") as never,
	handler: async (argv) => {
		try {
			const { runUninstall } = await import("./install.js");
			process.exitCode = await runUninstall({ scope: argv.scope, dryRun: argv.dryRun });
		} catch (err) {
			reportFailure("uninstall", err);
		}
	},
};
