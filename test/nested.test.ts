/**
 * Nested and background runs (mcp-client/nested.ts): a bridge whose ID is held by a live bridge of the
 * session that started it takes `<ID>-bg<n>` instead of contesting; the parent keeps its ID. Real bridge
 * processes: the first one is a child of this test process (its "harness"); the nested one is started by a
 * fake parent process (test/fixtures/channel-parent.mjs) that is itself a child of that harness, as a
 * `claude -p` run from a session's Bash tool is.
 */
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ancestors, backgroundId, heldByAncestor, parentOf } from "../mcp-client/nested.js";
import { startBridge, type TestBridge } from "./fixtures/bridge.js";
import { until } from "./fixtures/faults.js";
import { startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, ROOT } from "./fixtures/processes.js";

const PARENT = join(ROOT, "test", "fixtures", "channel-parent.mjs");
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});
beforeAll(() => assertBuilt());

async function setup(): Promise<{ h: TestHub; home: string }> {
	const h = await startHub({ port: 0 });
	cleanups.push(() => h.stop());
	const t = tempDir("relay-nested-");
	cleanups.push(t.cleanup);
	return { h, home: t.dir };
}
async function bridge(opts: Parameters<typeof startBridge>[0]): Promise<TestBridge> {
	const b = await startBridge(opts);
	cleanups.push(() => b.close());
	return b;
}
const holds = (h: TestHub, id: string) => Boolean(h.hub.presence.holder("default", id)?.open);

describe("the process tree", () => {
	it("walks this process's ancestors, bounded, and reads another process's parent", () => {
		const chain = ancestors();
		expect(chain[0]).toBe(process.ppid);
		expect(chain.length).toBeLessThanOrEqual(64);
		expect(chain).not.toContain(1);
		expect(parentOf(process.pid)).toBe(process.ppid);
		expect(parentOf(2 ** 30)).toBeUndefined();
	});

	it("a holder is the starting session only on this host and when its parent is an ancestor", () => {
		// This process stands for a bridge whose parent is our parent: a sibling of ours, as seen from a child.
		const me = { host: "box", ancestors: [4242, process.pid, process.ppid] };
		expect(heldByAncestor({ host: "box", pid: process.pid }, { host: "box", ancestors: [process.ppid] })).toBe(false); // itself
		expect(heldByAncestor({ host: "other", pid: process.pid }, me)).toBe(false);
		expect(heldByAncestor({ host: "box" }, me)).toBe(false);
		// A pid the table cannot show: the announced ppid counts.
		expect(heldByAncestor({ host: "box", pid: 2 ** 30, ppid: 4242 }, me)).toBe(true);
		expect(heldByAncestor({ host: "box", pid: 2 ** 30, ppid: 1 }, me)).toBe(false);
		// Not one of `me`'s ancestors whatever this process's own pid (a fixed 777 was, once: pids wrap).
		const stranger = Math.max(4242, process.pid, process.ppid) + 1;
		expect(heldByAncestor({ host: "box", pid: 2 ** 30, ppid: stranger }, me)).toBe(false);
	});

	it("background IDs stay valid names", () => {
		expect(backgroundId("CC-1", 1)).toBe("CC-1-bg1");
		const long = `A${"x".repeat(63)}`;
		expect(backgroundId(long, 9)).toHaveLength(64);
		expect(backgroundId(long, 9).endsWith("-bg9")).toBe(true);
	});
});

describe("a nested bridge", () => {
	it("under a live bridge of the same ID takes <ID>-bg1, says so, and the parent keeps its ID", async () => {
		const { h, home } = await setup();
		const parent = await bridge({ url: h.url, id: "CC-1", home });
		await until(() => holds(h, "CC-1"), 10_000, "CC-1 online");
		const holderConn = h.hub.presence.holder("default", "CC-1");

		// `claude -p` from CC-1's shell: the same CLAUDE_RELAY_SESSION_ID, one process further down.
		const nested = await bridge({ url: h.url, id: "CC-1", home, launcher: [PARENT, "--"] });
		await until(() => holds(h, "CC-1-bg1"), 10_000, "CC-1-bg1 online");
		expect(h.hub.presence.holder("default", "CC-1")).toBe(holderConn);
		expect(holderConn?.open).toBe(true);

		const status = await nested.call("relay_status");
		expect(status.data).toMatchObject({ connected: true, session: "CC-1-bg1", nested: { base: "CC-1", holderPid: parent.pid, via: "background" } });
		expect(status.text).toContain("Nested run: CC-1 is held by the session that started this one");
		expect((await parent.call("relay_status")).data).toMatchObject({ connected: true, session: "CC-1", nested: null });
		// It works as its own session, and is forgotten when it ends (ephemeral: no mail piles up for it).
		const sent = await nested.call("relay_send", { to: "CC-1", message: "from the background run" });
		expect(sent.isError).toBe(false);
		expect((await parent.call("relay_receive")).text).toContain("from the background run");
		expect((await h.hub.store.getSession("default", "CC-1-bg1"))?.ephemeral).toBe(true);
		await nested.close();
		await until(async () => (await h.hub.store.getSession("default", "CC-1-bg1")) === null, 5_000, "CC-1-bg1 forgotten");
		expect(holds(h, "CC-1")).toBe(true);
	});

	it("a second nested run takes -bg2; --client-id in a nested run wins over -bg", async () => {
		const { h, home } = await setup();
		await bridge({ url: h.url, id: "CC-1", home });
		await until(() => holds(h, "CC-1"), 10_000, "CC-1 online");
		await bridge({ url: h.url, id: "CC-1", home, launcher: [PARENT, "--"] });
		await until(() => holds(h, "CC-1-bg1"), 10_000, "bg1");
		await bridge({ url: h.url, id: "CC-1", home, launcher: [PARENT, "--"] });
		await until(() => holds(h, "CC-1-bg2"), 10_000, "bg2");
		const worker = await bridge({ url: h.url, id: "CC-1", home, launcher: [PARENT, "--"], args: ["--client-id", "Worker"] });
		await until(() => holds(h, "Worker"), 10_000, "Worker online");
		expect((await worker.call("relay_status")).data.nested).toMatchObject({ base: "CC-1", via: "--client-id" });
	});

	it("two unrelated sessions with one ID still contest it: the second is refused, nobody takes -bg", async () => {
		const { h, home } = await setup();
		// Each under its own stand-in harness: neither harness is the other's ancestor (two terminals).
		await bridge({ url: h.url, id: "CC-1", home, launcher: [PARENT, "--"] });
		await until(() => holds(h, "CC-1"), 10_000, "CC-1 online");
		const other = await bridge({ url: h.url, id: "CC-1", home, launcher: [PARENT, "--"] });
		const status = await other.call("relay_status");
		expect(status.data.connected).toBe(false);
		expect(status.data.lastError.code).toBe("E_ID_TAKEN");
		expect(status.data.nested).toBeNull();
		expect(holds(h, "CC-1-bg1")).toBe(false);
	});
});
