/**
 * What an HTTP route may use (server/http/routes.ts lists them): the handlers' context (options, store,
 * presence, fan-out, budgets, metrics, log), the hub's health, the live stream and the dashboard's files.
 * Not the Hub itself, as for request handlers.
 */
import type { HandlerContext } from "../handlers/context.js";
import type { TokenBucket } from "../rate-limit.js";
import type { DashboardFiles } from "./dashboard.js";
import type { LiveStream } from "./live.js";

export interface Health {
	ok: boolean;
	version: string;
	protocol: number;
	uptimeSeconds: number;
	sessionsOnline: number;
	connections: number;
	preHello: number;
	messagesStored: number;
	pendingDeliveries: number;
	store: string;
	storage: { ok: boolean; lastError?: { code: string; message: string; at: number } };
	/** With several hubs on Redis: sessions online across them (sessionsOnline is this hub's). */
	presence: { directory: string; hub: string; hubs: number; sessionsOnline: number };
}

export interface HttpContext {
	readonly hub: HandlerContext;
	/** /healthz's answer (rejects when the store cannot answer its counts). */
	health(): Promise<Health>;
	/** When the hub started (epoch ms). */
	readonly startedAt: number;
	readonly live: LiveStream;
	readonly dashboard: DashboardFiles;
	/** Sends from the dashboard's composer, for the whole hub (there is one operator): the frame rate of a connection. */
	readonly apiSends: TokenBucket;
	/** Whether the hub is stopping (requests that change something are refused). */
	closing(): boolean;
}
