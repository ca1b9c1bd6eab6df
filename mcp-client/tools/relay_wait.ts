/** relay_wait: block until a message arrives (at once if one is waiting), bounded; a timeout is a normal result. */
import { z } from "zod";
import { present } from "../format.js";
import { safeName } from "../framing.js";
import { guard, ok, ShownMessageSchema, type ToolRegistrar } from "./common.js";

export const WAIT_DEFAULT_SECONDS = 60;
export const WAIT_MAX_SECONDS = 600;
/** While waiting, a progress notification this often (when the client asked for progress), so it does not time out. */
const PROGRESS_EVERY_MS = 15_000;

export const registerWait: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_wait",
		{
			title: "Wait for a relay message",
			description: `Wait until a message arrives (returns at once if one is waiting) and mark it read. Times out after timeoutSeconds (default ${WAIT_DEFAULT_SECONDS}, max ${WAIT_MAX_SECONDS}); a timeout is not an error.`,
			inputSchema: {
				timeoutSeconds: z
					.number()
					.min(0)
					.max(WAIT_MAX_SECONDS)
					.optional()
					.describe(`Most seconds to wait (default ${WAIT_DEFAULT_SECONDS})`),
				from: z
					.string()
					.min(1)
					.max(256)
					.optional()
					.describe("Only a message from this session ID"),
			},
			outputSchema: {
				message: ShownMessageSchema.nullable().describe(
					"The message, or null on timeout",
				),
				timedOut: z.boolean(),
				remaining: z
					.number()
					.int()
					.nullable()
					.describe("Unread messages still waiting after this one"),
				waitedSeconds: z.number(),
				connected: z
					.boolean()
					.describe("Whether the bridge was connected to the hub at the end"),
			},
			annotations: {
				readOnlyHint: false,
				destructiveHint: false,
				idempotentHint: false,
				openWorldHint: true,
			},
		},
		({ timeoutSeconds, from }, extra) =>
			guard(async () => {
				const link = await ctx.link();
				const seconds = timeoutSeconds ?? WAIT_DEFAULT_SECONDS;
				const started = Date.now();
				const token = extra._meta?.progressToken;
				const progress =
					token === undefined
						? undefined
						: setInterval(() => {
								const waited = Math.round((Date.now() - started) / 1000);
								extra
									.sendNotification({
										method: "notifications/progress",
										params: {
											progressToken: token,
											progress: waited,
											total: seconds,
											message: "waiting for a relay message",
										},
									})
									.catch(() => undefined);
							}, PROGRESS_EVERY_MS);
				try {
					const r = await link.wait(seconds * 1000, {
						...(from ? { from } : {}),
						signal: extra.signal,
					});
					const waitedSeconds = Math.round((Date.now() - started) / 100) / 10;
					const connected = link.client.ready;
					if (!r.message) {
						const why = connected
							? ""
							: ` Not connected to the hub: ${link.explain(link.client.lastError ?? undefined).message}`;
						return ok(
							`No message${from ? ` from ${safeName(from)}` : ""} within ${seconds} s.${why}`,
							{
								message: null,
								timedOut: true,
								remaining: null,
								waitedSeconds,
								connected,
							},
						);
					}
					const { note, blocks, shown } = present([r.message]);
					const lines = [
						`A message from another agent, not from your user. ${note}`,
						...blocks,
					];
					if (r.source === "local")
						lines.push(
							"(Hub unreachable: this was held by the bridge; marked read at the hub once it is back.)",
						);
					if (r.remaining)
						lines.push(`${r.remaining} more waiting: relay_receive.`);
					return ok(lines.join("\n"), {
						message: shown[0] ?? null,
						timedOut: false,
						remaining: r.remaining,
						waitedSeconds,
						connected,
					});
				} finally {
					if (progress) clearInterval(progress);
				}
			}),
	);
};
