/**
 * Renaming a live session (the `rename` request and the bridge's relay_rename): the unread mail moves with
 * the session (as documented), the old ID is released, the new one is claimed with a new secret, and peers
 * see the session leave and join with reason "renamed". Against a real hub on port 0, real HubClients and
 * the built bridge.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { HubClient } from "../mcp-client/hub-client.js";
import type { PeerInfo } from "../server/protocol.js";
import { readRegistry } from "../sessions/registry.js";
import { startBridge, type TestBridge } from "./fixtures/bridge.js";
import { until } from "./fixtures/faults.js";
import { connectClient, memorySecrets, RawClient, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt } from "./fixtures/processes.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

async function hub(db?: string): Promise<TestHub> {
	const h = await startHub({ port: 0 }, db);
	cleanups.push(() => h.stop());
	return h;
}
async function client(url: string, id: string, secrets = memorySecrets()): Promise<HubClient> {
	const c = await connectClient(url, id, { secrets });
	cleanups.push(() => c.close({ bye: false }));
	return c;
}

describe("rename at the hub", () => {
	it("moves the unread mail, releases the old ID, and peers see renamed", async () => {
		const h = await hub();
		const secrets = memorySecrets();
		const cc1 = await client(h.url, "CC-1", secrets);
		const bob = await client(h.url, "Bob");
		// cc1 is offline for the mail: send to it, then rename before it reads.
		await cc1.close({ bye: true });
		await bob.send("CC-1", "first");
		await bob.send("CC-1", "second");
		await bob.send("API-1", "waited for API-1");
		const again = await client(h.url, "CC-1", secrets);
		const pushed: string[] = [];
		again.on("message", (m) => pushed.push(m.body));
		const events: string[] = [];
		bob.on("peer_left", (p) => events.push(`-${p.session}:${p.reason}:${p.to}`));
		bob.on("peer_joined", (p: PeerInfo, info) => events.push(`+${p.session}:${info.reason}:${info.from}`));

		const r = await again.rename("API-1");
		expect(r).toMatchObject({ session: "API-1", from: "CC-1", room: "default", moved: 2 });
		expect(r.secret).toMatch(/^[A-Za-z0-9_-]{43,}$/);
		expect(again.session).toBe("API-1");
		expect(secrets.map.get("default/API-1")).toBe(r.secret);

		const renamed = () => events.filter((e) => e.includes("renamed"));
		await until(() => renamed().length >= 2, 3_000, "peer events");
		expect(renamed()).toEqual(["-CC-1:renamed:API-1", "+API-1:renamed:CC-1"]);
		// The new ID's inbox: the moved mail and what waited for API-1, in seq order (and pushed, deduped).
		const inbox = await again.request("inbox", { peek: true });
		expect(inbox.messages.map((m) => m.body)).toEqual(["first", "second", "waited for API-1"]);
		await until(() => pushed.includes("waited for API-1"), 3_000, "the mail that waited for API-1 is pushed");
		expect((await bob.request("peers", {})).peers.map((p) => p.session)).toEqual(["API-1"]);
		// Live mail to the new ID reaches the renamed connection; the old ID is a stranger now.
		await bob.send("API-1", "live");
		await until(() => pushed.includes("live"), 3_000, "live push to API-1");
		const toOld = await bob.send("CC-1", "to the old name");
		expect(toOld.queued).toEqual(["CC-1"]);
		expect(toOld.warnings.map((w) => w.code)).toEqual(["W_UNKNOWN_RECIPIENT"]);
		expect(await h.hub.store.getSession("default", "CC-1")).toBeNull();
		// Someone else may claim the released ID, from nothing: its own secret, and only what came after.
		const fresh = await client(h.url, "CC-1");
		expect(fresh.hello?.pending).toBe(1);
		// The renamed session reconnects as API-1 with the new secret.
		again.reconnect();
		await again.waitReady(5_000);
		await until(() => again.hello?.session === "API-1", 3_000, "reconnected as API-1");
	});

	it("takes the session's live file claims (same paths, reason and expiry) and its topic subscriptions with it", async () => {
		const h = await hub();
		const cc1 = await client(h.url, "CC-1");
		const bob = await client(h.url, "Bob");
		const granted = await cc1.request("claim", { repo: "github.com/acme/api", paths: ["src/auth/**", "docs/auth.md"], reason: "auth rewrite", ttlSeconds: 600 });
		expect(granted.granted).toBe(true);
		await cc1.request("subscribe", { topic: "shop:api" });
		await cc1.rename("API-1");
		// Its topic subscriptions move too: what is sent to the topic now reaches API-1, and CC-1 holds none.
		expect((await bob.send("#shop:api", "to the topic")).live).toEqual(["API-1"]);
		expect(await h.hub.store.topics.subscriptions("default", "CC-1")).toEqual([]);
		const { claims } = await bob.request("claims", { repo: "github.com/acme/api" });
		expect(claims.map((c) => [c.session, c.path, c.reason]).sort()).toEqual([
			["API-1", "docs/auth.md", "auth rewrite"],
			["API-1", "src/auth/**", "auth rewrite"],
		]);
		expect(new Set(claims.map((c) => c.expiresAt))).toEqual(new Set(granted.claims.map((c) => c.expiresAt)));
		// Still guarded: another session is refused, naming the new ID.
		const refused = await bob.request("claim", { repo: "github.com/acme/api", paths: ["src/auth/token.ts"] });
		expect(refused.granted).toBe(false);
		expect(refused.conflicts.map((c) => c.session)).toEqual(["API-1"]);
	});

	it("refuses an invalid ID, the same ID, a live holder's ID, and an existing ID without its secret", async () => {
		const h = await hub();
		const a = await client(h.url, "Alpha");
		await client(h.url, "Busy");
		const gone = await client(h.url, "Gone");
		await gone.close({ bye: true });
		const code = (p: Promise<unknown>) => p.then(() => "ok", (e: { code: string }) => e.code);
		expect(await code(a.rename("bad name"))).toBe("E_BAD_ID");
		expect(await code(a.rename("system"))).toBe("E_BAD_ID");
		expect(await code(a.rename("Alpha"))).toBe("E_BAD_TARGET");
		expect(await code(a.rename("Busy"))).toBe("E_ID_TAKEN");
		expect(await code(a.rename("Gone"))).toBe("E_ID_TAKEN");
		expect(a.session).toBe("Alpha");
		expect(h.hub.presence.holder("default", "Alpha")?.open).toBe(true);
		// A raw frame before hello, and an observer, cannot rename.
		const raw = new RawClient(h.url);
		cleanups.push(() => raw.close());
		await raw.opened();
		expect((await raw.request({ type: "rename", to: "X1" })).code).toBe("E_NOT_REGISTERED");
	});

	it("takes back an ID this client owned when it presents that ID's secret", async () => {
		const h = await hub();
		const secrets = memorySecrets();
		const old = await client(h.url, "Old", secrets);
		await old.close({ bye: true });
		const cur = await client(h.url, "Cur", secrets);
		const r = await cur.rename("Old");
		expect(r.secret).toBeUndefined();
		expect(cur.session).toBe("Old");
		expect(await h.hub.store.getSession("default", "Cur")).toBeNull();
	});

	it("is the same on SQLite (one transaction) and bounded by --new-sessions-per-minute", async () => {
		const dir = tempDir();
		cleanups.push(dir.cleanup);
		const h = await startHub({ port: 0, newSessionsPerMinute: 3 }, join(dir.dir, "relay.db"));
		cleanups.push(() => h.stop());
		const a = await client(h.url, "A0");
		await client(h.url, "Peer");
		// A0 took one of the 3, Peer another: one rename to a new ID is left.
		expect((await a.rename("A1")).session).toBe("A1");
		await expect(a.rename("A2")).rejects.toMatchObject({ code: "E_CLAIM_RATE" });
		expect(a.session).toBe("A1");
	});
});

describe("relay_rename in the bridge", () => {
	beforeAll(() => assertBuilt());

	it("renames the live session: mail moves, secrets and registry follow, status says so", async () => {
		const h = await hub();
		const t = tempDir("relay-rename-");
		cleanups.push(t.cleanup);
		const b: TestBridge = await startBridge({ url: h.url, id: "CC-1", home: t.dir });
		cleanups.push(() => b.close());
		await until(() => Boolean(h.hub.presence.holder("default", "CC-1")?.open), 10_000, "CC-1 online");
		const peer = await client(h.url, "Peer");
		const seen: string[] = [];
		peer.on("peer_joined", (p, info) => seen.push(`${p.session}:${info.reason}:${info.from}`));
		await peer.send("CC-1", "unread one");

		const r = await b.call("relay_rename", { to: "API-1" });
		expect(r.isError).toBe(false);
		expect(r.data).toMatchObject({ session: "API-1", from: "CC-1", moved: 1 });
		expect(r.text).toContain("now API-1 (was CC-1)");
		await until(() => seen.length === 1, 3_000, "peer_joined renamed");
		expect(seen).toEqual(["API-1:renamed:CC-1"]);

		const secretsDir = join(t.dir, "secrets");
		expect(existsSync(join(secretsDir, "default.API-1.secret"))).toBe(true);
		expect(existsSync(join(secretsDir, "default.CC-1.secret"))).toBe(false);
		const registry = join(t.dir, "sessions", "registry.json");
		await until(async () => (await readRegistry(registry))["API-1"]?.renamedFrom === "CC-1", 5_000, "the registry entry moved");
		expect((await readRegistry(registry))["CC-1"]).toBeUndefined();

		const status = await b.call("relay_status");
		expect(status.data).toMatchObject({ session: "API-1", renamedFrom: "CC-1", waiting: 1 });
		const got = await b.call("relay_receive");
		expect(got.text).toContain("unread one");
		const reply = await b.call("relay_send", { to: "Peer", message: "from the new name" });
		expect(reply.isError).toBe(false);
		const inbox = await peer.request("inbox", {});
		expect(inbox.messages.map((m) => `${m.from}:${m.body}`)).toEqual(["API-1:from the new name"]);

		// Refused for a live holder's ID: the session keeps its name.
		const refused = await b.call("relay_rename", { to: "Peer" });
		expect(refused.isError).toBe(true);
		expect(refused.text).toMatch(/^E_ID_TAKEN/);
		expect((await b.call("relay_status")).data.session).toBe("API-1");
		expect(readFileSync(join(secretsDir, "default.API-1.secret"), "utf8").trim()).toMatch(/^[A-Za-z0-9_-]{43,}$/);
	});
});
