/**
 * GET /metrics, parsed by a Prometheus text parser (parse-prometheus-text-format): the counters move by
 * exactly what was done (messages, deliveries, acks by room; error answers by code; the latency histograms'
 * counts), the gauges say what is there, process metrics are present, the room label is bounded, and the
 * endpoint is behind the token unless --metrics-public.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";
import { afterEach, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import { ErrorCode } from "../server/errors.js";
import { HubMetrics, MAX_ROOM_LABELS, OTHER_ROOM } from "../server/metrics.js";
import { connectClient, startHub, type TestHub } from "./fixtures/hub.js";

const TOKEN = "metrics-test-token-0123456789";

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
	for (const c of cleanups.splice(0).reverse()) await c();
});

async function hub(options: Parameters<typeof startHub>[0] = {}): Promise<TestHub> {
	const h = await startHub(options);
	cleanups.push(() => h.stop());
	return h;
}

async function client(h: TestHub, id: string, extra: Parameters<typeof connectClient>[2] = {}): Promise<HubClient> {
	const c = await connectClient(h.url, id, extra);
	cleanups.push(() => c.close());
	return c;
}

async function scrape(port: number, headers: Record<string, string> = {}): Promise<ParsedFamily[]> {
	const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers });
	expect(res.status).toBe(200);
	expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
	return parsePrometheusTextFormat(await res.text());
}

/** A sample's value: a family's sample whose labels include `labels` (0 when absent). */
function value(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
	const family = families.find((f) => f.name === name);
	const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
	return Number(sample?.value ?? sample?.count ?? 0);
}

