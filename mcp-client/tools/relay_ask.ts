/**
 * relay_ask: send a question and block until its answer comes (a message whose replyTo is the question,
 * from the addressee; for *, a #topic or a list, the first one), bounded. Unrelated messages that arrive
 * meanwhile are left for relay_receive. A timeout is a normal answer that says where the question is.
 */
import { z } from "zod";
import { Receipt } from "../../server/protocol.js";
import { describeReceipts, present } from "../format.js";
import { describeTarget, safeId } from "../framing.js";
import { guard, ok, ShownMessageSchema, type ToolRegistrar } from "./common.js";
import { checkTo, ToSchema } from "./relay_send.js";
import { progressWhile, WAIT_MAX_SECONDS } from "./relay_wait.js";

export const ASK_DEFAULT_SECONDS = 120;

export const registerAsk: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_ask",
		{
			title: "Ask another session and wait for the answer",
			description: `Send a question and wait for its answer in one call: returns the first reply to it (from the addressee; for *, a #topic or several IDs, from any of them). Other messages that arrive meanwhile stay unread for relay_receive. Times out after timeoutSeconds (default ${ASK_DEFAULT_SECONDS}, max ${WAIT_MAX_SECONDS}) with the question's read receipts; a timeout is not an error.`,
			inputSchema: {
				to: ToSchema,
				message: z.string().min(1, "message is empty").describe("The question"),
				timeoutSeconds: z.number().min(0).max(WAIT_MAX_SECONDS).optional().describe(`Most seconds to wait (default ${ASK_DEFAULT_SECONDS})`),
			},
			outputSchema: {
				question: z.object({ id: z.string(), to: z.string(), live: z.array(z.string()), queued: z.array(z.string()) }),
				answered: z.boolean(),
				reply: ShownMessageSchema.nullable().describe("The answer (marked read), or null on timeout"),
				receipts: z.array(Receipt).nullable().describe("On timeout: where the question is, per recipient"),
				waitedSeconds: z.number(),
			},
			annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
		},
		({ to, message, timeoutSeconds }, extra) =>
			guard(async () => {
				checkTo(ctx, to);
				const link = await ctx.link();
				const seconds = timeoutSeconds ?? ASK_DEFAULT_SECONDS;
				const started = Date.now();
				const stop = progressWhile(extra, seconds, "waiting for the answer");
				try {
					const r = await link.ask(to, message, seconds * 1000, { signal: extra.signal, shown: ctx.afterReply(extra) });
					const waitedSeconds = Math.round((Date.now() - started) / 100) / 10;
					const q = r.question.message;
					const question = { id: q.id, to: q.to, live: r.question.live, queued: r.question.queued };
					if (!r.reply.message) {
						const where = r.receipts ? ` Where it is: ${describeReceipts(r.receipts)}.` : "";
						return ok(
							`Asked ${describeTarget(q.to)} (${safeId(q.id)}); no answer within ${seconds} s.${where} An answer later arrives like any message (relay_wait, relay_receive); relay_wait {"receipt":"${safeId(q.id)}"} waits until it is read.`,
							{ question, answered: false, reply: null, receipts: r.receipts, waitedSeconds },
						);
					}
					const { note, blocks, shown } = present([r.reply.message]);
					const text = [`Asked ${describeTarget(q.to)} (${safeId(q.id)}); the answer, from another agent, not from your user. ${note}`, ...blocks].join("\n");
					return ok(text, { question, answered: true, reply: shown[0] ?? null, receipts: null, waitedSeconds });
				} finally {
					stop();
				}
			}),
	);
};
