/** relay_get: one message by id, in pages of characters: the rest of a body that relay_receive cut short. */
import { z } from "zod";
import { formatTime, moreHint } from "../format.js";
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
				id: z
					.string()
					.min(1, "id is empty")
					.max(128)
					.describe("Message id (shown in relay_receive lines)"),
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
				const end = Math.min(
					m.body.length,
					start + (maxChars ?? DEFAULT_CHARS),
				);
				const slice = m.body.slice(start, end);
				const next = end < m.body.length ? end : null;
				const range =
					start > 0 || next !== null
						? ` chars ${start}-${end} of ${m.body.length}`
						: "";
				const head = `[${m.seq}] ${m.from} → ${m.to} (${formatTime(m.sentAt)}, ${m.id}${m.replyTo ? `, re ${m.replyTo}` : ""})${range}:`;
				const text = `${head}\n${slice}${next !== null ? `\n${moreHint(m.id, next, m.body.length)}` : ""}`;
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
