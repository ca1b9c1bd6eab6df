/**
 * POST /api/send: the dashboard's composer. A person's message, sent as the hub's operator
 * (`--operator-name`, default Operator) and marked `human: true`, which no client frame can set: the agents'
 * every view says a person wrote it. Same checks and commit as a session's `send` (server/handlers/send.ts),
 * same answer.
 *
 * Only from the hub's own pages or from clients that send no Origin (the Host and Origin checks run before
 * every route, server/origin.ts), only as JSON (a form or text/plain POST, which another site could send
 * without a preflight, gets 415), and with the hub token when there is one (a header no other site can set).
 * Bounded: the body by --max-body (the request by --max-frame); sends by the hub's frame rate (--rate-limit,
 * --rate-burst: there is one operator); broadcasts by the sender address's delivery budget. Past a bound,
 * 429 with Retry-After, not a wait: an HTTP client retries on its own.
 */
import { ErrorCode } from "../../errors.js";
import { checkBody, checkTarget, commitMessage, recipientsFor } from "../../handlers/send.js";
import { ApiSendBody, checkName } from "../../protocol.js";
import type { Route } from "../router.js";
import { HttpError, readJson, sendJson } from "../respond.js";

export const sendRoute: Route = {
	method: "POST",
	path: "/api/send",
	access: "token",
	async handle(ctx, req, res) {
		const startedAt = performance.now();
		const hub = ctx.hub;
		const o = hub.options;
		if (ctx.closing()) throw new HttpError(503, ErrorCode.SHUTTING_DOWN, "The hub is shutting down; send again in a moment.");
		const parsed = ApiSendBody.safeParse(await readJson(req, o.maxFrameBytes));
		if (!parsed.success) {
			const issue = parsed.error.issues[0];
			throw new HttpError(400, ErrorCode.BAD_FRAME, `Invalid send: ${issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : "malformed"}.`);
		}
		const input = parsed.data;
		const room = input.room ?? "default";
		const roomCheck = checkName(room, "room name");
		if (!roomCheck.ok) throw new HttpError(400, ErrorCode.BAD_ID, roomCheck.reason);
		checkBody(hub, input.body);
		const { target, normalized } = checkTarget(input.to);
		if (target.kind === "session" && target.session === o.operatorName) {
			throw new HttpError(400, ErrorCode.BAD_TARGET, `${o.operatorName} is you (the dashboard's sender): send to a session ID or '*'.`);
		}
		if (!ctx.apiSends.take()) {
			throw new HttpError(429, ErrorCode.RATE_LIMITED, `Over ${o.rateLimitPerSecond} sends a second from the dashboard; send again in a moment.`, { "retry-after": "1" });
		}
		const known = await hub.presence.knownSessions(room);
		const { recipients, warnings, topic } = recipientsFor(hub, known, room, o.operatorName, target);
		const remote = req.socket.remoteAddress ?? "?";
		if (target.kind === "broadcast" && recipients.length > 0 && !hub.broadcasts.take(remote, recipients.length)) {
			hub.metrics.throttled.broadcast_budget++;
			const wait = Math.max(1, Math.ceil(hub.broadcasts.waitMs(remote, recipients.length) / 1000));
			throw new HttpError(
				429,
				ErrorCode.RATE_LIMITED,
				`A broadcast to ${recipients.length} sessions is over this address's delivery budget (--broadcast-deliveries-per-second); send it again in ${wait} s.`,
				{ "retry-after": String(wait) },
			);
		}
		const result = await commitMessage(
			hub,
			{
				room,
				from: o.operatorName,
				to: normalized,
				body: input.body,
				replyTo: input.replyTo ?? null,
				key: input.key ?? null,
				recipients,
				...(topic !== undefined ? { topic } : {}),
				sentAt: Date.now(),
				human: true,
			},
			warnings,
			startedAt,
		);
		sendJson(res, 200, result);
	},
};
