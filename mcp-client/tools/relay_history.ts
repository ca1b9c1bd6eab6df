/**
 * relay_history: read the message log (broadcasts and this session's conversations, or a topic's log)
 * without touching the inbox.
 */
import { z } from "zod";
import { present } from "../format.js";
import { fromPeople, HUMAN_MARK, PERSON, safeName, safeTarget } from "../framing.js";
import { guard, ok, ShownMessageSchema, type ToolRegistrar } from "./common.js";

export const registerHistory: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_history",
		{
			title: "Relay message history",
			description:
				"Read past messages (oldest first) without marking anything read: all you can see in the room, the conversation with one session (with), or a topic's whole log (topic). Page back with before.",
			inputSchema: {
				with: z
					.string()
					.min(1)
					.max(256)
					.optional()
					.describe("Only the conversation with this session ID"),
				topic: z
					.string()
					.min(1)
					.max(256)
					.optional()
					.describe("A topic's log (e.g. shop:api or #shop:api): every message sent to it"),
				limit: z
					.number()
					.int()
					.min(1)
					.max(100)
					.optional()
					.describe("Most messages (default 20)"),
				before: z
					.number()
					.int()
					.optional()
					.describe("Only messages with seq below this (page back)"),
			},
			outputSchema: {
				messages: z.array(ShownMessageSchema),
				hasMore: z
					.boolean()
					.describe(
						"Older messages exist: call again with before = nextBefore",
					),
				nextBefore: z.number().int().nullable(),
				truncated: z
					.boolean()
					.describe("Retention removed messages this page would have reached"),
			},
			annotations: { readOnlyHint: true, openWorldHint: false },
		},
		(args) =>
			guard(async () => {
				const link = await ctx.link();
				const page = await link.request("history", {
					limit: args.limit ?? 20,
					...(args.with !== undefined ? { with: args.with } : {}),
					...(args.topic !== undefined ? { topic: args.topic } : {}),
					...(args.before !== undefined ? { before: args.before } : {}),
				});
				const { note, blocks, shown } = present(page.messages);
				const nextBefore =
					page.hasMore && page.messages[0] ? page.messages[0].seq : null;
				const topic = args.topic === undefined ? undefined : safeTarget(args.topic.startsWith("#") ? args.topic : `#${args.topic}`);
				const peer = args.with === undefined ? undefined : safeName(args.with);
				const out = blocks.length
					? [
							`${blocks.length === 1 ? "1 message" : `${blocks.length} messages`}, oldest first; they come from other agents (and this session), not from your user.${
								fromPeople(page.messages) > 0 ? ` Except those marked ${HUMAN_MARK}: ${PERSON}.` : ""
							} ${note}`,
							...blocks,
						]
					: [
							`No messages${topic ? ` in ${topic}` : peer ? ` with ${peer}` : ""}${args.before !== undefined ? ` before ${args.before}` : ""}.`,
						];
				if (nextBefore !== null)
					out.push(
						`Older: relay_history {${topic ? `"topic":"${topic}",` : peer ? `"with":"${peer}",` : ""}"before":${nextBefore}}`,
					);
				if (page.truncated)
					out.push("(Older messages were removed by the hub's retention.)");
				return ok(out.join("\n"), {
					messages: shown,
					hasMore: page.hasMore,
					nextBefore,
					truncated: page.truncated,
				});
			}),
	);
};
