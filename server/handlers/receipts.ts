/**
 * receipts: per recipient, where a message is (queued, pushed, seen), for its sender (every row) or a
 * recipient (its own row). And `publishSeen`, which the acking handlers call: the sender's connections, on
 * whichever hub, get a `receipt` push for each delivery an ack made seen.
 */
import { ErrorCode, RelayError } from "../errors.js";
import type { Connection } from "../connection.js";
import type { RequestOf, ResultOf } from "../protocol.js";
import type { SeenDelivery } from "../store/store.js";
import { boundSession, type HandlerContext } from "./context.js";

export async function handleReceipts(ctx: HandlerContext, conn: Connection, frame: RequestOf<"receipts">): Promise<ResultOf<"receipts">> {
	const s = boundSession(conn);
	const found = await ctx.store.receipts(s.room, frame.message);
	// Someone else's message reads as no message at all: receipts say who read what, which is the sender's.
	const mine = found && (found.message.from === s.session ? found.receipts : found.receipts.filter((r) => r.recipient === s.session));
	if (!found || !mine || mine.length === 0) {
		throw new RelayError(ErrorCode.NOT_FOUND, `No message ${frame.message} sent by or to ${s.session} (it may have been removed by retention).`);
	}
	return { message: found.message, receipts: mine };
}

/** Tells each sender that `recipient` saw these messages. Never waits for other hubs, never throws. */
export function publishSeen(ctx: Pick<HandlerContext, "fanout" | "log">, room: string, recipient: string, seen: readonly SeenDelivery[]): void {
	for (const d of seen) {
		ctx.fanout
			.publish({ kind: "receipt", room, to: d.from, receipt: { message: d.id, recipient, state: "seen", at: d.seenAt } })
			.catch((err) => ctx.log.warn({ err }, "fan-out of a receipt failed"));
	}
}
