/** Placeholder until the bridge lands: keeps the CLI entry type-checking. */
export async function runBridgeCli(_argv: string[]): Promise<void> {
	process.stderr.write("claude-relay mcp: the bridge is not built yet\n");
	process.exit(1);
}
