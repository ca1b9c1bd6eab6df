/**
 * `claude-relay client` shows each message once, on SQLite and on Redis. A session's backlog reaches the
 * client twice by design: pushed by the hub right after hello, and in the answer to the person's own
 * `inbox` (or `peek`) while the acks of the pushes are still on their way, or before the pushes arrive.
 * The client must print it once either way. The store is wrapped to hold one of the two paths back, so
 * both orders happen every time (a slow `ack` is what Redis does to the first; a slow catch-up read, the
 * second); and it also runs on each store as it is.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "../server/protocol.js";
import { RedisFanout } from "../server/fanout-redis.js";
import type { Fanout } from "../server/fanout.js";
import { Hub } from "../server/hub.js";
import { createStore, RedisStore } from "../server/store/index.js";
import type { Store } from "../server/store/store.js";
import { testEnv } from "./fixtures/env.js";
import { connectClient, tempDir } from "./fixtures/hub.js";
import { assertBuilt, CLI } from "./fixtures/processes.js";
import { hasRedis, redisSkipNote, startRedis, type TestRedis, uniquePrefix } from "./fixtures/redis.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The store, with some methods delayed: `before` the call, or after it (`after`: the answer is late, the read was not). */
function slowed(store: Store, delays: { before?: Partial<Record<keyof Store, number>>; after?: Partial<Record<keyof Store, number>> }): Store {
	return new Proxy(store, {
		get(target, prop, receiver) {
			const value = Reflect.get(target, prop, receiver);
			if (typeof value !== "function") return value;
			const before = delays.before?.[prop as keyof Store];
			const after = delays.after?.[prop as keyof Store];
			if (!before && !after) return value.bind(target);
			return async (...args: unknown[]) => {
				if (before) await sleep(before);
				const result = await value.apply(target, args);
				if (after) await sleep(after);
				return result;
			};
		},
	});
}

let redis: TestRedis | undefined;
const dirs: Array<{ cleanup: () => void }> = [];
beforeAll(async () => {
	assertBuilt();
	if (hasRedis) redis = await startRedis();
});
afterAll(async () => {
	await redis?.stop();
	for (const d of dirs) d.cleanup();
});

interface Backend {
	store: Store;
	fanout?: Fanout;
}

function sqlite(): Backend {
	const d = tempDir("relay-backlog-");
	dirs.push(d);
	return { store: createStore(join(d.dir, "relay.db")) };
}

/** As `claude-relay hub --db redis://…` builds it: the store and its pub/sub fan-out on one prefix. */
function onRedis(): Backend {
	if (!redis) throw new Error("no redis");
	const prefix = uniquePrefix();
	return { store: new RedisStore({ url: redis.url, prefix }), fanout: new RedisFanout({ url: redis.url, prefix }) };
}

function runClient(url: string, home: string, id: string, input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, [CLI, "client", id], { env: testEnv({ RELAY_URL: url, RELAY_HOME: home, NO_COLOR: "1" }), stdio: ["pipe", "pipe", "pipe"] });
		let stdout = "";
		let stderr = "";
		child.stdout.setEncoding("utf8").on("data", (d: string) => {
			stdout += d;
		});
		child.stderr.setEncoding("utf8").on("data", (d: string) => {
			stderr += d;
		});
		child.on("close", (code) => resolve({ code, stdout, stderr }));
		child.stdin.end(input);
	});
}

const BACKLOG = 12;

/** A hub on `store`; Bob claimed once (so the client's run reuses his secret), then `BACKLOG` messages from Alice. */
async function hubWithBacklog(backend: Backend, delays: Parameters<typeof slowed>[1] = {}): Promise<{ hub: Hub; url: string; home: string; sent: Message[] }> {
	const hub = new Hub({ port: 0 }, { store: slowed(backend.store, delays), ...(backend.fanout ? { fanout: backend.fanout } : {}) });
	const { url } = await hub.listen();
	const d = tempDir("relay-backlog-home-");
	dirs.push(d);
	const first = await runClient(url, d.dir, "Bob", "");
	expect(first.code).toBe(0);
	const alice = await connectClient(url, "Alice");
	const sent: Message[] = [];
	for (let i = 1; i <= BACKLOG; i++) sent.push((await alice.send("Bob", `backlog ${i}`)).message);
	await alice.close();
	return { hub, url, home: d.dir, sent };
}

/** How many times each message's line was printed. */
function printed(stdout: string, sent: Message[]): number[] {
	return sent.map((m) => stdout.split("\n").filter((l) => l.endsWith(`Alice → Bob: ${m.body}`)).length);
}

const stores: Array<[string, () => Backend, boolean]> = [
	["SQLite", sqlite, true],
	[`Redis${redisSkipNote}`, onRedis, hasRedis],
];

describe.each(stores)("the client prints the backlog once (%s)", (_name, make, available) => {
	it.skipIf(!available)("pushes printed first, `inbox` answered before their acks land (a slow ack)", async () => {
		const { hub, url, home, sent } = await hubWithBacklog(make(), { before: { ack: 400 } });
		try {
			const r = await runClient(url, home, "Bob", "wait 5\ninbox\n");
			expect(r.code).toBe(0);
			expect(printed(r.stdout, sent)).toEqual(sent.map(() => 1));
			expect(r.stdout).toContain(`${BACKLOG} messages waiting`);
		} finally {
			await hub.close();
		}
	});

	it.skipIf(!available)("`inbox` answered first, the pushes of the same messages after it (a slow catch-up read)", async () => {
		const { hub, url, home, sent } = await hubWithBacklog(make(), { after: { pending: 400 } });
		try {
			const r = await runClient(url, home, "Bob", "inbox\nwait 2\n");
			expect(r.code).toBe(0);
			expect(printed(r.stdout, sent)).toEqual(sent.map(() => 1));
			expect(r.stdout).toContain(`${BACKLOG} messages read and acked`);
		} finally {
			await hub.close();
		}
	});

	it.skipIf(!available)("`peek` right after connecting, on the store as it is", async () => {
		const { hub, url, home, sent } = await hubWithBacklog(make());
		try {
			for (let round = 0; round < 3; round++) {
				const r = await runClient(url, home, "Bob", round === 0 ? "peek\ninbox\nwait 1\n" : "inbox\n");
				expect(r.code).toBe(0);
				// Round 0 shows the backlog once; later rounds find it acked and print nothing of it again.
				expect(printed(r.stdout, sent)).toEqual(sent.map(() => (round === 0 ? 1 : 0)));
			}
		} finally {
			await hub.close();
		}
	});
});
