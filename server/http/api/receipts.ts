/**
 * GET /api/receipts/<id>: where a message is for each of its recipients, whatever its room: `queued`
 * (stored, not written to the recipient's connection yet), `pushed` (written to it), `seen` (acked: for a
 * bridge, handed to its model), with the times, and whether each recipient is online. The operator sees
 * every recipient's (a session sees its own messages' only: the `receipts` request).
 */
import { preview } from "../preview.js";
import type { Route } from "../router.js";
import { sendJson } from "../respond.js";
import { findMessage, idFromPath, receiptsOf } from "./message.js";

export const RECEIPTS_PREFIX = "/api/receipts/";

export const receiptsRoute: Route = {
	method: "GET",
	path: RECEIPTS_PREFIX,
	access: "token",
	async handle(ctx, _req, res, url) {
		const id = idFromPath(url, RECEIPTS_PREFIX);
		const found = await findMessage(ctx, id);
		sendJson(res, 200, { message: preview(found.message), receipts: await receiptsOf(ctx, found.message.room, id) });
	},
};
