/**
 * GET /api/messages/<id>: one message in full, whatever its room, with each recipient's delivery state
 * (`acked`: false while it still owes an ack) and whether it is online on this hub.
 */
import { ErrorCode } from "../../errors.js";
import { MESSAGE_ID_HINT, MESSAGE_ID_PATTERN } from "../../protocol.js";
import type { Route } from "../router.js";
import { HttpError, sendJson } from "../respond.js";

export const PREFIX = "/api/messages/";

export const messageRoute: Route = {
	method: "GET",
	path: PREFIX,
	access: "token",
	async handle(ctx, _req, res, url) {
		const id = decodeURIComponent(url.pathname.slice(PREFIX.length));
		if (!MESSAGE_ID_PATTERN.test(id)) throw new HttpError(400, ErrorCode.BAD_FRAME, `The message id ${MESSAGE_ID_HINT}.`);
		const found = await ctx.hub.store.operator.deliveries(id);
		if (!found) throw new HttpError(404, ErrorCode.NOT_FOUND, `No message ${id} (it may have been removed by retention).`);
		const room = found.message.room;
		sendJson(res, 200, {
			message: found.message,
			recipients: found.recipients.map((r) => ({ ...r, online: Boolean(ctx.hub.presence.holder(room, r.session)?.open) })),
		});
	},
};
