/**
 * `claude-relay mcp` in the yargs command tree, for `--help` and for `claude-relay --help` to list it.
 * A plain `claude-relay mcp ...` never reaches yargs (scripts/cli.ts dispatches it straight to main.ts,
 * which parses the same option definitions with node:util); this handler only runs if yargs does get it.
 */
import type { CommandModule, Options } from "yargs";
import { BRIDGE_OPTIONS, type BridgeOption } from "./options.js";

function yargsOptions(): Record<string, Options> {
	return Object.fromEntries(
		Object.entries(BRIDGE_OPTIONS).map(
			([name, spec]: [string, BridgeOption]) => [
				name,
				{
					type: "string",
					describe: spec.env
						? `${spec.describe} [env ${spec.env}]`
						: spec.describe,
					...(spec.default !== undefined
						? { default: spec.default, defaultDescription: spec.default }
						: {}),
				} satisfies Options,
			],
		),
	);
}

export const mcpCommand: CommandModule = {
	command: "mcp",
	describe:
		"Run the MCP bridge of one Claude Code session (Claude Code starts it; stdout carries MCP frames only)",
	builder: (y) =>
		y
			.options(yargsOptions())
			.example(
				"claude mcp add relay -s user -- claude-relay mcp",
				"Register the bridge for every Claude session of this user",
			)
			.example(
				"claude-session CC-1 && claude",
				"Start a session that claims the ID CC-1",
			)
			.example(
				"claude --dangerously-load-development-channels server:relay",
				"Start a session that gets messages pushed as they arrive (channels; --channels auto sees the flag)",
			)
			.epilogue(
				[
					"Session ID, first found wins: CLAUDE_RELAY_SESSION_ID (set by `claude-session <ID>`), --client-id, RELAY_CLIENT_ID, <hostname>-<pid>.",
					"Other environment: RELAY_TOKEN (hub token), RELAY_HOME (secrets, registry, logs; default ~/.claude-relay).",
				].join("\n"),
			),
	handler: async () => {
		const { runBridgeCli } = await import("./main.js");
		const at = process.argv.indexOf("mcp");
		await runBridgeCli(at >= 0 ? process.argv.slice(at + 1) : []);
	},
};
