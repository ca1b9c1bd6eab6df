/**
 * What a request handler may use: the hub's options, the store, fan-out (to publish what it committed),
 * presence (who is online, the claim lock, forgetting a session), the per-address budgets, the state
 * watches, the metrics, the dashboard's event sink and the log. Not the Hub itself: a handler cannot reach the HTTP server, the timers or other
 * connections except through presence, which keeps each handler testable and its reach obvious from its
 * signature.
 */
import type { AddressLimiter } from "../address-limit.js";
import type { Connection } from "../connection.js";
import { ErrorCode, RelayError } from "../errors.js";
import type { HubOptions } from "../defaults.js";
import type { HubEvents } from "../events.js";
import type { Fanout } from "../fanout.js";
import type { Logger } from "../logger.js";
import type { HubMetrics } from "../metrics.js";
import type { Presence } from "../presence.js";
import type { RequestOf, RequestType, ResultOf } from "../protocol.js";
import type { Store } from "../store/store.js";
import type { TurnBudget } from "../turn-budget.js";
import type { Watches } from "../watches.js";

export interface HandlerContext {
	readonly options: Readonly<HubOptions>;
	readonly store: Store;
	/** `kind` "local": publish pushes to this hub's connections before it returns (what commit→push times). */
	readonly fanout: Pick<Fanout, "publish" | "kind">;
	readonly presence: Presence;
	/** How many new IDs each peer address may still mint (hello's first claims). */
	readonly newIds: AddressLimiter;
	/** How many broadcast deliveries each peer address may still make (one per recipient). */
	readonly broadcasts: AddressLimiter;
	/** Which connections watch which state prefixes (watch / unwatch). */
	readonly watches: Watches;
	/** The event-loop turn's budget for inbound frames (the router asks it before each frame). */
	readonly turns: TurnBudget;
	/** Counts for GET /metrics: plain numbers, bumped on the hot path (server/metrics.ts). */
	readonly metrics: HubMetrics;
	/** The dashboard's live stream, while someone watches (server/events.ts). */
	readonly events: HubEvents;
	readonly log: Logger;
}

/** One request type's handler: validated frame in, the `result` out, or a RelayError thrown. */
export type Handler<T extends RequestType> = (ctx: HandlerContext, conn: Connection, frame: RequestOf<T>) => Promise<ResultOf<T>>;

/** The session a request runs as; every handler but hello's needs one (the router checks it first). */
export function boundSession(conn: Connection): NonNullable<Connection["session"]> {
	const s = conn.session;
	if (!s) throw new RelayError(ErrorCode.NOT_REGISTERED, "Say hello first.");
	return s;
}