describe("GET /metrics", () => {
	it("counts messages, deliveries, acks and errors by the exact amounts, with latency samples for each commit", async () => {
		const h = await hub();
		const a = await client(h, "Alpha");
		const b = await client(h, "Beta");
		const c = await client(h, "Gamma");
		await client(h, "Quiet", { room: "other" });
		const before = await scrape(h.port);

		const N = 7;
		for (let i = 0; i < N; i++) await a.request("send", { to: "Beta", body: `direct ${i}` });
		for (let i = 0; i < 3; i++) await a.request("send", { to: "*", body: `all ${i}` });
		// Two refusals: a target that is no name, and a body over the limit.
		await expect(a.request("send", { to: "not a name!", body: "x" })).rejects.toMatchObject({ code: ErrorCode.BAD_TARGET });
		await expect(a.request("send", { to: "Beta", body: "x".repeat(70_000) })).rejects.toMatchObject({ code: ErrorCode.TOO_LARGE });
		// Beta reads all 10 (7 direct, 3 broadcasts) in one consuming inbox; Gamma acks one broadcast by id.
		const read = await b.request("inbox", { limit: 100 });
		expect(read.messages).toHaveLength(N + 3);
		const gammaPage = await c.request("inbox", { limit: 100, peek: true });
		await c.request("ack", { ids: [gammaPage.messages[0]?.id ?? ""] });
		const after = await scrape(h.port);

		const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
		expect(delta("relay_messages_total", { room: "default" })).toBe(N + 3);
		expect(delta("relay_deliveries_total", { room: "default" })).toBe(N + 3 * 2);
		expect(delta("relay_acks_total", { room: "default" })).toBe(N + 3 + 1);
		expect(delta("relay_messages_total", { room: "other" })).toBe(0);
		// The client refuses the oversized body itself (E_TOO_LARGE, never sent): one error answer from the hub.
		expect(delta("relay_errors_total", { code: ErrorCode.BAD_TARGET })).toBe(1);
		expect(delta("relay_send_commit_seconds")).toBe(N + 3);
		expect(delta("relay_commit_push_seconds")).toBe(N + 3);
		const hist = after.find((f) => f.name === "relay_send_commit_seconds");
		expect(hist?.type).toBe("HISTOGRAM");
		expect(Number(hist?.metrics[0]?.buckets?.["+Inf"])).toBe(N + 3);
		expect(Number(hist?.metrics[0]?.sum)).toBeGreaterThan(0);

		expect(value(after, "relay_sessions_online")).toBe(4);
		expect(value(after, "relay_connections")).toBe(4);
		expect(value(after, "relay_store_messages", { store: "memory" })).toBe(N + 3);
		expect(value(after, "relay_store_pending_deliveries", { store: "memory" })).toBe(2);
		expect(after.find((f) => f.name === "relay_store_bytes")?.metrics).toEqual([]);
		// Process metrics (prom-client's collectDefaultMetrics).
		expect(value(after, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
		expect(after.some((f) => f.name === "nodejs_eventloop_lag_seconds")).toBe(true);
		// The accept window's counts (server/accept-window.ts): nobody waited for these few sockets.
		expect(value(after, "relay_accept_waiting")).toBe(0);
		expect(value(after, "relay_accept_requeued_total")).toBe(0);
		expect(value(after, "relay_accept_overflow_total")).toBe(0);
		// Left out: each walked every handle at each scrape, on the event loop (40 ms at 5,000 connections).
		for (const name of ["nodejs_active_handles", "nodejs_active_handles_total", "nodejs_active_resources", "nodejs_active_resources_total"]) {
			expect(after.some((f) => f.name === name)).toBe(false);
		}
		// Read off the event loop instead; this process holds at least the hub's socket and the four connections.
		if (process.platform === "linux") expect(value(after, "process_open_fds")).toBeGreaterThanOrEqual(5);
	});

	it("counts a connection slowed down for its frame rate, and a broadcast over its budget, by reason", async () => {
		// A broadcast to the two others costs 2 of a budget of 3 (one a second, a full room at once): the second waits.
		const h = await hub({ rateLimitPerSecond: 20, rateLimitBurst: 5, broadcastDeliveriesPerSecond: 1, maxSessionsPerRoom: 3 });
		const a = await client(h, "Alpha");
		await client(h, "Beta");
		await client(h, "Gamma");
		await Promise.all(Array.from({ length: 12 }, (_, i) => a.request("ping", {}, { timeoutMs: 10_000 }).then(() => i)));
		await a.request("send", { to: "*", body: "one" }, { timeoutMs: 10_000 });
		await a.request("send", { to: "*", body: "two" }, { timeoutMs: 10_000 });
		const m = await scrape(h.port);
		expect(value(m, "relay_throttled_total", { reason: "rate" })).toBeGreaterThan(0);
		expect(value(m, "relay_throttled_total", { reason: "broadcast_budget" })).toBeGreaterThan(0);
		expect(value(m, "relay_throttled_total", { reason: "send_buffer" })).toBe(0);
	});

	it("needs the token on a token hub unless --metrics-public", async () => {
		const h = await hub({ token: TOKEN });
		const refused = await fetch(`http://127.0.0.1:${h.port}/metrics`);
		expect(refused.status).toBe(401);
		expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(ErrorCode.AUTH);
		expect((await fetch(`http://127.0.0.1:${h.port}/metrics`, { headers: { authorization: "Bearer wrong-token-0123456789" } })).status).toBe(401);
		await scrape(h.port, { authorization: `Bearer ${TOKEN}` });
		const open = await hub({ token: TOKEN, metricsPublic: true });
		await scrape(open.port);
		// Public metrics do not open anything else.
		expect((await fetch(`http://127.0.0.1:${open.port}/api/health`)).status).toBe(401);
	});
});

describe("HubMetrics", () => {
	it("gives the first rooms a label each and sums the rest as _other, so room names cannot grow the output", async () => {
		const m = new HubMetrics({
			connections: () => 0,
			preHello: () => 0,
			sessionsOnline: () => 0,
			viewers: () => 0,
			storeStats: async () => ({ messages: 0, sessions: 0, pendingDeliveries: 0 }),
			storeBytes: async () => null,
			storeKind: "memory",
			turns: () => ({ deferred: 0, exhaustedTurns: 0 }),
			accepts: () => ({ waiting: 0, requeued: 0, overflowed: 0 }),
		});
		for (let i = 0; i < MAX_ROOM_LABELS + 44; i++) m.committed(`room${i}`, 2, Date.now());
		m.committed("room0", 1, Date.now());
		const families = parsePrometheusTextFormat((await m.scrape()).text);
		const messages = families.find((f) => f.name === "relay_messages_total")?.metrics ?? [];
		expect(messages).toHaveLength(MAX_ROOM_LABELS + 1);
		expect(value(families, "relay_messages_total", { room: OTHER_ROOM })).toBe(44);
		expect(value(families, "relay_messages_total", { room: "room0" })).toBe(2);
		expect(value(families, "relay_deliveries_total", { room: OTHER_ROOM })).toBe(88);
	});

	it("keeps messages per minute for the last hour in a ring, zeroing the minutes that passed", () => {
		const m = new HubMetrics({
			connections: () => 0,
			preHello: () => 0,
			sessionsOnline: () => 0,
			viewers: () => 0,
			storeStats: async () => ({ messages: 0, sessions: 0, pendingDeliveries: 0 }),
			storeBytes: async () => null,
			storeKind: "memory",
			turns: () => ({ deferred: 0, exhaustedTurns: 0 }),
			accepts: () => ({ waiting: 0, requeued: 0, overflowed: 0 }),
		});
		const t0 = 1_000 * 60_000;
		for (let i = 0; i < 5; i++) m.minutes.add(t0);
		m.minutes.add(t0 + 60_000);
		const series = m.minutes.series(t0 + 60_000);
		expect(series).toHaveLength(60);
		expect(series.slice(-2)).toEqual([5, 1]);
		expect(m.minutes.series(t0 + 59 * 60_000).slice(0, 2)).toEqual([5, 1]);
		expect(m.minutes.series(t0 + 60 * 60_000).slice(0, 2)).toEqual([1, 0]);
		expect(m.minutes.series(t0 + 200 * 60_000).every((n) => n === 0)).toBe(true);
	});
});
