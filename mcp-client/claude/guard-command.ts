/**
 * `claude-relay guard git` (install the git pre-commit guard) and `claude-relay guard check` (what that hook
 * runs). Implementation: guard-git.ts. The PreToolUse side of the guard is `claude-relay hook guard`.
 */
import type { CommandModule } from "yargs";
import { reportFailure } from "../../sessions/cli-errors.js";

interface GuardArgs {
	what: "git" | "check";
	files: string[];
	repo?: string;
	chain: boolean;
	uninstall: boolean;
	url?: string;
	room?: string;
}

export const guardCommand: CommandModule<object, GuardArgs> = {
	command: "guard <what> [files..]",
	describe: "git: install a pre-commit hook that refuses commits touching files other sessions claimed; check: run that check now",
	builder: (y) =>
		y
			.positional("what", { choices: ["git", "check"] as const, demandOption: true, describe: "git: install (or --uninstall) the hook; check: check staged files (or FILES)" })
			.positional("files", { type: "string", array: true, default: [], describe: "check: repo-relative files to check instead of the staged ones" })
			.options({
				repo: { type: "string", describe: "git: the repository to install into (default: the current directory's)" },
				chain: { type: "boolean", default: false, describe: "git: keep an existing pre-commit hook by running it first (moved to pre-commit.local)" },
				uninstall: { type: "boolean", default: false, describe: "git: remove the hook (and put a chained one back)" },
				url: { type: "string", describe: "Hub URL, written into the hook (default at run time: $RELAY_URL or ws://localhost:9999)" },
				room: { type: "string", describe: "Room, written into the hook (default at run time: $RELAY_ROOM or default)" },
			})
			.example("$0 guard git", "Install the pre-commit guard in this repository")
			.example("$0 guard git --chain", "The same, keeping the repository's own pre-commit hook")
			.example("RELAY_GUARD=off git commit -m wip", "Commit once without the check")
			.epilogue(
				"The check exits 1 (refusing the commit) when a staged file is covered by another session's live claim, naming the holder, its reason and expiry. RELAY_GUARD=warn only prints; RELAY_GUARD=off skips it. With the hub unreachable the commit goes on, with a warning.",
			) as never,
	handler: async (argv) => {
		try {
			const m = await import("./guard-git.js");
			if (argv.what === "git") {
				process.exitCode = await m.runGuardGit({ repo: argv.repo, chain: argv.chain, uninstall: argv.uninstall, url: argv.url, room: argv.room });
			} else {
				process.exitCode = await m.runGuardCheck({ files: argv.files.map(String), url: argv.url, room: argv.room });
			}
		} catch (err) {
			reportFailure("guard", err);
		}
	},
};
