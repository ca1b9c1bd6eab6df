/** relay_claim: claim files of this repository for a while, so other sessions' edit guards keep off them. */
import { z } from "zod";
import { ClaimInfo } from "../../server/protocol.js";
import { formatDuration, formatTime } from "../format.js";
import { claimLine, coordinateAdvice } from "../format-state.js";
import { claimRepo, pathsInput, repoInput, repoPaths } from "./claims-common.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

export const registerClaim: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_claim",
		{
			title: "Claim files",
			description:
				"Claim paths or globs of this repository (e.g. src/auth/**) before editing them, so other sessions working on the same repository (any checkout, any machine) are warned or stopped by their edit guard. All or nothing: if another session holds an overlapping claim, nothing is claimed and you get its holder, reason and expiry. Claims expire after ttlSeconds (default 30 minutes); claim the same paths again to renew, relay_release when done.",
			inputSchema: {
				paths: pathsInput,
				ttlSeconds: z.number().int().min(1).optional().describe("How long the claim lasts (default 1800; the hub caps it)"),
				reason: z.string().max(512).optional().describe("What you are doing, shown to whoever runs into the claim"),
				repo: repoInput,
			},
			outputSchema: {
				granted: z.boolean(),
				repo: z.string(),
				claims: z.array(ClaimInfo).describe("Granted: this session's claims on these paths"),
				conflicts: z.array(ClaimInfo).describe("Refused: the other sessions' claims in the way"),
			},
			annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
		},
		({ paths, ttlSeconds, reason, repo }) =>
			guard(async () => {
				const target = await claimRepo(ctx, repo);
				const link = await ctx.link();
				const r = await link.request("claim", {
					repo: target.identity,
					paths: await repoPaths(paths, target.local),
					...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
					...(reason !== undefined ? { reason } : {}),
				});
				const structured = { granted: r.granted, repo: target.identity, claims: r.claims, conflicts: r.conflicts };
				if (!r.granted) {
					const lines = [
						`NOT granted: nothing was claimed in ${target.identity}, because other sessions hold overlapping claims:`,
						...r.conflicts.map((c) => `- ${claimLine(c, r.now)}`),
						coordinateAdvice(r.conflicts),
					];
					return ok(lines.join("\n"), structured);
				}
				const until = r.claims[0]?.expiresAt ?? r.now;
				const head = `Claimed in ${target.identity} until ${formatTime(until, r.now)} (in ${formatDuration(until - r.now)}): ${r.claims.map((c) => c.path).join(", ")}.`;
				return ok(`${head} Claim them again to renew; relay_release when done.`, structured);
			}),
	);
};
