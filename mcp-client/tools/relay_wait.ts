/**
 * relay_wait: block until a message arrives (at once if one is waiting), bounded; a timeout is a normal result.
 * With `statePrefix` it also returns when another session changes a shared state key under that prefix (the
 * bridge watches it from then on, and holds changes that come between calls). With `receipt`: block instead
 * until a message this session sent is seen by a recipient.
 */
import { z } from "zod";
import { MessageId, Receipt, StateChangedPush } from "../../server/protocol.js";
import { describeReceipts, present } from "../format.js";
import { changeLine } from "../format-state.js";
import { authorship, safeId, safeName } from "../framing.js";
import { guard, ok, ShownMessageSchema, type ToolRegistrar } from "./common.js";

export const WAIT_DEFAULT_SECONDS = 60;
export const WAIT_MAX_SECONDS = 600;
/** While waiting, a progress notification this often (when the client asked for progress), so it does not time out. */
const PROGRESS_EVERY_MS = 15_000;

/** Sends progress notifications while a tool blocks, when the client gave a progress token; returns the stop function. */
export function progressWhile(
	extra: { _meta?: { progressToken?: string | number }; sendNotification: (n: never) => Promise<void> },
	seconds: number,
	what: string,
): () => void {
	const token = extra._meta?.progressToken;
	if (token === undefined) return () => undefined;
	const started = Date.now();
	const timer = setInterval(() => {
		const waited = Math.round((Date.now() - started) / 1000);
		extra
			.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: waited, total: seconds, message: what } } as never)
			.catch(() => undefined);
	}, PROGRESS_EVERY_MS);
	return () => clearInterval(timer);
}

export const registerWait: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_wait",
		{
			title: "Wait for a relay message",
			description: `Wait until a message arrives (returns at once if one is waiting) and mark it read. With statePrefix, also return when another session changes a shared state key under that prefix (changes since the last call count). With receipt, wait instead until a message you sent is seen by a recipient. Times out after timeoutSeconds (default ${WAIT_DEFAULT_SECONDS}, max ${WAIT_MAX_SECONDS}); a timeout is not an error.`,
			inputSchema: {
				timeoutSeconds: z.number().min(0).max(WAIT_MAX_SECONDS).optional().describe(`Most seconds to wait (default ${WAIT_DEFAULT_SECONDS})`),
				from: z.string().min(1).max(256).optional().describe("Only a message from this session ID"),
				statePrefix: z
					.string()
					.max(256)
					.optional()
					.describe('Also wake for changes to shared state keys starting with this ("" for any key), made by other sessions'),
				receipt: MessageId.optional().describe("Instead of a message: wait until this message (one you sent) is seen by a recipient"),
			},
			outputSchema: {
				message: ShownMessageSchema.nullable().describe("The message, or null on timeout (and with receipt)"),
				timedOut: z.boolean(),
				remaining: z.number().int().nullable().describe("Unread messages still waiting after this one"),
				waitedSeconds: z.number(),
				connected: z.boolean().describe("Whether the bridge was connected to the hub at the end"),
				stateChanges: z.array(StateChangedPush).optional().describe("With statePrefix: changes by other sessions under it, newest version per key"),
				receipts: z.array(Receipt).nullable().optional().describe("With receipt: where that message is, per recipient"),
			},
			annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
		},
		({ timeoutSeconds, from, statePrefix, receipt }, extra) =>
			guard(async () => {
				const link = await ctx.link();
				const seconds = timeoutSeconds ?? WAIT_DEFAULT_SECONDS;
				if (statePrefix !== undefined && !receipt) await link.watch(statePrefix);
				const started = Date.now();
				const stop = progressWhile(extra, seconds, receipt ? "waiting for a read receipt" : "waiting for a relay message");
				// A state change ends the wait for a message too: both listen to one abort signal.
				const both = new AbortController();
				const abort = () => both.abort();
				extra.signal.addEventListener("abort", abort, { once: true });
				try {
					if (receipt) {
						const r = await link.waitSeen(receipt, seconds * 1000, extra.signal);
						const waitedSeconds = Math.round((Date.now() - started) / 100) / 10;
						const where = r.receipts ? ` Receipts: ${describeReceipts(r.receipts)}.` : "";
						return ok(r.seen ? `${safeId(receipt)} was seen.${where}` : `${safeId(receipt)} not seen by anyone within ${seconds} s.${where}`, {
							message: null,
							timedOut: !r.seen,
							remaining: null,
							waitedSeconds,
							connected: link.client.ready,
							receipts: r.receipts,
						});
					}
					const waits = link.wait(seconds * 1000, {
						...(from ? { from } : {}),
						signal: both.signal,
						shown: ctx.afterReply(extra),
					});
					if (statePrefix !== undefined) {
						await Promise.race([waits, link.nextStateChange(statePrefix, seconds * 1000, both.signal)]);
						both.abort();
					}
					const r = await waits;
					const stateChanges = statePrefix !== undefined ? link.takeStateChanges(statePrefix) : [];
					const waitedSeconds = Math.round((Date.now() - started) / 100) / 10;
					const connected = link.client.ready;
					const changeLines = stateChanges.length
						? [`Shared state changed under ${JSON.stringify(statePrefix)}:`, ...stateChanges.map((c) => `- ${changeLine(c)}`), "(relay_state_get reads a key.)"]
						: [];
					if (!r.message && stateChanges.length > 0) {
						return ok(changeLines.join("\n"), { message: null, timedOut: false, remaining: null, waitedSeconds, connected, stateChanges });
					}
					if (!r.message) {
						const why = connected ? "" : ` Not connected to the hub: ${link.explain(link.client.lastError ?? undefined).message}`;
						return ok(`No message${from ? ` from ${safeName(from)}` : ""} within ${seconds} s.${why}`, {
							message: null,
							timedOut: true,
							remaining: null,
							waitedSeconds,
							connected,
							stateChanges,
						});
					}
					const { note, blocks, shown } = present([r.message]);
					const lines = [r.message.human === true ? `A relay message. ${authorship([r.message], "")} ${note}` : `A message from another agent, not from your user. ${note}`, ...blocks];
					if (r.source === "local") lines.push("(Hub unreachable: this was held by the bridge; marked read at the hub once it is back.)");
					if (r.remaining) lines.push(`${r.remaining} more waiting: relay_receive.`);
					return ok([...lines, ...changeLines].join("\n"), {
						message: shown[0] ?? null,
						timedOut: false,
						remaining: r.remaining,
						waitedSeconds,
						connected,
						stateChanges,
					});
				} finally {
					stop();
					extra.signal.removeEventListener("abort", abort);
				}
			}),
	);
};
