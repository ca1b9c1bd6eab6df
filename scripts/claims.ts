/**
 * `claude-relay claims`: the live file claims of a room, from GET /claims (no session needed). By default
 * those of the current directory's repository; --all for every repository, --repo for another. One line
 * per claim, or --json for the hub's answer. Exit 0; 1 when the hub cannot be reached; 2 bad arguments.
 */
import { httpBase, printable } from "../mcp-client/claims-check.js";
import { formatDuration } from "../mcp-client/format.js";
import { repoOf } from "../mcp-client/repo.js";
import type { ClaimInfo } from "../server/protocol.js";
import { UserError } from "../sessions/cli-errors.js";
import { type ConnectArgs, resolveSetup } from "./connect.js";

export interface ClaimsArgs extends ConnectArgs {
	repo?: string | undefined;
	all: boolean;
	session?: string | undefined;
	json: boolean;
	timeout: number;
}

export async function runClaims(args: ClaimsArgs): Promise<void> {
	const setup = resolveSetup({ ...args, id: undefined }, { client: "claude-relay-claims", stableFallback: true });
	let repo = args.repo;
	if (repo === undefined && !args.all) {
		repo = (await repoOf(process.cwd()))?.identity;
		if (!repo) throw new UserError("This directory is not inside a git repository: pass --repo ID or --all.", 2);
	}
	const u = new URL("claims", httpBase(setup.url));
	u.searchParams.set("room", setup.room);
	if (repo !== undefined) u.searchParams.set("repo", repo);
	let body: { claims?: ClaimInfo[]; now?: number; error?: { code: string; message: string } };
	try {
		const res = await fetch(u, {
			headers: setup.token ? { authorization: `Bearer ${setup.token}` } : {},
			signal: AbortSignal.timeout(Math.max(1, args.timeout) * 1000),
		});
		body = (await res.json()) as typeof body;
		if (!res.ok) throw new UserError(`${body.error?.code ?? res.status}: ${body.error?.message ?? "the hub refused"}`, res.status === 400 ? 2 : 1);
	} catch (err) {
		if (err instanceof UserError) throw err;
		throw new UserError(`Cannot reach the relay hub at ${setup.url} (${(err as Error).message}). Is the hub running?`, 1);
	}
	const now = body.now ?? Date.now();
	const claims = (body.claims ?? []).filter((c) => args.session === undefined || c.session === args.session);
	if (args.json) {
		process.stdout.write(`${JSON.stringify({ room: setup.room, ...(repo !== undefined ? { repo } : {}), claims, now })}\n`);
		return;
	}
	if (claims.length === 0) {
		process.stdout.write(`No live claims${repo ? ` in ${printable(repo)}` : ""} (room ${setup.room}).\n`);
		return;
	}
	for (const c of claims) {
		const reason = c.reason ? `  ${JSON.stringify(printable(c.reason))}` : "";
		process.stdout.write(`${printable(c.repo)}  ${printable(c.path)}  ${c.session}  expires in ${formatDuration(c.expiresAt - now)}${reason}\n`);
	}
}
