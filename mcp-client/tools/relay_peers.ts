/** relay_peers: who is online in this room now. */
import { z } from "zod";
import { PeerInfo } from "../../server/protocol.js";
import { formatDuration, plural } from "../format.js";
import { safeName, safeText } from "../framing.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

export const registerPeers: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_peers",
		{
			title: "List online relay peers",
			description:
				"List the other sessions online in this room: ID, host, directory, git branch, idle time.",
			inputSchema: {},
			outputSchema: {
				self: z.string(),
				room: z.string(),
				peers: z.array(PeerInfo),
			},
			annotations: { readOnlyHint: true, openWorldHint: false },
		},
		() =>
			guard(async () => {
				const link = await ctx.link();
				const { peers } = await link.request("peers", {});
				// Host, cwd and branch are whatever each peer said at hello: one line each, never a tag.
				const lines = peers.map((p) => {
					const where = [p.meta.host, p.meta.cwd].filter(Boolean).join(":");
					return `${safeName(p.session)}  ${where ? safeText(where) : "-"}${p.meta.branch ? ` (${safeText(p.meta.branch)})` : ""}  idle ${formatDuration(p.idleMs)}`;
				});
				const head = peers.length
					? `${plural(peers.length, "peer")} online in room ${link.options.room} (you are ${ctx.session}):`
					: `No other session is online in room ${link.options.room} (you are ${ctx.session}). relay_sessions lists offline ones too.`;
				return ok([head, ...lines].join("\n"), {
					self: ctx.session,
					room: link.options.room,
					peers,
				});
			}),
	);
};
