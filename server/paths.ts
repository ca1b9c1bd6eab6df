/**
 * Where claude-relay keeps its files on this machine. One directory, `RELAY_HOME` (default
 * ~/.claude-relay), holds the hub database, the sessions registry, per-ID secrets and logs, so that
 * tests and several installs can be kept apart by setting one variable.
 */
import { homedir } from "node:os";
import { join } from "node:path";

export function relayHome(env: NodeJS.ProcessEnv = process.env): string {
	const fromEnv = env.RELAY_HOME?.trim();
	return fromEnv ? fromEnv : join(homedir(), ".claude-relay");
}

export const paths = {
	/** The hub's SQLite database. */
	database: (home = relayHome()) => join(home, "relay.db"),
	/** The sessions registry (sessions/registry.ts). */
	registry: (home = relayHome()) => join(home, "sessions", "registry.json"),
	/** Per-ID secrets minted by the hub, one file per hub+room+ID, mode 0600. */
	secrets: (home = relayHome()) => join(home, "secrets"),
	/** Log files (the bridge writes one per session here). */
	logs: (home = relayHome()) => join(home, "logs"),
	/** Default hub token file. */
	tokenFile: (home = relayHome()) => join(home, "token"),
	/** Copies of the files `claude-relay install`/`uninstall` changed, taken before each change. */
	backups: (home = relayHome()) => join(home, "backups"),
};
