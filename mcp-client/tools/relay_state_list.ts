/** relay_state_list: the keys of the room's shared state (no values), by prefix, paged. */
import { z } from "zod";
import { STATE_LIST_MAX, StateInfo } from "../../server/protocol.js";
import { plural } from "../format.js";
import { stateLine } from "../format-state.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

export const registerStateList: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_state_list",
		{
			title: "List shared state keys",
			description: "List the keys of the room's shared state, in key order, with version, writer, time and size (no values; relay_state_get reads one).",
			inputSchema: {
				prefix: z.string().max(256).optional().describe("Only keys starting with this (e.g. tasks/)"),
				after: z.string().min(1).max(256).optional().describe("Continue after this key (the last one of the previous page)"),
				limit: z.number().int().min(1).max(STATE_LIST_MAX).optional().describe("Most keys to return (default 100)"),
			},
			outputSchema: { entries: z.array(StateInfo), hasMore: z.boolean() },
			annotations: { readOnlyHint: true, openWorldHint: false },
		},
		({ prefix, after, limit }) =>
			guard(async () => {
				const link = await ctx.link();
				const r = await link.request("state_list", {
					...(prefix !== undefined ? { prefix } : {}),
					...(after !== undefined ? { after } : {}),
					...(limit !== undefined ? { limit } : {}),
				});
				const scope = prefix ? ` under ${JSON.stringify(prefix)}` : "";
				if (r.entries.length === 0) return ok(`No state keys${scope} in this room.`, r);
				const last = r.entries[r.entries.length - 1]?.key ?? "";
				const more = r.hasMore ? [`More: relay_state_list {"prefix":${JSON.stringify(prefix ?? "")},"after":${JSON.stringify(last)}}`] : [];
				return ok([`${plural(r.entries.length, "key")}${scope}:`, ...r.entries.map((e) => stateLine(e)), ...more].join("\n"), r);
			}),
	);
};
