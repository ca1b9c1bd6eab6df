/**
 * What `claude-relay client` and `claude-relay send` share before they open a socket: the hub URL, the room,
 * the token, the session ID (the bridge's resolution order, see mcp-client/identity.ts) and the file secret
 * store under $RELAY_HOME/secrets, so that an ID claimed once can be claimed again by the next run.
 * Every problem becomes a UserError with one sentence that says what to change.
 */
import { hostname } from "node:os";
import { parseHubUrls } from "../mcp-client/hub-urls.js";
import { fallbackId, type Identity, resolveIdentity, sessionMeta } from "../mcp-client/identity.js";
import { DEFAULT_RELAY_URL, DEFAULT_ROOM, loadToken } from "../mcp-client/options.js";
import { FileSecretStore } from "../mcp-client/secrets.js";
import { paths, relayHome } from "../server/paths.js";
import { checkName, type SessionMeta } from "../server/protocol.js";
import { UserError } from "../sessions/cli-errors.js";

export { DEFAULT_RELAY_URL, DEFAULT_ROOM };

export interface ConnectArgs {
	/** An explicit session ID (positional ID of `client`, `--from` of `send`); wins over the resolution order. */
	id?: string | undefined;
	url?: string | undefined;
	room?: string | undefined;
	tokenFile?: string | undefined;
}

export interface ConnectSetup {
	/** The hub, or several sharing one Redis, comma-separated (HubClient tries them in turn). */
	url: string;
	room: string;
	token: string | undefined;
	/** RELAY_HOME (secrets, and the default token file). */
	home: string;
	/** The ID to claim and where it came from ("argument" when given explicitly). */
	id: string;
	idSource: Identity["source"] | "argument" | "hostname-cli";
	secrets: FileSecretStore;
	meta: SessionMeta;
}

/**
 * Resolves and validates everything; throws UserError (exit code 2 for a bad ID/room/URL, 1 for an
 * unreadable token file). `stableFallback`: when no ID is configured anywhere, use `<host>-cli` instead of
 * `<host>-<pid>` (one-shot senders would otherwise leave a new, never-read session behind at every run).
 */
export function resolveSetup(
	args: ConnectArgs,
	opts: { client: string; stableFallback?: boolean; env?: NodeJS.ProcessEnv } = { client: "claude-relay-cli" },
): ConnectSetup {
	const env = opts.env ?? process.env;
	const urls = parseHubUrls((args.url ?? "").trim() || env.RELAY_URL?.trim() || DEFAULT_RELAY_URL, "--url or RELAY_URL");
	if (!urls.ok) throw new UserError(urls.problem, 2);
	const url = urls.urls.join(",");
	const room = (args.room ?? "").trim() || env.RELAY_ROOM?.trim() || DEFAULT_ROOM;
	const roomCheck = checkName(room, "room name");
	if (!roomCheck.ok) throw new UserError(`${roomCheck.reason}; fix --room or RELAY_ROOM.`, 2);

	let id: string;
	let idSource: ConnectSetup["idSource"];
	const explicit = args.id?.trim();
	if (explicit) {
		const check = checkName(explicit, "session ID");
		if (!check.ok) throw new UserError(`${check.reason}.`, 2);
		id = explicit;
		idSource = "argument";
	} else {
		const identity = resolveIdentity({ env });
		if (identity.problem) throw new UserError(identity.problem.message, 2);
		if (identity.source === "hostname-pid" && opts.stableFallback) {
			id = stableFallbackId();
			idSource = "hostname-cli";
		} else {
			id = identity.id;
			idSource = identity.source;
		}
	}

	const home = relayHome(env);
	let token: string | undefined;
	try {
		token = loadToken(args.tokenFile?.trim() || env.RELAY_TOKEN_FILE?.trim() || undefined, env, home);
	} catch (err) {
		throw new UserError((err as Error).message, 1);
	}
	const secrets = new FileSecretStore(paths.secrets(home), {
		warn: (_obj, msg) => process.stderr.write(`claude-relay: ${msg}\n`),
		error: (_obj, msg) => process.stderr.write(`claude-relay: ${msg}\n`),
	});
	return { url, room, token, home, id, idSource, secrets, meta: sessionMeta(undefined, process.cwd(), opts.client) };
}

/** `<host>-cli`: a valid ID that stays the same across runs on this machine. */
export function stableFallbackId(host = hostname()): string {
	return fallbackId(host, 0).replace(/-0$/, "-cli");
}

/** Where a default ID came from, in words, for error messages ("" for an explicit one). */
export function describeIdSource(setup: Pick<ConnectSetup, "id" | "idSource">): string {
	switch (setup.idSource) {
		case "argument":
			return "";
		case "CLAUDE_RELAY_SESSION_ID":
			return `${setup.id} came from CLAUDE_RELAY_SESSION_ID, which usually names the Claude session of this terminal`;
		case "--client-id":
		case "RELAY_CLIENT_ID":
			return `${setup.id} came from ${setup.idSource}`;
		case "hostname-pid":
			return `${setup.id} is the default (<host>-<pid>; set RELAY_CLIENT_ID for another)`;
		case "hostname-cli":
			return `${setup.id} is the default (<host>-cli; set RELAY_CLIENT_ID for another)`;
	}
}
