/**
 * What every tool shares: the result shapes (compact text for the model, complete structuredContent for
 * programs) and the one way a failure is reported (`isError` with the stable code and how to fix it).
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { ErrorCode, RelayError } from "../../server/errors.js";
import { Message } from "../../server/protocol.js";
import type { BridgeContext } from "../context.js";
import { safeText } from "../framing.js";

export type ToolRegistrar = (server: McpServer, ctx: BridgeContext) => void;

/** A message in structuredContent: the body is cut like the text (see format.ts); `bodyChars` is its full length. */
export const ShownMessageSchema = Message.extend({
	bodyChars: z.number().int().describe("Length of the full body"),
	truncated: z
		.boolean()
		.describe("True when `body` is cut; fetch the rest with relay_get"),
});

export function ok(
	text: string,
	structured: Record<string, unknown>,
): CallToolResult {
	return { content: [{ type: "text", text }], structuredContent: structured };
}

/** Extra words for codes whose hub message does not already say what to do. */
const ADVICE: Partial<Record<string, string>> = {
	[ErrorCode.TIMEOUT]:
		"The hub may be overloaded or the link stalled; relay_status shows the connection.",
	[ErrorCode.RATE_LIMITED]: "Wait a moment, then retry.",
	[ErrorCode.SHUTTING_DOWN]:
		"The hub is restarting; the bridge reconnects by itself. Retry in a few seconds.",
};

/** An `isError` result: `E_CODE: what happened. What to do.` */
export function fail(err: unknown): CallToolResult {
	const e =
		err instanceof RelayError
			? err
			: new RelayError(
					ErrorCode.INTERNAL,
					err instanceof Error ? err.message : String(err),
				);
	const advice = ADVICE[e.code];
	// Hub sentences may quote a peer (a holder's host): one line, no tags.
	const text = safeText(
		`${e.code}: ${e.message}${advice && !e.message.includes(advice) ? ` ${advice}` : ""}`,
	);
	return { content: [{ type: "text", text }], isError: true };
}

/** Runs a tool body; any throw becomes a `fail` result rather than an exception to the SDK. */
export async function guard(
	body: () => Promise<CallToolResult>,
): Promise<CallToolResult> {
	try {
		return await body();
	} catch (err) {
		return fail(err);
	}
}
