/** relay_state_set: write a key of the room's shared state, optionally only if it is still at a version. */
import { z } from "zod";
import { StateInfo } from "../../server/protocol.js";
import { guard, ok, type ToolRegistrar } from "./common.js";
import { stateKeyInput } from "./relay_state_get.js";

export const registerStateSet: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_state_set",
		{
			title: "Write a shared state key",
			description:
				"Set a key of the room's shared state to any JSON value (up to the hub's body limit, 64 KiB by default). With expectedVersion it is a compare-and-set: it only writes if the key is still at that version (0: only if it does not exist yet); otherwise it fails with E_CONFLICT and the current value, and nothing changes. Read-modify-write: relay_state_get, change, relay_state_set with the version you read, and on E_CONFLICT start again from the current value.",
			inputSchema: {
				key: stateKeyInput,
				value: z.unknown().describe("Any JSON: object, array, string, number, boolean or null"),
				expectedVersion: z
					.number()
					.int()
					.min(0)
					.optional()
					.describe("Only write if the key is at this version now (0: only if it does not exist). Leave out to overwrite whatever is there."),
			},
			outputSchema: { entry: StateInfo, created: z.boolean() },
			annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
		},
		({ key, value, expectedVersion }) =>
			guard(async () => {
				const link = await ctx.link();
				const r = await link.request("state_set", { key, value: value ?? null, ...(expectedVersion !== undefined ? { expectedVersion } : {}) });
				const what = r.created ? "Created" : "Updated";
				return ok(`${what} ${key}: now version ${r.entry.version} (${r.entry.size} bytes).`, r);
			}),
	);
};
