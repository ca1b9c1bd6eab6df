/**
 * Network faults under a real bridge: `node dist/cli.js mcp` driven by the MCP SDK client (as Claude Code
 * drives it), connected to the hub through the cuttable TCP proxy. While a peer streams messages to it,
 * and while it sends through relay_send, its link is cut, dies silently, and is refused for a second.
 * The "model" (relay_receive) ends with every message exactly once, in order, and the peer gets every
 * relay_send exactly once, in order.
 */
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterEach, describe, expect, it } from "vitest";
import { HubClient } from "../mcp-client/hub-client.js";
import type { Message } from "../server/protocol.js";
import { testEnv } from "./fixtures/env.js";
import { memorySecrets, startHub, tempDir } from "./fixtures/hub.js";
import { ackingReceiver, duplicates, sendWindowed, sleep, TcpProxy, until } from "./fixtures/faults.js";
import { assertBuilt, CLI } from "./fixtures/processes.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

interface ToolResult {
	isError?: boolean;
	content?: Array<{ type: string; text?: string }>;
	structuredContent?: Record<string, unknown>;
}

describe("a real bridge behind a cuttable link", () => {
	it("loses and repeats nothing, in either direction, through cuts, a silent death and an outage", async () => {
		assertBuilt();
		const home = tempDir("relay-bridge-");
		cleanups.push(home.cleanup);
		const h = await startHub({ livenessProbeMs: 300 }, join(home.dir, "relay.db"));
		cleanups.push(h.stop);
		const proxy = new TcpProxy(h.port);
		await proxy.up();
		cleanups.push(() => proxy.close());

		const transport = new StdioClientTransport({
			command: process.execPath,
			args: [CLI, "mcp"],
			env: testEnv({ RELAY_URL: proxy.url, RELAY_HOME: home.dir, CLAUDE_RELAY_SESSION_ID: "Bridge", RELAY_LOG_LEVEL: "warn" }) as Record<string, string>,
			stderr: "ignore",
		});
		const mcp = new Client({ name: "faults-test", version: "1" });
		await mcp.connect(transport);
		cleanups.push(() => mcp.close());
		const call = async (name: string, args: Record<string, unknown>) => (await mcp.callTool({ name, arguments: args })) as ToolResult;

		const peer = new HubClient({ url: h.url, session: "Peer", secrets: memorySecrets(), keepaliveMs: 0, minReconnectDelayMs: 50 });
		cleanups.push(() => peer.close({ bye: false }));
		const peerGot = ackingReceiver(peer);
		await peer.waitReady();
		await until(async () => (await peer.request("peers", {})).peers.some((p) => p.session === "Bridge"), 10_000, "the bridge to come online");

		// Inbound: the peer streams 300 messages; the bridge's link fails three ways meanwhile.
		const inbound = Array.from({ length: 300 }, (_, i) => `to bridge ${i}`);
		let restored: Promise<unknown> = Promise.resolve();
		const fired: string[] = [];
		await sendWindowed(peer, "Bridge", inbound, 20, (acked) => {
			if (acked === 60) {
				fired.push("cut");
				proxy.cut();
			}
			if (acked === 140) {
				fired.push("silent death");
				proxy.blackhole();
			}
			if (acked === 220) {
				fired.push("unreachable for 1 s");
				restored = proxy.down().then(() => sleep(1_000)).then(() => proxy.up());
			}
		});
		await restored;
		expect(fired).toEqual(["cut", "silent death", "unreachable for 1 s"]);

		const read: Message[] = [];
		await until(
			async () => {
				const r = await call("relay_receive", { limit: 100 });
				if (!r.isError) read.push(...((r.structuredContent?.messages as Message[] | undefined) ?? []));
				return read.length >= inbound.length;
			},
			20_000,
			"relay_receive to hand over every message",
		);
		expect(duplicates(read.map((m) => m.id))).toEqual([]);
		expect(read.map((m) => m.body)).toEqual(inbound);
		// Nothing is handed over twice later either, and the hub has nothing left unread for the bridge.
		const after = await call("relay_receive", { limit: 100 });
		expect(after.isError).toBeFalsy();
		expect(after.structuredContent?.messages).toEqual([]);
		expect(after.structuredContent?.remaining).toBe(0);

		// Outbound: 60 relay_send calls, one at a time, with the same three failures on the way.
		const outbound = Array.from({ length: 60 }, (_, i) => `from bridge ${i}`);
		const sentIds: string[] = [];
		for (const [i, message] of outbound.entries()) {
			if (i === 15) proxy.cut();
			if (i === 30) proxy.blackhole();
			if (i === 45) restored = proxy.down().then(() => sleep(1_000)).then(() => proxy.up());
			const r = await call("relay_send", { to: "Peer", message });
			expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
			sentIds.push(String(r.structuredContent?.id));
		}
		await restored;
		await until(() => peerGot.length >= outbound.length, 10_000, "the peer to get every relay_send");
		await sleep(200);
		expect(duplicates(peerGot.map((m) => m.body))).toEqual([]);
		expect(peerGot.map((m) => m.body)).toEqual(outbound);
		expect(peerGot.map((m) => m.id)).toEqual(sentIds);
	});
});
