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
import { launchdCommand } from "../launchd/launchd-command.js";
import { tunnelCommand } from "../launchd/tunnel-command.js";
import { registerCommand, sessionsCommand } from "../sessions/sessions-command.js";
import { doctorCommand } from "../mcp-client/claude/doctor-command.js";
import { hookCommand } from "../mcp-client/claude/hook-command.js";
import { installCommand, uninstallCommand } from "../mcp-client/claude/install-command.js";
import { autowakeCommand } from "../mcp-client/autowake/autowake-command.js";

export async function runCli(argv: string[]): Promise<void> {
	await yargs(argv)
		.scriptName("claude-relay")
		.usage("$0 <command> [options]\n\nReal-time, durable messaging between Claude Code sessions.")
		.command(hubCommand)
		// commands: keep one line each, alphabetical after hub
		.command(autowakeCommand)
		.command(clientCommand)
		.command(dbCommand)
		.command(doctorCommand)
		.command(hookCommand)
		.command(installCommand)
		.command(launchdCommand)
		.command(mcpCommand)
		.command(registerCommand)
		.command(sendCommand)
		.command(sessionsCommand)
		.command(tunnelCommand)
		.command(uninstallCommand)
		.demandCommand(1, "Name a command; `claude-relay --help` lists them.")
		.strict()
		.recommendCommands()
		.help()
		.alias("h", "help")
		.wrap(Math.min(110, process.stdout.columns || 100))
		.epilogue("Docs: README.md and docs/PROTOCOL.md in the repository.")
		.parseAsync();
}
