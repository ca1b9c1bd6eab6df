/** ping (an application-level round trip, for clients to measure and prove the hub answers) and bye. */
import type { Connection } from "../connection.js";
import type { HandlerContext } from "./context.js";
import type { RequestOf, ResultOf } from "../protocol.js";

export async function handlePing(_ctx: HandlerContext, _conn: Connection, _frame: RequestOf<"ping">): Promise<ResultOf<"ping">> {
	return { time: Date.now() };
}

/** The router closes the connection after this reply; presence tells the room the session left on purpose. */
export async function handleBye(_ctx: HandlerContext, conn: Connection, _frame: RequestOf<"bye">): Promise<ResultOf<"bye">> {
	conn.leaving = "bye";
	return {};
}
