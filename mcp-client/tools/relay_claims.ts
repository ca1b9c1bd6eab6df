/** relay_claims: who holds which files in the room (all repositories, or one; one session's or all). */
import { z } from "zod";
import { ClaimInfo } from "../../server/protocol.js";
import { plural } from "../format.js";
import { claimLine } from "../format-state.js";
import { repoInput } from "./claims-common.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

export const registerClaims: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_claims",
		{
			title: "List file claims",
			description: "List the live file claims in this room: path, repository, holder, reason, expiry. Optionally one repository's or one session's.",
			inputSchema: {
				repo: repoInput,
				session: z.string().min(1).max(64).optional().describe("Only this session's claims"),
			},
			outputSchema: {
				claims: z.array(ClaimInfo),
				repo: z.string().nullable().describe("This session's repository identity (null: not in one)"),
			},
			annotations: { readOnlyHint: true, openWorldHint: false },
		},
		({ repo, session }) =>
			guard(async () => {
				const [link, local] = await Promise.all([ctx.link(), ctx.repo()]);
				const r = await link.request("claims", { ...(repo !== undefined ? { repo } : {}), ...(session !== undefined ? { session } : {}) });
				const mine = local?.identity ?? null;
				if (r.claims.length === 0) return ok("No live claims in this room.", { claims: r.claims, repo: mine });
				const lines = r.claims.map((c) => `- ${claimLine(c, r.now, { repo: true })}${c.session === ctx.session ? " (yours)" : ""}${c.repo === mine ? "" : " [another repository]"}`);
				return ok([`${plural(r.claims.length, "live claim")}${mine ? ` (this session's repository: ${mine})` : ""}:`, ...lines].join("\n"), { claims: r.claims, repo: mine });
			}),
	);
};
