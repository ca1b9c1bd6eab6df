/** relay_send: one message to a session or to everyone in the room, with an honest account of what happened. */
import { z } from "zod";
import { ErrorCode, RelayError } from "../../server/errors.js";
import {
	BROADCAST,
	MessageId,
	parseTarget,
	type ResultOf,
	Warning,
} from "../../server/protocol.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

export const registerSend: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_send",
		{
			title: "Send a relay message",
			description:
				"Send a message to another agent session through the relay (its relay ID, e.g. CC-2, as relay_peers and relay_sessions list them, in any harness: Claude Code, Codex, Gemini CLI, …; on this machine or another) or to everyone in the room (*). Waits for the hub and says whether it was delivered live or queued for an offline session.",
			inputSchema: {
				to: z
					.string()
					.min(1, "to is empty: give a session ID or *")
					.max(256)
					.describe("Recipient session ID, or * for everyone"),
				message: z
					.string()
					.min(1, "message is empty")
					.describe("The text to send"),
				replyTo: MessageId.optional().describe(
					"id of the message this answers (its <relay-message> id), e.g. m-18-a8k2p0",
				),
			},
			outputSchema: {
				id: z.string(),
				seq: z.number().int(),
				to: z.string(),
				live: z
					.array(z.string())
					.describe("Recipients that were online: pushed to them now"),
				queued: z
					.array(z.string())
					.describe(
						"Recipients that were offline: they get it when they reconnect",
					),
				duplicate: z
					.boolean()
					.describe(
						"The hub had stored this send already (a retry); nothing new stored",
					),
				warnings: z.array(Warning),
			},
			annotations: {
				readOnlyHint: false,
				destructiveHint: false,
				idempotentHint: false,
				openWorldHint: true,
			},
		},
		({ to, message, replyTo }) =>
			guard(async () => {
				const target = parseTarget(to);
				if (!target.ok)
					throw new RelayError(
						ErrorCode.BAD_TARGET,
						`${target.reason}. Send to a session ID (relay_peers lists them) or *.`,
					);
				if (to === ctx.session)
					throw new RelayError(
						ErrorCode.BAD_TARGET,
						`${to} is this session; send to another session ID or *.`,
					);
				const link = await ctx.link();
				const r = await link.send(to, message, replyTo);
				return ok(describeSend(to, r), {
					id: r.message.id,
					seq: r.message.seq,
					to,
					live: r.live,
					queued: r.queued,
					duplicate: r.duplicate,
					warnings: r.warnings,
				});
			}),
	);
};

export function describeSend(to: string, r: ResultOf<"send">): string {
	const parts: string[] = [];
	if (to === BROADCAST) {
		const seg: string[] = [];
		if (r.live.length) seg.push(`delivered live to ${r.live.join(", ")}`);
		if (r.queued.length)
			seg.push(`queued for ${r.queued.join(", ")} (offline)`);
		parts.push(
			seg.length
				? `Broadcast ${r.message.id}: ${seg.join("; ")}.`
				: `Broadcast ${r.message.id} stored; nobody else is in the room.`,
		);
	} else if (r.live.includes(to)) {
		parts.push(`Delivered live to ${to} (${r.message.id}).`);
	} else {
		parts.push(
			`Queued for ${to} (offline): delivered when it reconnects (${r.message.id}).`,
		);
	}
	if (r.duplicate)
		parts.push("The hub already had this send (a retry): stored once.");
	for (const w of r.warnings)
		if (w.code !== "W_NO_RECIPIENTS") parts.push(`Note: ${w.message}`);
	return parts.join(" ");
}
