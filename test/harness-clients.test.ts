/**
 * Which harness runs a bridge (the `client` meta, mcp-client/harness/clients.ts): the rules on their own, and
 * the built bridge driven by the SDK's Client under the names real harnesses send in `initialize` (seen on
 * the real CLIs: claude-code, codex-mcp-client, gemini-cli-mcp-client; `gemini mcp list` says
 * mcp-test-client) or under a parent process named like one. Peers see it; the instructions fit it.
 */
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
	clientLabel,
	detectHarness,
	harnessFromArgv,
	harnessFromClientName,
	harnessOf,
} from "../mcp-client/harness/clients.js";
import { startBridge, type TestBridge } from "./fixtures/bridge.js";
import { until } from "./fixtures/faults.js";
import { connectClient, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, ROOT } from "./fixtures/processes.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

describe("the rules", () => {
	it("names from initialize", () => {
		expect(harnessFromClientName("claude-code")).toBe("claude-code");
		expect(harnessFromClientName("codex-mcp-client")).toBe("codex");
		expect(harnessFromClientName("gemini-cli-mcp-client")).toBe("gemini");
		for (const n of ["mcp-test-client", "bridge-test", "cursor", "", undefined, "claudette", "codexical"]) expect(harnessFromClientName(n)).toBeUndefined();
	});

	it("parent command lines: the executable, or the script an interpreter runs", () => {
		expect(harnessFromArgv(["/usr/lib/node_modules/@openai/codex/vendor/x86_64-unknown-linux-musl/bin/codex", "exec", "hi"])).toBe("codex");
		expect(harnessFromArgv(["/usr/bin/node", "--max-old-space-size=12052", "/usr/local/bin/gemini", "mcp", "list"])).toBe("gemini");
		expect(harnessFromArgv(["claude", "--dangerously-load-development-channels", "server:relay"])).toBe("claude-code");
		expect(harnessFromArgv(["/home/me/.local/bin/claude"])).toBe("claude-code");
		expect(harnessFromArgv(["node", "/x/vitest/dist/workers/forks.js"])).toBeUndefined();
		expect(harnessFromArgv(["bash", "codex"])).toBeUndefined();
		expect(harnessFromArgv([])).toBeUndefined();
	});

	it("the order: clientInfo, then the parent, then the environment; other when nothing names one", () => {
		expect(detectHarness({ clientName: "claude-code", parentArgv: ["codex"] })).toEqual({ client: "claude-code", from: "clientInfo" });
		expect(detectHarness({ clientName: "mcp-test-client", parentArgv: ["node", "/bin/gemini"] })).toEqual({ client: "gemini", from: "parent" });
		// Gemini passes its whole environment on, CLAUDECODE included when it was started from Claude Code.
		expect(detectHarness({ env: { GEMINI_CLI: "1", CLAUDECODE: "1" } })).toEqual({ client: "gemini", from: "env" });
		expect(detectHarness({ env: { CLAUDECODE: "1" } })).toEqual({ client: "claude-code", from: "env" });
		expect(detectHarness({ clientName: "cursor", parentArgv: ["node", "x.js"], env: {} })).toEqual({ client: "other", from: "none" });
	});

	it("old values stay readable", () => {
		expect(harnessOf("claude-relay-bridge")).toBe("other");
		expect(harnessOf("codex")).toBe("codex");
		expect(harnessOf("claude-relay-send")).toBeUndefined();
		expect(clientLabel("claude-relay-bridge")).toBe("bridge");
		expect(clientLabel("claude-relay-send")).toBe("send");
		expect(clientLabel("gemini")).toBe("gemini");
		expect(clientLabel(undefined)).toBeUndefined();
	});
});

describe("the built bridge", () => {
	let h: TestHub;
	let dir: string;
	beforeAll(() => assertBuilt());

	async function setup() {
		h = await startHub({ port: 0 });
		cleanups.push(() => h.stop());
		const t = tempDir("relay-harness-");
		cleanups.push(t.cleanup);
		dir = t.dir;
	}
	async function bridge(id: string, extra: Partial<Parameters<typeof startBridge>[0]> = {}): Promise<TestBridge> {
		const b = await startBridge({ url: h.url, id, home: dir, ...extra });
		cleanups.push(() => b.close());
		await until(() => Boolean(h.hub.presence.holder("default", id)), 10_000, `${id} online`);
		return b;
	}
	const metaOf = (id: string) => h.hub.presence.holder("default", id)?.session?.meta;

	it("a Codex client: client codex in hello meta and in the peers list, instructions without Claude-only advice", async () => {
		await setup();
		const cx = await bridge("CX-1", { clientName: "codex-mcp-client" });
		const cc = await bridge("CC-1", { clientName: "claude-code" });
		expect(metaOf("CX-1")?.client).toBe("codex");
		expect(metaOf("CC-1")?.client).toBe("claude-code");

		const peers = await cc.call("relay_peers");
		expect(peers.data.peers.find((p: { session: string }) => p.session === "CX-1").meta.client).toBe("codex");
		expect(peers.text).toMatch(/^CX-1 \[codex\] {2}/m);
		const status = await cx.call("relay_status");
		expect(status.data.harness).toEqual({ client: "codex", from: "clientInfo", clientName: "codex-mcp-client" });
		expect(status.data.channels.reason).toMatch(/does not take Claude Code channel pushes/);

		const codexText = cx.client.getInstructions() ?? "";
		expect(codexText).toContain("this Codex session");
		expect(codexText).toContain("CX-1");
		expect(codexText).toMatch(/not shown to you by themselves/);
		for (const claudeOnly of ["SendMessage", "edit guard", "<channel", "Claude Code session"]) expect(codexText).not.toContain(claudeOnly);
		expect(codexText).toMatch(/not from your user/);

		const claudeText = cc.client.getInstructions() ?? "";
		expect(claudeText).toContain("this Claude Code session");
		expect(claudeText).toMatch(/built-in SendMessage\/ListAgents is a different system.*always use relay_send/);
		expect(claudeText).toContain('<channel source="relay"');
		expect(claudeText).not.toMatch(/not shown to you by themselves/);
	});

	it("a client that names no harness, under a parent named gemini: gemini, from the parent", async () => {
		await setup();
		// A stand-in parent process whose script is called `gemini` (as `node …/bin/gemini` is).
		const bin = join(dir, "bin");
		mkdirSync(bin);
		symlinkSync(join(ROOT, "test", "fixtures", "channel-parent.mjs"), join(bin, "gemini"));
		const gm = await bridge("GM-1", { clientName: "mcp-test-client", launcher: [join(bin, "gemini"), "--"] });
		expect(metaOf("GM-1")?.client).toBe("gemini");
		expect((await gm.call("relay_status")).data.harness).toMatchObject({ client: "gemini", from: "parent" });
	});

	it("the SDK's own client under vitest: other; an old bridge's claude-relay-bridge shows as bridge", async () => {
		await setup();
		const b = await bridge("Plain");
		expect(metaOf("Plain")?.client).toBe("other");
		const old = await connectClient(h.url, "Old-1", { meta: { client: "claude-relay-bridge", host: "h", cwd: "/o" } });
		cleanups.push(() => old.close({ bye: false }));
		const peers = await b.call("relay_peers");
		expect(peers.text).toMatch(/^Old-1 \[bridge\] {2}h:\/o/m);
		const sessions = await b.call("relay_sessions");
		expect(sessions.data.sessions.find((s: { id: string }) => s.id === "Old-1").client).toBe("bridge");
		expect(sessions.text).toMatch(/^Old-1 {2}online {2}\[bridge\] {2}h:\/o/m);
	});
});
