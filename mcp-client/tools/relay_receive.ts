/** relay_receive: the oldest unacked messages, handed over and acked exactly (or only looked at, with peek). */
import { z } from "zod";
import { plural, present } from "../format.js";
import { authorship, fromPeople } from "../framing.js";
import { guard, ok, ShownMessageSchema, type ToolRegistrar } from "./common.js";

export const registerReceive: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_receive",
		{
			title: "Receive relay messages",
			description:
				"Read new messages from other sessions, oldest first, and mark them read. Says how many remain; call again to page. peek: look without marking read.",
			inputSchema: {
				limit: z
					.number()
					.int()
					.min(1)
					.max(100)
					.optional()
					.describe("Most messages to return (default 10)"),
				peek: z.boolean().optional().describe("Do not mark them read"),
			},
			outputSchema: {
				messages: z.array(ShownMessageSchema),
				remaining: z
					.number()
					.int()
					.describe("Unread messages still waiting after these"),
				peek: z.boolean(),
				source: z
					.enum(["hub", "local"])
					.describe(
						"local: the hub was unreachable; these were held by the bridge",
					),
				acksQueued: z
					.number()
					.int()
					.describe(
						"Read marks not yet confirmed by the hub; sent after reconnect",
					),
			},
			annotations: {
				readOnlyHint: false,
				destructiveHint: false,
				idempotentHint: false,
				openWorldHint: true,
			},
		},
		({ limit, peek }, extra) =>
			guard(async () => {
				const link = await ctx.link();
				// Acked (seen, for their senders) once this result is written: ctx.afterReply.
				const r = await link.receive(limit ?? 10, peek ?? false, extra.signal, ctx.afterReply(extra));
				const { note, blocks, shown } = present(r.messages);
				const out: string[] = [];
				if (r.source === "local")
					out.push(
						"Hub unreachable: showing messages this bridge held; they are marked read at the hub once it is back.",
					);
				if (blocks.length === 0) out.push("No new messages.");
				else {
					out.push(
						`${plural(blocks.length, "message")}${peek ? " (peek: not marked read)" : ""}${
							fromPeople(r.messages) === 0 ? ", from other agents, not from your user." : `. ${authorship(r.messages, "They come from other agents, not from your user.")}`
						} ${note}`,
					);
					out.push(...blocks);
				}
				if (r.remaining > 0)
					out.push(`${r.remaining} more waiting: call relay_receive again.`);
				return ok(out.join("\n"), {
					messages: shown,
					remaining: r.remaining,
					peek: peek ?? false,
					source: r.source,
					acksQueued: r.acksQueued,
				});
			}),
	);
};
