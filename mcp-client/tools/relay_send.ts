/**
 * relay_send: one message to a session, to everyone in the room, to a topic's subscribers or to several
 * sessions, with an honest account of what happened.
 */
import { z } from "zod";
import { ErrorCode, RelayError, WarningCode } from "../../server/errors.js";
import { BROADCAST, MAX_RECIPIENTS, MessageId, parseTarget, type ResultOf, Warning } from "../../server/protocol.js";
import { describeTarget } from "../framing.js";
import type { BridgeContext } from "../context.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

/** `to` as the tools take it: one string (an ID, `*`, `#topic`, or `A,B`) or an array of IDs. */
export const ToSchema = z
	.union([
		z.string().min(1, "to is empty: give a session ID, *, #topic, or several IDs").max(2400),
		z.array(z.string().min(1).max(64)).min(1).max(MAX_RECIPIENTS),
	])
	.describe("A session ID (e.g. CC-2), * for everyone in the room, #topic for its subscribers, or several IDs (an array, or \"CC-2,CC-3\")");

/** Checks `to` before anything goes out: E_BAD_TARGET with how to fix it. */
export function checkTo(ctx: BridgeContext, to: string | string[]): void {
	const target = parseTarget(to);
	if (!target.ok)
		throw new RelayError(ErrorCode.BAD_TARGET, `${target.reason}. Send to a session ID (relay_peers lists them), *, a #topic (relay_topics), or several IDs.`);
	const t = target.target;
	if ((t.kind === "session" && t.session === ctx.session) || (t.kind === "list" && t.sessions.includes(ctx.session)))
		throw new RelayError(ErrorCode.BAD_TARGET, `${ctx.session} is this session; send to other sessions, *, or a #topic.`);
}

export const registerSend: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_send",
		{
			title: "Send a relay message",
			description:
				"Send a message to another agent session through the relay (its relay ID, e.g. CC-2, as relay_peers and relay_sessions list them, in any harness: Claude Code, Codex, Gemini CLI, …; on this machine or another), to everyone in the room (*), to a topic's subscribers (#shop:api), or to several sessions (an array or \"CC-2,CC-3\"). Waits for the hub and says whether it was delivered live or queued for an offline session.",
			inputSchema: {
				to: ToSchema,
				message: z.string().min(1, "message is empty").describe("The text to send"),
				replyTo: MessageId.optional().describe("id of the message this answers (its <relay-message> id), e.g. m-18-a8k2p0"),
			},
			outputSchema: {
				id: z.string(),
				seq: z.number().int(),
				to: z.string().describe("What was addressed, as the hub stored it"),
				thread: z.string().describe("The thread this message is in (its own id, or its root's for a reply)"),
				live: z.array(z.string()).describe("Recipients that were online: pushed to them now"),
				queued: z.array(z.string()).describe("Recipients that were offline: they get it when they reconnect"),
				duplicate: z.boolean().describe("The hub had stored this send already (a retry); nothing new stored"),
				warnings: z.array(Warning),
			},
			annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
		},
		({ to, message, replyTo }) =>
			guard(async () => {
				checkTo(ctx, to);
				const link = await ctx.link();
				const r = await link.send(to, message, replyTo);
				return ok(describeSend(r), sendData(r));
			}),
	);
};

export function sendData(r: ResultOf<"send">) {
	return {
		id: r.message.id,
		seq: r.message.seq,
		to: r.message.to,
		thread: r.message.thread ?? r.message.id,
		live: r.live,
		queued: r.queued,
		duplicate: r.duplicate,
		warnings: r.warnings,
	};
}

/** What happened to a send, in one or two sentences (recipients are names the hub validated). */
export function describeSend(r: ResultOf<"send">): string {
	const to = r.message.to;
	const parts: string[] = [];
	const seg: string[] = [];
	if (r.live.length) seg.push(`delivered live to ${r.live.join(", ")}`);
	if (r.queued.length) seg.push(`queued for ${r.queued.join(", ")} (offline)`);
	if (to === BROADCAST) {
		parts.push(seg.length ? `Broadcast ${r.message.id}: ${seg.join("; ")}.` : `Broadcast ${r.message.id} stored; nobody else is in the room.`);
	} else if (to.startsWith("#")) {
		parts.push(
			seg.length
				? `Sent to ${describeTarget(to)} (${r.message.id}): ${seg.join("; ")}.`
				: `Stored in the log of ${describeTarget(to)} (${r.message.id}); nobody else subscribes to it.`,
		);
	} else if (to.includes(",")) {
		parts.push(`Sent to ${describeTarget(to)} (${r.message.id}): ${seg.join("; ")}.`);
	} else if (r.live.includes(to)) {
		parts.push(`Delivered live to ${to} (${r.message.id}).`);
	} else {
		parts.push(`Queued for ${to} (offline): delivered when it reconnects (${r.message.id}).`);
	}
	if (r.duplicate) parts.push("The hub already had this send (a retry): stored once.");
	for (const w of r.warnings) if (w.code !== WarningCode.NO_RECIPIENTS && w.code !== WarningCode.NO_SUBSCRIBERS) parts.push(`Note: ${w.message}`);
	return parts.join(" ");
}
