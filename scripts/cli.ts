#!/usr/bin/env node
/**
 * `claude-relay`: the package's one command. Every Claude session spawns `claude-relay mcp`, so that path is
 * dispatched before yargs and the other subcommands are even loaded (see mcp-client/options.ts for its flags).
 * `claude-relay hook …` too: Claude Code runs it before every prompt (its start-up is the user's wait), and
 * a hook must never disturb a session, so bad arguments there are logged and exit 0 (hook-main.ts) instead of
 * yargs's usage text and exit 1. `claude-relay hub …` gets a yargs parser of its own (runHubCli: no help
 * rendered at start). Everything else goes through yargs (scripts/commands.ts).
 */
const argv = process.argv.slice(2);
const wantsHelp = argv.includes("--help") || argv.includes("-h") || argv.includes("--version");

if (argv[0] === "mcp" && !wantsHelp) {
	const { runBridgeCli } = await import("../mcp-client/main.js");
	await runBridgeCli(argv.slice(1));
} else if (argv[0] === "hook" && !wantsHelp) {
	let runHookCli: typeof import("../mcp-client/claude/hook-main.js").runHookCli;
	try {
		({ runHookCli } = await import("../mcp-client/claude/hook-main.js"));
	} catch {
		// A half-rebuilt dist/ (or a broken install) must not break the Claude session: stay silent.
		process.exit(0);
	}
	await runHookCli(argv.slice(1));
} else if (argv[0] === "hub" && !wantsHelp) {
	const { runHubCli } = await import("./commands.js");
	await runHubCli(argv.slice(1));
} else {
	const { runCli } = await import("./commands.js");
	await runCli(argv);
}
