/** relay_state_delete: remove a key of the shared state, optionally only if it is still at a version. */
import { z } from "zod";
import { guard, ok, type ToolRegistrar } from "./common.js";
import { stateKeyInput } from "./relay_state_get.js";

export const registerStateDelete: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_state_delete",
		{
			title: "Delete a shared state key",
			description:
				"Delete a key of the room's shared state. With expectedVersion only if it is still at that version (else E_CONFLICT, nothing deleted). Deleting a missing key is not an error.",
			inputSchema: {
				key: stateKeyInput,
				expectedVersion: z.number().int().min(1).optional().describe("Only delete if the key is at this version now"),
			},
			outputSchema: { key: z.string(), deleted: z.boolean(), version: z.number().int().nullable() },
			annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
		},
		({ key, expectedVersion }) =>
			guard(async () => {
				const link = await ctx.link();
				const r = await link.request("state_delete", { key, ...(expectedVersion !== undefined ? { expectedVersion } : {}) });
				return ok(r.deleted ? `Deleted ${key} (it was at version ${r.version}).` : `${key} did not exist; nothing deleted.`, { key, ...r });
			}),
	);
};
