/**
 * GET /api/messages/<id>: one message in full, whatever its room, with its thread's id, each recipient's
 * delivery state (`acked`: false while it still owes an ack) and each recipient's receipt (queued, pushed,
 * seen, with times), and whether each recipient is online.
 */
import { ErrorCode } from "../../errors.js";
import { MESSAGE_ID_HINT, MESSAGE_ID_PATTERN, type Receipt, threadOf } from "../../protocol.js";
import type { MessageDeliveries } from "../../store/store.js";
import type { HttpContext } from "../context.js";
import type { Route } from "../router.js";
import { HttpError, sendJson } from "../respond.js";

export const PREFIX = "/api/messages/";

/** The message id that ends a path (`/api/messages/<id>`, `/api/receipts/<id>`...); 400 E_BAD_FRAME for anything else. */
export function idFromPath(url: URL, prefix: string): string {
	let id: string;
	try {
		id = decodeURIComponent(url.pathname.slice(prefix.length));
	} catch {
		id = "";
	}
	if (!MESSAGE_ID_PATTERN.test(id)) throw new HttpError(400, ErrorCode.BAD_FRAME, `The message id ${MESSAGE_ID_HINT}.`);
	return id;
}

/** A message whatever its room, with its recipients' delivery state; 404 E_NOT_FOUND when there is none. */
export async function findMessage(ctx: HttpContext, id: string): Promise<MessageDeliveries> {
	const found = await ctx.hub.store.operator.deliveries(id);
	if (!found) throw new HttpError(404, ErrorCode.NOT_FOUND, `No message ${id} (it may have been removed by retention).`);
	return found;
}

/** Each recipient's receipt with whether it is online (on any hub sharing the store); [] when the message went meanwhile. */
export async function receiptsOf(ctx: HttpContext, room: string, id: string): Promise<(Receipt & { online: boolean })[]> {
	const found = await ctx.hub.store.receipts(room, id);
	return (found?.receipts ?? []).map((r) => ({ ...r, online: ctx.hub.presence.isOnline(room, r.recipient) }));
}

export const messageRoute: Route = {
	method: "GET",
	path: PREFIX,
	access: "token",
	async handle(ctx, _req, res, url) {
		const id = idFromPath(url, PREFIX);
		const found = await findMessage(ctx, id);
		const room = found.message.room;
		const receipts = await receiptsOf(ctx, room, id);
		sendJson(res, 200, {
			message: found.message,
			thread: threadOf(found.message),
			recipients: found.recipients.map((r) => ({ ...r, online: ctx.hub.presence.isOnline(room, r.session) })),
			receipts,
		});
	},
};
