/**
 * watch / unwatch: ask for `state_changed` pushes for every key under a prefix ("" is every key of the
 * room). Watches belong to this connection and end with it (server/watches.ts says why); bounded per
 * connection by --max-watches.
 */
import { ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import { boundSession, type HandlerContext } from "./context.js";
import { checkStateKey, type RequestOf, type ResultOf } from "../protocol.js";

function validPrefix(prefix: string): string {
	const check = checkStateKey(prefix, true);
	if (!check.ok) throw new RelayError(ErrorCode.BAD_KEY, `${check.reason}.`);
	return prefix;
}

export async function handleWatch(ctx: HandlerContext, conn: Connection, frame: RequestOf<"watch">): Promise<ResultOf<"watch">> {
	const s = boundSession(conn);
	return { watching: ctx.watches.add(conn, s.room, validPrefix(frame.prefix)) };
}

export async function handleUnwatch(ctx: HandlerContext, conn: Connection, frame: RequestOf<"unwatch">): Promise<ResultOf<"unwatch">> {
	const s = boundSession(conn);
	const prefix = frame.prefix === undefined ? undefined : validPrefix(frame.prefix);
	return { watching: ctx.watches.remove(conn, s.room, prefix) };
}
