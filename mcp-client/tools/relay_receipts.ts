/** relay_receipts: per recipient, whether a message you sent is queued, pushed to its session, or seen by its model. */
import { z } from "zod";
import { MessageId, Receipt } from "../../server/protocol.js";
import { safeId, safeName, safeTarget } from "../framing.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

/** What each state means, for the model (seen is an ack: for a bridge, handed to its model). */
const MEANING = {
	queued: "stored; its session has not been sent it (offline, or not yet)",
	pushed: "sent to its session's connection, not yet read",
	seen: "read: handed to its model (or person)",
} as const;

export const registerReceipts: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_receipts",
		{
			title: "Relay read receipts",
			description:
				"For a message you sent: per recipient, whether it is queued (not sent to them yet), pushed (sent to their session) or seen (handed to their model), with the time. Recipients can ask for their own row.",
			inputSchema: { id: MessageId.describe("The message's id, e.g. m-18-a8k2p0") },
			outputSchema: { id: z.string(), to: z.string(), receipts: z.array(Receipt) },
			annotations: { readOnlyHint: true, openWorldHint: false },
		},
		({ id }) =>
			guard(async () => {
				const link = await ctx.link();
				const r = await link.request("receipts", { message: id });
				const lines = r.receipts.map(
					(x) => `${safeName(x.recipient)}: ${x.state}${x.state === "queued" ? "" : ` at ${new Date(x.at).toISOString()}`} (${MEANING[x.state]})`,
				);
				return ok([`Receipts of ${safeId(r.message.id)} (to ${safeTarget(r.message.to)}):`, ...lines].join("\n"), {
					id: r.message.id,
					to: r.message.to,
					receipts: r.receipts,
				});
			}),
	);
};
