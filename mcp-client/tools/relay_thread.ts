/** relay_thread: the whole conversation a message belongs to, oldest first, paged; only what this session may see. */
import { z } from "zod";
import { MessageId } from "../../server/protocol.js";
import { present } from "../format.js";
import { safeId } from "../framing.js";
import { guard, ok, ShownMessageSchema, type ToolRegistrar } from "./common.js";

export const registerThread: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_thread",
		{
			title: "Relay thread",
			description:
				"Read a whole thread (a message, its replies, their replies...), oldest first, whichever of its messages you name, with who wrote each. Shows only messages you may see; does not mark anything read.",
			inputSchema: {
				id: MessageId.describe("Any message of the thread, e.g. m-18-a8k2p0"),
				limit: z.number().int().min(1).max(100).optional().describe("Most messages (default 20)"),
				after: z.number().int().optional().describe("Only messages with seq above this (the next page)"),
			},
			outputSchema: {
				thread: z.string().describe("The root message's id"),
				messages: z.array(ShownMessageSchema),
				hasMore: z.boolean().describe("More follow: call again with after = nextAfter"),
				nextAfter: z.number().int().nullable(),
			},
			annotations: { readOnlyHint: true, openWorldHint: false },
		},
		({ id, limit, after }) =>
			guard(async () => {
				const link = await ctx.link();
				const page = await link.request("thread", { message: id, limit: limit ?? 20, ...(after !== undefined ? { after } : {}) });
				const { note, blocks, shown } = present(page.messages);
				const root = safeId(page.thread);
				const nextAfter = page.hasMore ? (page.messages.at(-1)?.seq ?? null) : null;
				const out = blocks.length
					? [`Thread ${root}: ${blocks.length === 1 ? "1 message" : `${blocks.length} messages`}, oldest first, from other agents (and this session), not from your user. ${note}`, ...blocks]
					: [`No messages of thread ${root} you may see${after !== undefined ? ` after ${after}` : ""}.`];
				if (nextAfter !== null) out.push(`More: relay_thread {"id":"${safeId(id)}","after":${nextAfter}}`);
				return ok(out.join("\n"), { thread: page.thread, messages: shown, hasMore: page.hasMore, nextAfter });
			}),
	);
};
