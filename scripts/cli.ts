#!/usr/bin/env node
/**
 * `claude-relay`: the package's one command. Every Claude session spawns `claude-relay mcp`, so that path is
 * dispatched before yargs and the other subcommands are even loaded (see mcp-client/options.ts for its flags);
 * everything else goes through yargs (scripts/commands.ts).
 */
const argv = process.argv.slice(2);
const wantsHelp = argv.includes("--help") || argv.includes("-h") || argv.includes("--version");

if (argv[0] === "mcp" && !wantsHelp) {
	const { runBridgeCli } = await import("../mcp-client/main.js");
	await runBridgeCli(argv.slice(1));
} else {
	const { runCli } = await import("./commands.js");
	await runCli(argv);
}
