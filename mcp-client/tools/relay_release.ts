/** relay_release: give back claimed paths (some, or all of this session's). */
import { z } from "zod";
import { ClaimInfo } from "../../server/protocol.js";
import { plural } from "../format.js";
import { claimRepo, repoInput, repoPaths } from "./claims-common.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

export const registerRelease: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_release",
		{
			title: "Release claimed files",
			description:
				"Release claims this session holds: the given paths (exactly as claimed, in this repository), or without paths every claim of this session in every repository. Other sessions' claims are never touched.",
			inputSchema: {
				paths: z.array(z.string().min(1).max(1024)).max(64).optional().describe("Patterns as claimed; leave out to release all of this session's claims"),
				repo: repoInput,
			},
			outputSchema: { released: z.array(ClaimInfo) },
			annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
		},
		({ paths, repo }) =>
			guard(async () => {
				const link = await ctx.link();
				let params: { repo?: string; paths?: string[] } = repo !== undefined ? { repo } : {};
				if (paths !== undefined) {
					const target = await claimRepo(ctx, repo);
					params = { repo: target.identity, paths: await repoPaths(paths, target.local) };
				}
				const { released } = await link.request("release", params);
				if (released.length === 0) return ok("Nothing released: this session held no such live claim.", { released });
				return ok(`Released ${plural(released.length, "claim")}: ${released.map((c) => `${c.path} (${c.repo})`).join(", ")}.`, { released });
			}),
	);
};
