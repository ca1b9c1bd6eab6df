/** relay_state_append: add one item to a JSON array in the shared state, atomically (logs, task lists). */
import { z } from "zod";
import { STATE_APPEND_MAX_ITEMS, StateInfo } from "../../server/protocol.js";
import { guard, ok, type ToolRegistrar } from "./common.js";
import { stateKeyInput } from "./relay_state_get.js";

export const registerStateAppend: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_state_append",
		{
			title: "Append to a shared state list",
			description:
				"Append one item to the JSON array at a key of the room's shared state, atomically: concurrent appends from several sessions all land, none lost or doubled. A missing key becomes [item]. With maxItems only the newest maxItems are kept. Fails with E_NOT_ARRAY if the key holds something else.",
			inputSchema: {
				key: stateKeyInput,
				item: z.unknown().describe("Any JSON value to append"),
				maxItems: z
					.number()
					.int()
					.min(1)
					.max(STATE_APPEND_MAX_ITEMS)
					.optional()
					.describe("Keep only the newest this many items (oldest dropped)"),
			},
			outputSchema: { entry: StateInfo, length: z.number().int(), dropped: z.number().int() },
			annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
		},
		({ key, item, maxItems }) =>
			guard(async () => {
				const link = await ctx.link();
				const r = await link.request("state_append", { key, item: item ?? null, ...(maxItems !== undefined ? { maxItems } : {}) });
				const dropped = r.dropped ? ` (${r.dropped} oldest dropped)` : "";
				return ok(`Appended to ${key}: ${r.length} items now${dropped}, version ${r.entry.version}.`, r);
			}),
	);
};
