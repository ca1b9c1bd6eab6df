/**
 * relay_peers: who is online in this room now, and whose work overlaps this session's: a peer is marked when
 * its `owns` globs (hello meta) or its live claims in this repository overlap this session's own `owns`
 * or claims (the overlap rule of server/globs.ts).
 */
import { z } from "zod";
import { type ClaimInfo, PeerInfo } from "../../server/protocol.js";
import { formatDuration, plural } from "../format.js";
import { safeName, safeText } from "../framing.js";
import { clientLabel } from "../harness/clients.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

/** Peers per relay_peers call. */
const PEERS_PAGE = 100;

const Overlap = z.object({ theirs: z.string(), yours: z.string() });

export const registerPeers: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_peers",
		{
			title: "List online relay peers",
			description:
				"List the other sessions online in this room: ID, the harness it runs in (claude-code, codex, gemini, other), host, directory, git branch, idle time, and, in this repository, their claims and whether their claimed or owned paths overlap yours.",
			inputSchema: {
				cursor: z.string().max(256).optional().describe("Only peers after this ID: the nextCursor of the previous call, in a crowded room"),
			},
			outputSchema: {
				self: z.string(),
				room: z.string(),
				repo: z.string().nullable().describe("This session's repository identity"),
				yours: z.array(z.string()).describe("This session's owns globs and live claims in its repository"),
				total: z.number().describe("Peers online in the room in all"),
				nextCursor: z.string().nullable().describe("More peers after this page: call again with this cursor"),
				peers: z.array(
					PeerInfo.extend({
						claims: z.array(z.string()).describe("Their live claims in this repository"),
						overlaps: z.array(Overlap).describe("Their claimed or owned paths that overlap yours"),
					}),
				),
			},
			annotations: { readOnlyHint: true, openWorldHint: false },
		},
		({ cursor }) =>
			guard(async () => {
				const link = await ctx.link();
				// One page: a model reads a list of a hundred, not of ten thousand.
				const [page, local, owns] = await Promise.all([link.request("peers", { limit: PEERS_PAGE, ...(cursor !== undefined ? { cursor } : {}) }), ctx.repo(), ctx.owns()]);
				const peers = page.peers;
				const total = page.total ?? peers.length;
				const nextCursor = page.hasMore ? (page.nextCursor ?? null) : null;
				let claims: ClaimInfo[] = [];
				if (local) claims = (await link.request("claims", { repo: local.identity })).claims;
				// Loaded here, not at start-up: the bridge's cold start does not pay for picomatch.
				const { normalizeClaimPath, overlappingPairs } = await import("../../server/globs.js");
				const yours = [...new Set([...owns, ...claims.filter((c) => c.session === ctx.session).map((c) => c.path)])];
				const marked = peers.map((p) => {
					const theirClaims = claims.filter((c) => c.session === p.session).map((c) => c.path);
					// Another session's owns are its word about its own repository: compared only in the same one.
					const theirOwns =
						local && p.meta.repo === local.identity
							? (p.meta.owns ?? []).flatMap((g) => {
									const r = normalizeClaimPath(g);
									return r.ok ? [r.path] : [];
								})
							: [];
					const overlaps = overlappingPairs([...new Set([...theirClaims, ...theirOwns])], yours).map(([theirs, y]) => ({ theirs, yours: y }));
					return { ...p, claims: theirClaims, overlaps };
				});
				const lines = marked.map((p) => {
					const where = [p.meta.host, p.meta.cwd].filter(Boolean).join(":");
					// Host, cwd, branch and paths are whatever each peer said: one line each, never a tag.
					const harness = clientLabel(p.meta.client);
					const base = `${safeName(p.session)}${harness ? ` [${safeText(harness)}]` : ""}  ${where ? safeText(where) : "-"}${p.meta.branch ? ` (${safeText(p.meta.branch)})` : ""}  idle ${formatDuration(p.idleMs)}`;
					const held = p.claims.length ? `  claims ${safeText(p.claims.join(", "))}` : "";
					const clash = p.overlaps.length
						? `  OVERLAPS YOUR WORK: ${safeText(p.overlaps.map((o) => `their ${o.theirs} / your ${o.yours}`).join("; "))} (coordinate with relay_send)`
						: "";
					return `${base}${held}${clash}`;
				});
				const shown = peers.length < total ? ` (${peers.length} shown, by ID${cursor !== undefined ? ` after ${safeName(cursor)}` : ""})` : "";
				const head = total
					? `${plural(total, "peer")} online in room ${link.options.room}${shown} (you are ${ctx.session}):`
					: `No other session is online in room ${link.options.room} (you are ${ctx.session}). relay_sessions lists offline ones too.`;
				const more = nextCursor ? [`More: relay_peers {"cursor": ${JSON.stringify(nextCursor)}}`] : [];
				return ok([head, ...lines, ...more].join("\n"), { self: ctx.session, room: link.options.room, repo: local?.identity ?? null, yours, total, nextCursor, peers: marked });
			}),
	);
};
