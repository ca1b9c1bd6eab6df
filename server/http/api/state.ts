/**
 * GET /api/state?room=&prefix=&after=&limit=: a room's shared-state keys, with version, last writer and size,
 * without values. GET /api/state?room=&key=K: one key with its value.
 */
import { ErrorCode } from "../../errors.js";
import { STATE_LIST_DEFAULT } from "../../handlers/state.js";
import { checkStateKey, STATE_LIST_MAX } from "../../protocol.js";
import type { Route } from "../router.js";
import { HttpError, intParam, roomParam, sendJson } from "../respond.js";

function keyParam(url: URL, name: string, prefix = false): string | undefined {
	const value = url.searchParams.get(name);
	if (value === null) return undefined;
	const check = checkStateKey(value, prefix);
	if (!check.ok) throw new HttpError(400, ErrorCode.BAD_KEY, `${check.reason}.`);
	return value;
}

export const stateRoute: Route = {
	method: "GET",
	path: "/api/state",
	access: "token",
	async handle(ctx, _req, res, url) {
		const room = roomParam(url);
		const store = ctx.hub.store;
		const key = keyParam(url, "key");
		if (key !== undefined) {
			const r = await store.state.get(room, key);
			if (!r) throw new HttpError(404, ErrorCode.NOT_FOUND, `No state key ${key} in room ${room}.`);
			sendJson(res, 200, {
				room,
				entry: { key: r.key, version: r.version, updatedBy: r.updatedBy, updatedAt: r.updatedAt, size: r.size, value: JSON.parse(r.valueJson) },
			});
			return;
		}
		const prefix = keyParam(url, "prefix", true) ?? "";
		const after = keyParam(url, "after");
		const limit = intParam(url, "limit", 1, STATE_LIST_MAX) ?? STATE_LIST_DEFAULT;
		const page = await store.state.list(room, { prefix, limit, ...(after !== undefined ? { after } : {}) });
		sendJson(res, 200, {
			room,
			entries: page.records.map(({ key, version, updatedBy, updatedAt, size }) => ({ key, version, updatedBy, updatedAt, size })),
			hasMore: page.hasMore,
		});
	},
};
