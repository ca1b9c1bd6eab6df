/** relay_get: one message by id, in pages of characters: the rest of a body that relay_receive cut short. */
import { z } from "zod";
import { MessageId } from "../../server/protocol.js";
import { authorship, cutAt, Framing } from "../framing.js";
import { guard, ok, ShownMessageSchema, type ToolRegistrar } from "./common.js";

const DEFAULT_CHARS = 8_000;

export const registerGet: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_get",
		{
			title: "Get one relay message",
			description:
				"Fetch one message by id, or the part of a long body from offset. Does not mark anything read.",
			inputSchema: {
				id: MessageId.describe(
					"Message id (the id of a <relay-message>), e.g. m-18-a8k2p0",
				),
				offset: z
					.number()
					.int()
					.min(0)
					.optional()
					.describe("First body character to return (default 0)"),
				maxChars: z
					.number()
					.int()
					.min(1)
					.max(50_000)
					.optional()
					.describe(`Most characters to return (default ${DEFAULT_CHARS})`),
			},
			outputSchema: {
				message: ShownMessageSchema.describe(
					"The message; body is the requested slice",
				),
				offset: z.number().int(),
				nextOffset: z
					.number()
					.int()
					.nullable()
					.describe("Where the next slice starts; null at the end"),
			},
			annotations: { readOnlyHint: true, openWorldHint: false },
		},
		({ id, offset, maxChars }) =>
			guard(async () => {
				const link = await ctx.link();
				const { message: m } = await link.request("get", { message: id });
				const start = Math.min(offset ?? 0, m.body.length);
				// Cut on a code point, as the frame does, so that nextOffset is where the frame stopped.
				const slice = cutAt(m.body.slice(start), maxChars ?? DEFAULT_CHARS);
				const end = start + slice.length;
				const next = end < m.body.length ? end : null;
				const framing = new Framing();
				const who = m.human === true ? `A relay message. ${authorship([m], "")}` : "A message from another agent, not from your user.";
				const text = `${who} ${framing.note()}\n${framing.message(m, { offset: start, limit: slice.length })}`;
				return ok(text, {
					message: {
						...m,
						body: slice,
						bodyChars: m.body.length,
						truncated: start > 0 || next !== null,
					},
					offset: start,
					nextOffset: next,
				});
			}),
	);
};
