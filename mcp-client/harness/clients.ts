/**
 * Which agent harness runs a bridge: the value of the `client` field of its hello meta (server/protocol.ts
 * SessionMeta). One small module with no imports, shared by the bridge (which works it out), the autowake
 * daemon (which keys prompt patterns and spawn commands by it) and everything that shows peers.
 *
 *   claude-code   Claude Code (`claude`)
 *   codex         OpenAI Codex CLI (`codex`)
 *   gemini        Google Gemini CLI (`gemini`)
 *   other         any other MCP client (Cursor, Windsurf, the MCP inspector, a test's SDK Client, …)
 *
 * claude-relay's own programs keep naming themselves (`claude-relay-send`, `claude-relay-client`,
 * `claude-relay-hook`, `claude-relay-autowake`); bridges before this version said `claude-relay-bridge`,
 * which still reads as a bridge of an unknown harness (`harnessOf` → other).
 *
 * How the bridge decides (`detectHarness`), strongest evidence first:
 *   1. the MCP client's own name in `initialize` (clientInfo.name: `claude-code`, `codex-mcp-client`,
 *      `gemini-cli-mcp-client`), since it is the program talking to us;
 *   2. the parent process's command line: its executable's name, or for a script run by node/bun/deno the
 *      script's (`claude`, `codex`, `gemini`), read once after the handshake;
 *   3. what the harness puts in the environment of its MCP servers (`GEMINI_CLI=1`, `CLAUDECODE=1`), weakest
 *      because a child inherits it from whatever started its parent (Gemini passes its whole environment on,
 *      so a gemini started from a Claude Code session carries CLAUDECODE=1 too: GEMINI_CLI is asked first).
 */
export const HARNESS_CLIENTS = ["claude-code", "codex", "gemini", "other"] as const;
export type HarnessClient = (typeof HARNESS_CLIENTS)[number];

/** What bridges before harness detection sent as `client`. */
export const LEGACY_BRIDGE_CLIENT = "claude-relay-bridge";

/** claude-relay's own programs: not a harness, and never a model. */
export const RELAY_PROGRAM_CLIENTS = ["claude-relay-send", "claude-relay-client", "claude-relay-hook", "claude-relay-autowake"] as const;

export function isHarnessClient(value: unknown): value is HarnessClient {
	return typeof value === "string" && (HARNESS_CLIENTS as readonly string[]).includes(value);
}

/**
 * The harness a `client` meta value names, for the bridges of every version: a harness value as is, the old
 * `claude-relay-bridge` as `other` (a bridge whose harness nobody recorded); undefined for anything else
 * (claude-relay's own programs, a value from elsewhere, none).
 */
export function harnessOf(client: string | undefined): HarnessClient | undefined {
	if (isHarnessClient(client)) return client;
	if (client === LEGACY_BRIDGE_CLIENT) return "other";
	return undefined;
}

/** A short label for lists of peers: the harness, `bridge` for an old bridge, the program otherwise. */
export function clientLabel(client: string | undefined): string | undefined {
	if (client === undefined || client === "") return undefined;
	if (client === LEGACY_BRIDGE_CLIENT) return "bridge";
	if (isHarnessClient(client)) return client;
	if (client.startsWith("claude-relay-")) return client.slice("claude-relay-".length);
	return client;
}

/** The harness an MCP clientInfo.name names, or undefined when the name says nothing we know. */
export function harnessFromClientName(name: string | undefined): Exclude<HarnessClient, "other"> | undefined {
	const n = name?.trim().toLowerCase() ?? "";
	if (n === "") return undefined;
	if (n === "claude-code" || n.startsWith("claude-code-") || n === "claude code") return "claude-code";
	if (/(^|[^a-z])codex([^a-z]|$)/.test(n)) return "codex";
	if (/(^|[^a-z])gemini([^a-z]|$)/.test(n)) return "gemini";
	return undefined;
}

const PROGRAMS: Record<string, Exclude<HarnessClient, "other">> = { claude: "claude-code", codex: "codex", gemini: "gemini" };
/** Interpreters that run a harness's script: the script (their first argument that is not an option) names it. */
const RUNNERS = /^(node|nodejs|bun|deno|tsx)(\d+(\.\d+)*)?$/;

const base = (word: string) => word.split(/[\\/]/).pop()?.replace(/\.(exe|cmd|js|mjs|cjs)$/i, "") ?? "";

/** The harness a parent's command line (argv) names, or undefined. */
export function harnessFromArgv(argv: readonly string[]): Exclude<HarnessClient, "other"> | undefined {
	const first = base(argv[0] ?? "").replace(/^-/, "").toLowerCase();
	const direct = PROGRAMS[first];
	if (direct) return direct;
	if (!RUNNERS.test(first)) return undefined;
	const script = argv.slice(1).find((a) => !a.startsWith("-"));
	return script === undefined ? undefined : PROGRAMS[base(script).toLowerCase()];
}

/** The harness the environment a harness gives its MCP servers hints at, or undefined. */
export function harnessFromEnv(env: NodeJS.ProcessEnv): Exclude<HarnessClient, "other"> | undefined {
	if (env.GEMINI_CLI === "1") return "gemini";
	if (env.CLAUDECODE === "1") return "claude-code";
	return undefined;
}

export interface HarnessEvidence {
	clientName?: string | undefined;
	parentArgv?: readonly string[] | undefined;
	env?: NodeJS.ProcessEnv;
}

/** The harness, from the evidence in the order above; `other` when nothing names one. */
export function detectHarness(e: HarnessEvidence): { client: HarnessClient; from: "clientInfo" | "parent" | "env" | "none" } {
	const byName = harnessFromClientName(e.clientName);
	if (byName) return { client: byName, from: "clientInfo" };
	const byParent = e.parentArgv ? harnessFromArgv(e.parentArgv) : undefined;
	if (byParent) return { client: byParent, from: "parent" };
	const byEnv = e.env ? harnessFromEnv(e.env) : undefined;
	if (byEnv) return { client: byEnv, from: "env" };
	return { client: "other", from: "none" };
}
