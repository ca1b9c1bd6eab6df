/**
 * The yargs command tree of `claude-relay`. Each subcommand is defined next to the component it starts
 * (`<dir>/*-command.ts`); those modules only declare options and lazy-load their implementation in the
 * handler, so `claude-relay --help` stays fast and `claude-relay send` never loads SQLite.
 */
import yargs from "yargs";
import { mcpCommand } from "../mcp-client/mcp-command.js";
import { dbCommand } from "../server/db-command.js";
import { hubCommand } from "../server/hub-command.js";
import { clientCommand } from "./client-command.js";
import { sendCommand } from "./send-command.js";
import { claimsCommand, stateCommand } from "./state-command.js";
import { launchdCommand } from "../launchd/launchd-command.js";
import { tunnelCommand } from "../launchd/tunnel-command.js";
import { registerCommand, sessionsCommand } from "../sessions/sessions-command.js";
import { doctorCommand } from "../mcp-client/claude/doctor-command.js";
import { guardCommand } from "../mcp-client/claude/guard-command.js";
import { hookCommand } from "../mcp-client/claude/hook-command.js";
import { installCommand, uninstallCommand } from "../mcp-client/claude/install-command.js";
import { UsageError } from "../sessions/cli-errors.js";
import { autowakeCommand } from "../mcp-client/autowake/autowake-command.js";

export async function runCli(argv: string[]): Promise<void> {
	await run(() => parser(argv).parseAsync());
}

/**
 * `claude-relay hub …` (not `--help`: that goes through the whole tree) on a parser of its own, where the
 * hub is the default command. yargs renders a named command's whole help right after calling its handler
 * (`cacheHelpMessage`, for a later `showHelp`), which for the hub's 40 options was 120-240 ms of every
 * hub's start on the test VM: a restart under launchd, or the reconnect storm's. A default command's is not.
 */
export async function runHubCli(argv: string[]): Promise<void> {
	await run(() =>
		yargs(argv)
			.scriptName("claude-relay")
			.usage(`$0 hub [port]\n\n${hubCommand.describe}`)
			.command({ ...hubCommand, command: "$0 [port]" })
			.strict()
			.help()
			.alias("h", "help")
			.wrap(Math.min(110, process.stdout.columns || 100))
			.parseAsync(),
	);
}

async function run(parse: () => Promise<unknown>): Promise<void> {
	try {
		await parse();
	} catch (err) {
		// Thrown (synchronously, by yargs' validation) from a command's failWithUsage; its help is on stderr.
		if (!(err instanceof UsageError)) throw err;
		process.stderr.write(`${err.message}\n`);
		process.exitCode = err.exitCode;
	}
}

function parser(argv: string[]) {
	return yargs(argv)
		.scriptName("claude-relay")
		.usage("$0 <command> [options]\n\nReal-time, durable messaging between Claude Code sessions.")
		.command(hubCommand)
		// commands: keep one line each, alphabetical after hub
		.command(claimsCommand)
		.command(autowakeCommand)
		.command(clientCommand)
		.command(dbCommand)
		.command(doctorCommand)
		.command(guardCommand)
		.command(hookCommand)
		.command(installCommand)
		.command(launchdCommand)
		.command(mcpCommand)
		.command(registerCommand)
		.command(sendCommand)
		.command(sessionsCommand)
		.command(stateCommand)
		.command(tunnelCommand)
		.command(uninstallCommand)
		.demandCommand(1, "Name a command; `claude-relay --help` lists them.")
		.strict()
		.recommendCommands()
		.help()
		.alias("h", "help")
		.wrap(Math.min(110, process.stdout.columns || 100))
		.epilogue("Docs: README.md and docs/PROTOCOL.md in the repository.");
}
