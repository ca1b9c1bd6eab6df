/**
 * The dashboard in a real browser: Debian's headless Chromium driven by playwright-core loads the page of a
 * real hub (SQLite file, port 0) with two real bridges (the built CLI, spawned, driven by the MCP SDK's
 * Client), and a person uses it: sees both sessions online, sees a message between them arrive without a
 * reload, opens it and watches its receipt go from pushed to seen, writes from the composer and the bridge
 * receives it marked as a person's; sees a topic a bridge subscribed to with its subscriber online, filters
 * the stream by topic and by thread, opens a thread of three whole from its last message, writes to the topic
 * and as a reply (the bridge receives both from a person, the reply with its replyTo); and a `<script>`, ANSI
 * escapes and a 64 KiB line stay text. With a token,
 * the page without it shows the login and no data, and the API answers 401. On two hubs sharing a real
 * redis-server, a message committed on the other hub while this hub's subscriber was away appears once the
 * hub says `resync`. Screenshots go to test-results/.
 *
 * New kinds of things on the page (a panel, dashboard/panels/) get a case here in the same shape: make the hub
 * hold one, wait for its element (data-* attributes name what it shows), act, check.
 *
 * Skipped, saying why, only when Chromium is missing or cannot start here.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HUMAN_MARK } from "../mcp-client/framing.js";
import { idleFor, isStuck, MAX_TOPICS, replyTarget, STUCK_MS, type SessionView, Store } from "../dashboard/model.js";
import type { MessagePreview, ReceiptRow } from "../dashboard/types.js";
import { startBridge, type TestBridge } from "./fixtures/bridge.js";
import { until } from "./fixtures/faults.js";
import { Redis } from "ioredis";
import { connectClient, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, ROOT } from "./fixtures/processes.js";
import { hasRedis, redisSkipNote, startRedis, startRedisHub, uniquePrefix } from "./fixtures/redis.js";

const RESULTS = join(ROOT, "test-results");
const TOKEN = "dashboard-test-token-0123456789";

/** The flags every launch uses: no sandbox (root in CI), no GPU, nothing that talks to the network by itself. */
const CHROMIUM_FLAGS = [
	"--no-sandbox",
	"--headless",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
];

/** Chromium, if installed and able to start here (a page rendered to stdout); else why not. */
function findChromium(): { path: string } | { reason: string } {
	const path = [process.env.RELAY_TEST_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find(
		(p): p is string => typeof p === "string" && p !== "" && existsSync(p),
	);
	if (!path) return { reason: "no chromium installed (.ci/run installs Debian's chromium)" };
	const profile = mkdtempSync(join(tmpdir(), "relay-chromium-probe-"));
	try {
		const probe = spawnSync(path, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, "--dump-dom", "data:text/html,<p>ok</p>"], {
			encoding: "utf8",
			timeout: 30_000,
		});
		if (probe.status === 0 && probe.stdout.includes("<p>ok</p>")) return { path };
		return { reason: `chromium cannot run here: ${(probe.error?.message ?? probe.stderr.split("\n").find((l) => l.trim()) ?? `exit ${probe.status}`).slice(0, 200)}` };
	} finally {
		rmSync(profile, { recursive: true, force: true });
	}
}

const chromiumFound = findChromium();
const CHROMIUM = "path" in chromiumFound ? chromiumFound.path : null;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
	for (const c of cleanups.splice(0).reverse()) await c();
});

async function launch(): Promise<{ context: BrowserContext; page: Page; dialogs: string[] }> {
	const { chromium } = await import("playwright-core");
	const profile = tempDir("relay-chromium-");
	const context = await chromium.launchPersistentContext(profile.dir, {
		executablePath: CHROMIUM as string,
		headless: true,
		args: CHROMIUM_FLAGS,
		viewport: { width: 1400, height: 900 },
	});
	cleanups.push(() => profile.cleanup());
	cleanups.push(() => context.close());
	const page = context.pages()[0] ?? (await context.newPage());
	const dialogs: string[] = [];
	// Anything a message body could make the page run would most likely try alert(): none may ever open.
	page.on("dialog", (d) => {
		dialogs.push(d.message());
		void d.dismiss();
	});
	return { context, page, dialogs };
}

async function hub(options: Parameters<typeof startHub>[0] = {}): Promise<TestHub> {
	const dir = tempDir("relay-dash-db-");
	const h = await startHub(options, join(dir.dir, "relay.db"));
	cleanups.push(() => dir.cleanup());
	cleanups.push(() => h.stop());
	return h;
}

async function bridge(h: TestHub, id: string): Promise<TestBridge> {
	const home = tempDir("relay-dash-bridge-");
	cleanups.push(() => home.cleanup());
	const b = await startBridge({ url: h.url, home: home.dir, id });
	cleanups.push(() => b.close());
	return b;
}

const visible = (page: Page, selector: string, timeout = 15_000) => page.locator(selector).first().waitFor({ state: "visible", timeout });

/** A page expression: the data-id of every element matching (this file is not type-checked for the DOM). */
const idsOf = (selector: string) => `[...document.querySelectorAll(${JSON.stringify(selector)})].map((e) => e.dataset.id)`;

/**
 * Waits until the stream shows exactly these messages, in this order. Polled from here: waitForFunction with
 * a string would evaluate it in the page, which the dashboard's Content-Security-Policy (rightly) refuses.
 */
const streamIs = (page: Page, ids: string[]) =>
	until(async () => JSON.stringify(await page.evaluate(idsOf("#stream li.message"))) === JSON.stringify(ids), 15_000, `the stream to show ${ids.join(", ")}`);

beforeAll(() => {
	assertBuilt();
	mkdirSync(RESULTS, { recursive: true });
});

describe.skipIf(!CHROMIUM)(`the dashboard in headless Chromium${CHROMIUM ? "" : ` (skipped: ${"reason" in chromiumFound ? chromiumFound.reason : ""})`}`, () => {
	it("shows sessions online, messages live, receipts turning seen, topics, threads, and sends as a person to a session, a topic and as a reply", async () => {
		const h = await hub();
		const alpha = await bridge(h, "Alpha");
		const beta = await bridge(h, "Beta");
		await until(() => Boolean(h.hub.presence.holder("default", "Alpha")?.open && h.hub.presence.holder("default", "Beta")?.open), 15_000, "both bridges online");
		const { page, dialogs } = await launch();
		await page.goto(`http://127.0.0.1:${h.port}/`);
		await visible(page, '[data-session="Alpha"][data-online="true"]');
		await visible(page, '[data-session="Beta"][data-online="true"]');
		await visible(page, '#live[data-state="live"]');
		// A mark on the window: if the page reloaded, it would be gone.
		await page.evaluate("window.__sameDocument = true");

		// A message between the two bridges appears without a reload.
		const sent = await alpha.call("relay_send", { to: "Beta", message: "Found it: auth.ts line 42" });
		expect(sent.isError).toBe(false);
		const id = sent.data.id as string;
		const row = `li.message[data-id="${id}"]`;
		await visible(page, row);
		expect(await page.locator(`${row} .text`).textContent()).toBe("Found it: auth.ts line 42");
		await visible(page, '[data-session="Beta"] [data-field="pending"]:text("1 waiting")');

		// Opened: pushed to Beta, not read yet; once Beta's model reads it (relay_receive acks it), seen, without a reload.
		await page.click(`${row} button.head`);
		await visible(page, `#inspector[data-id="${id}"] #receipts [data-recipient="Beta"][data-state="pushed"]`);
		const received = await beta.call("relay_receive", {});
		expect(received.data.messages.map((m: { id: string }) => m.id)).toEqual([id]);
		await visible(page, `#inspector[data-id="${id}"] #receipts [data-recipient="Beta"][data-state="seen"]`);
		expect(await page.locator(`#inspector [data-recipient="Beta"] .times`).textContent()).toMatch(/^queued \d\d:\d\d:\d\d · pushed \d\d:\d\d:\d\d · seen \d\d:\d\d:\d\d$/);
		await visible(page, '[data-session="Beta"] [data-field="pending"]:text("0 waiting")');

		// The composer: to Beta, as the operator; the bridge receives it marked as a person's.
		await page.selectOption("#composer-to", "Beta");
		await page.fill("#composer-body", "Please rebase on main before you push.");
		await page.click('#composer button[type="submit"]');
		await visible(page, '#composer-result:text("delivered live to Beta")');
		await visible(page, 'li.message[data-human="true"][data-from="Operator"]');
		const fromPerson = await beta.call("relay_receive", {});
		expect(fromPerson.data.messages).toHaveLength(1);
		expect(fromPerson.data.messages[0]).toMatchObject({ from: "Operator", body: "Please rebase on main before you push.", human: true });
		expect(fromPerson.text).toContain(`from="Operator" ${HUMAN_MARK}`);
		expect(fromPerson.text).toContain("typed by a person in the relay hub's dashboard");

		// Topics: Beta subscribes, and the panel shows it (online) without a reload.
		expect((await beta.call("relay_subscribe", { topic: "shop:api" })).isError).toBe(false);
		const topicRow = '#topics [data-topic="shop:api"]';
		await visible(page, `${topicRow} [data-subscriber="Beta"][data-online="true"]`);
		await visible(page, `${topicRow} [data-field="messages"]:text("0 messages")`);
		// A thread of three: Alpha to the topic, Beta answers Alpha directly, Alpha answers Beta.
		const root = (await alpha.call("relay_send", { to: "#shop:api", message: "Deploying the API at noon" })).data;
		await visible(page, `li.message[data-id="${root.id}"][data-to="#shop:api"]`);
		await visible(page, `${topicRow} [data-field="messages"]:text("1 message")`);
		const answer = (await beta.call("relay_send", { to: "Alpha", message: "Wait for my migration", replyTo: root.id })).data;
		const last = (await alpha.call("relay_send", { to: "Beta", message: "OK, 13:00 then", replyTo: answer.id })).data;
		await visible(page, `li.message[data-id="${last.id}"]`);
		// Filtered by topic: only the topic's messages, read from the hub.
		await page.click(`${topicRow} button.row`);
		await streamIs(page, [root.id]);
		expect(await page.inputValue("#stream-filter")).toBe("topic:shop:api");
		// The thread shown whole from its last message, oldest first; a click opens another message of it.
		await page.click("#stream-filter-clear");
		await visible(page, `li.message[data-id="${last.id}"]`);
		await page.click(`li.message[data-id="${last.id}"] button.head`);
		await visible(page, `#inspector[data-id="${last.id}"][data-thread="${root.id}"] #thread li.thread-item >> nth=2`);
		expect(await page.evaluate(idsOf("#thread li.thread-item"))).toEqual([root.id, answer.id, last.id]);
		expect(await page.getAttribute('#thread li[aria-current="true"]', "data-id")).toBe(last.id);
		// The root, opened from the thread before Beta read it: pushed to Beta (its topic's subscriber); seen once read.
		await page.click(`#thread li.thread-item[data-id="${root.id}"] button`);
		await visible(page, `#inspector[data-id="${root.id}"] #receipts [data-recipient="Beta"][data-state="pushed"]`);
		expect(await page.locator("#inspector #receipts li").count()).toBe(1);
		const rootRead = await beta.call("relay_receive", {});
		expect(rootRead.data.messages.map((m: { id: string }) => m.id)).toEqual([root.id, last.id]);
		await visible(page, `#inspector[data-id="${root.id}"] #receipts [data-recipient="Beta"][data-state="seen"]`);
		// The stream filtered to the thread: its three messages, the direct ones between the two bridges too.
		await page.click("#thread-filter");
		await streamIs(page, [root.id, answer.id, last.id]);

		// The composer to the topic (a select of the room's topics): Beta, its subscriber, gets it from a person.
		await page.click(`${topicRow} button.row`);
		await page.selectOption("#composer-to", "#shop:api");
		await page.fill("#composer-body", "Freeze merges to main until the deploy is done.");
		await page.click('#composer button[type="submit"]');
		await visible(page, '#composer-result:text("delivered live to Beta")');
		await visible(page, 'li.message[data-human="true"][data-to="#shop:api"]');
		await visible(page, `${topicRow} [data-field="messages"]:text("2 messages")`);
		const toTopic = await beta.call("relay_receive", {});
		expect(toTopic.data.messages).toHaveLength(1);
		expect(toTopic.data.messages[0]).toMatchObject({ from: "Operator", to: "#shop:api", human: true, body: "Freeze merges to main until the deploy is done." });
		// A reply (the root is still open): the button fills replyTo and the target (a topic message's topic); the
		// open thread grows live.
		await visible(page, `#inspector[data-id="${root.id}"] #thread li.thread-item >> nth=2`);
		await page.click("#reply");
		await visible(page, `#composer-reply[data-reply-to="${root.id}"]`);
		expect(await page.inputValue("#composer-to")).toBe("#shop:api");
		await page.fill("#composer-body", "Noon is fine by me.");
		await page.click('#composer button[type="submit"]');
		await visible(page, '#composer-result:text("delivered live to Beta")');
		await visible(page, `#inspector[data-id="${root.id}"] #thread li.thread-item.human`);
		expect(await page.locator("#composer-reply").count()).toBe(0);
		const reply = await beta.call("relay_receive", {});
		expect(reply.data.messages).toHaveLength(1);
		expect(reply.data.messages[0]).toMatchObject({ from: "Operator", to: "#shop:api", human: true, replyTo: root.id, thread: root.id });
		expect(reply.text).toContain(`from="Operator" ${HUMAN_MARK}`);
		expect(reply.text).toContain(`reply_to="${root.id}"`);
		expect(await page.locator("#thread li.thread-item").count()).toBe(4);
		// A typed target the hub refuses says why.
		await page.selectOption("#composer-to", "(typed)");
		await page.fill("#composer-to-typed", "#a..b");
		await page.fill("#composer-body", "x");
		await page.click('#composer button[type="submit"]');
		await visible(page, '#composer-result.error:text("E_BAD_TARGET")');
		await page.screenshot({ path: join(RESULTS, "dashboard-topics.png"), fullPage: true });
		await page.click("#stream-filter-clear");

		// Hostile bodies are text: a script tag (no dialog, no element), ANSI escapes shown as ^[, 64 KiB of one line cut.
		const script = "<script>alert(1)</script><img src=x onerror=alert(2)>";
		const s = await alpha.call("relay_send", { to: "Beta", message: script });
		await visible(page, `li.message[data-id="${s.data.id}"]`);
		expect(await page.locator(`li.message[data-id="${s.data.id}"] .text`).textContent()).toBe(script);
		expect(await page.locator("#stream script, #stream img").count()).toBe(0);
		const ansi = await alpha.call("relay_send", { to: "Beta", message: "\u001b[31mred\u001b[0m \u001b]0;title\u0007 \u202eevil" });
		await visible(page, `li.message[data-id="${ansi.data.id}"]`);
		expect(await page.locator(`li.message[data-id="${ansi.data.id}"] .text`).textContent()).toBe("^[[31mred^[[0m ^[]0;title^G \\u202eevil");
		const line = `${"L".repeat(65_000)}END`;
		const long = await alpha.call("relay_send", { to: "Beta", message: line });
		const longRow = `li.message[data-id="${long.data.id}"]`;
		await visible(page, longRow);
		expect(await page.locator(`${longRow} .text`).textContent()).toBe("L".repeat(500));
		await page.click(`${longRow} button.show-all`);
		await visible(page, `${longRow} .text:text("END")`);
		expect((await page.locator(`${longRow} .text`).textContent())?.length).toBe(line.length);
		// The page never reloaded, and nothing ever tried to open a dialog.
		expect(await page.evaluate("window.__sameDocument === true")).toBe(true);
		await page.waitForTimeout(300);
		expect(dialogs).toEqual([]);
		expect(await page.evaluate("document.scripts.length")).toBe(1);

		// Health shows the hub as it is.
		await visible(page, '#health[data-ok="true"]');
		expect(await page.locator('#health [data-field="store"]').textContent()).toMatch(/^sqlite · \d/);
		await page.screenshot({ path: join(RESULTS, "dashboard.png"), fullPage: true });
	});

	it("with a token: the page without it shows the login and no data, the API answers 401; with it, the data", async () => {
		const h = await hub({ token: TOKEN });
		const secret = await connectClient(h.url, "Secretive", { token: TOKEN });
		cleanups.push(() => secret.close());
		await secret.request("send", { to: "*", body: "confidential plan" });
		const { page } = await launch();
		await page.goto(`http://127.0.0.1:${h.port}/`);
		await visible(page, "#login");
		expect(await page.locator("[data-session], li.message").count()).toBe(0);
		const text = (await page.textContent("body")) ?? "";
		expect(text).not.toContain("Secretive");
		expect(text).not.toContain("confidential");
		// The page's own calls, without the token.
		const status = await page.evaluate("Promise.all(['api/sessions', 'api/messages', 'api/health'].map((p) => fetch(p).then((r) => r.status)))");
		expect(status).toEqual([401, 401, 401]);
		expect((await fetch(`http://127.0.0.1:${h.port}/api/messages`)).status).toBe(401);
		await page.screenshot({ path: join(RESULTS, "dashboard-login.png") });

		// A wrong token is refused and the form stays; the right one opens the data, kept for this tab only.
		await page.fill("#login-token", "wrong-token-0123456789");
		await page.click('#login button[type="submit"]');
		await visible(page, '#login .error:text("refused")');
		await page.fill("#login-token", TOKEN);
		await page.click('#login button[type="submit"]');
		await visible(page, '[data-session="Secretive"][data-online="true"]');
		await visible(page, 'li.message .text:text("confidential plan")');
		expect(await page.evaluate("sessionStorage.getItem('claude-relay-token')")).toBe(TOKEN);
		const cookies = await page.context().cookies();
		expect(cookies).toEqual([]);
	});
});

describe.skipIf(!CHROMIUM || !hasRedis)(`the dashboard on two hubs sharing Redis${CHROMIUM ? redisSkipNote : " (skipped: no chromium)"}`, () => {
	it("shows a message committed on the other hub while its hub's subscriber was away, once the hub says resync", async () => {
		const redis = await startRedis();
		cleanups.push(() => redis.stop());
		const prefix = uniquePrefix();
		const start = async () => {
			const { hub, url, port } = await startRedisHub(redis.url, prefix);
			cleanups.push(() => hub.close());
			return { url, port };
		};
		const [a, b] = [await start(), await start()];
		const sender = await connectClient(a.url, "Sender");
		cleanups.push(() => sender.close());
		const before = (await sender.request("send", { to: "Reader", body: "before the drop" })).message;

		const { page } = await launch();
		await page.goto(`http://127.0.0.1:${b.port}/`);
		await visible(page, `li.message[data-id="${before.id}"]`);
		// A message through hub B's own stream first, so the page is surely live.
		const live = (await sender.request("send", { to: "Reader", body: "live" })).message;
		await visible(page, `li.message[data-id="${live.id}"]`);

		// Hub B's subscriber stays away (killed every few ms) while the message is committed on hub A.
		const admin = new Redis(redis.url);
		cleanups.push(() => admin.quit());
		const end = Date.now() + 300;
		const away = (async () => {
			while (Date.now() < end) {
				await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
				await new Promise((r) => setTimeout(r, 5));
			}
		})();
		await new Promise((r) => setTimeout(r, 50));
		const during = (await sender.request("send", { to: "Reader", body: "while hub B heard nothing" })).message;
		await away;

		await visible(page, `li.message[data-id="${during.id}"]`);
		await streamIs(page, [before.id, live.id, during.id]);
	}, 90_000);
});

describe("the page's model (dashboard/model.ts)", () => {
	const row = (over: Partial<SessionView> = {}): SessionView => ({
		session: "CC-1",
		room: "default",
		online: true,
		meta: {},
		firstSeen: 0,
		lastSeen: 0,
		pending: 0,
		idleMs: 0,
		idleAt: 0,
		...over,
	});

	it("a session with mail waiting that has not been heard from for a while stands out; a busy or empty one does not", () => {
		const now = 10 * STUCK_MS;
		expect(isStuck(row({ pending: 3, online: false, lastSeen: now - STUCK_MS - 1 }), now)).toBe(true);
		expect(isStuck(row({ pending: 3, online: true, idleMs: STUCK_MS, idleAt: now - 1_000 }), now)).toBe(true);
		expect(isStuck(row({ pending: 3, online: true, idleMs: 10, idleAt: now - 1_000 }), now)).toBe(false);
		expect(isStuck(row({ pending: 0, online: false, lastSeen: 0 }), now)).toBe(false);
		expect(idleFor(row({ online: true, idleMs: 500, idleAt: now - 1_000 }), now)).toBe(1_500);
	});

	it("live events keep it current: waiting counts grow with messages and take the hub's count with acks; at most 500 messages", () => {
		const store = new Store();
		store.setSessions([{ ...row({ session: "Beta" }) }], 0);
		const msg = (seq: number) => ({ id: `m-${seq}-abcdef`, seq, room: "default", from: "Alpha", to: "Beta", body: "x", replyTo: null, sentAt: 0, bodyChars: 1, truncated: false });
		for (let seq = 1; seq <= 600; seq++) store.apply("message", { message: msg(seq), recipients: ["Beta"] });
		expect(store.model.messages).toHaveLength(500);
		expect(store.model.messages[0]?.seq).toBe(101);
		expect(store.model.older).toBe(true);
		expect(store.model.sessions[0]?.pending).toBe(600);
		// A replayed event (a reconnect) is not shown twice.
		store.apply("message", { message: msg(600), recipients: [] });
		expect(store.model.messages).toHaveLength(500);
		store.apply("acked", { room: "default", session: "Beta", ids: ["m-600-abcdef"], pending: 42 });
		expect(store.model.sessions[0]?.pending).toBe(42);
		store.apply("left", { room: "default", session: "Beta", reason: "bye", at: 5 });
		expect(store.model.sessions[0]).toMatchObject({ online: false, lastSeen: 5 });
		store.apply("forgotten", { room: "default", session: "Beta" });
		expect(store.model.sessions).toEqual([]);
	});

	it("a message pushed while the stream's first page is read stays, after the page, once", () => {
		const store = new Store();
		const msg = (seq: number) => ({ id: `m-${seq}-abcdef`, seq, room: "default", from: "Alpha", to: "Beta", body: "x", replyTo: null, sentAt: 0, bodyChars: 1, truncated: false });
		// The filter was cleared (the stream emptied), the page is on its way, and two messages arrive live:
		// one the page also has (committed before the read), one committed after it.
		store.set({ filter: null, messages: [] });
		store.apply("message", { message: msg(7), recipients: ["Beta"] });
		store.apply("message", { message: msg(8), recipients: ["Beta"] });
		store.loadedMessages([msg(5), msg(6), msg(7)], true);
		expect(store.model.messages.map((m) => m.seq)).toEqual([5, 6, 7, 8]);
		expect(store.model.older).toBe(true);
		// A thread read forwards with more to come: its newer messages come with the next page.
		store.set({ messages: [] });
		store.apply("message", { message: msg(9), recipients: ["Beta"] });
		store.loadedMessages([msg(5)], false, true);
		expect(store.model.messages.map((m) => m.seq)).toEqual([5]);
		expect(store.model.newer).toBe(true);
	});

	it("topics, receipts and the open thread follow the live stream; the stream filters by session, topic and thread; bounded", () => {
		const store = new Store();
		const msg = (seq: number, over: Partial<MessagePreview> = {}): MessagePreview => ({
			id: `m-${seq}-abcdef`,
			seq,
			room: "default",
			from: "Alpha",
			to: "#t",
			body: "x",
			replyTo: null,
			thread: `m-${seq}-abcdef`,
			sentAt: seq * 1_000,
			bodyChars: 1,
			truncated: false,
			...over,
		});
		// Subscriptions and topic messages.
		store.apply("subscription", { room: "default", session: "Beta", topic: "t", subscribed: true, at: 500 });
		expect(store.model.topics).toEqual([{ topic: "t", subscribers: [{ session: "Beta", since: 500, online: true }], messages: 0, lastMessageAt: null, lastActivity: 500 }]);
		store.apply("message", { message: msg(1), recipients: ["Beta"] });
		store.apply("message", { message: msg(2, { to: "#new" }), recipients: [] });
		expect(store.model.topics.map((t) => [t.topic, t.messages, t.lastActivity])).toEqual([
			["new", 1, 2_000],
			["t", 1, 1_000],
		]);
		store.apply("left", { room: "default", session: "Beta", reason: "bye", at: 3_000 });
		expect(store.model.topics[1]?.subscribers[0]?.online).toBe(false);
		store.apply("joined", { room: "default", session: "Beta", meta: {}, connectedAt: 3_500 });
		expect(store.model.topics[1]?.subscribers[0]?.online).toBe(true);
		store.apply("subscription", { room: "default", session: "Gamma", topic: "solo", subscribed: true, at: 4_000 });
		store.apply("subscription", { room: "default", session: "Gamma", topic: "solo", subscribed: false, at: 4_100 });
		store.apply("subscription", { room: "default", session: "Beta", topic: "t", subscribed: false, at: 4_200 });
		// A topic with neither subscribers nor messages is gone; one with messages stays, its activity its newest message.
		expect(store.model.topics.map((t) => [t.topic, t.subscribers.length, t.lastActivity])).toEqual([
			["new", 0, 2_000],
			["t", 0, 1_000],
		]);
		store.apply("subscription", { room: "default", session: "Beta", topic: "t", subscribed: true, at: 5_000 });
		store.apply("forgotten", { room: "default", session: "Beta" });
		expect(store.model.topics.find((t) => t.topic === "t")?.subscribers).toEqual([]);
		// At most MAX_TOPICS.
		for (let i = 0; i < MAX_TOPICS + 10; i++) store.apply("subscription", { room: "default", session: "Beta", topic: `x${i}`, subscribed: true, at: 1 });
		expect(store.model.topics).toHaveLength(MAX_TOPICS);

		// The open message's receipts: queued → pushed → seen, never back; other messages' events change nothing.
		const root = msg(10, { to: "Beta,Gamma" });
		const receipt = (recipient: string): ReceiptRow => ({ recipient, state: "queued", at: 10_000, pushedAt: null, seenAt: null, online: false });
		store.set({ selected: root.id, detail: { message: root, thread: root.id, recipients: [], receipts: [receipt("Beta"), receipt("Gamma")] } });
		store.apply("pushed", { room: "default", at: 11_000, pushes: [{ seq: 9, recipients: ["Beta"] }] });
		expect(store.model.detail?.receipts.map((r) => r.state)).toEqual(["queued", "queued"]);
		store.apply("pushed", { room: "default", at: 11_000, pushes: [{ seq: 10, recipients: ["Beta"] }] });
		store.apply("receipt", { room: "default", sender: "Alpha", message: "m-9-abcdef", recipient: "Gamma", state: "seen", at: 11_500 });
		expect(store.model.detail?.receipts.map((r) => [r.state, r.pushedAt, r.seenAt])).toEqual([
			["pushed", 11_000, null],
			["queued", null, null],
		]);
		store.apply("receipt", { room: "default", sender: "Alpha", message: root.id, recipient: "Beta", state: "seen", at: 12_000 });
		store.apply("pushed", { room: "default", at: 13_000, pushes: [{ seq: 10, recipients: ["Beta", "Gamma"] }] });
		expect(store.model.detail?.receipts.map((r) => [r.state, r.at])).toEqual([
			["seen", 12_000],
			["pushed", 13_000],
		]);

		// The open thread: a message of it joins in seq order, others do not.
		store.set({ thread: { thread: root.id, messages: [root], hasMore: false } });
		store.apply("message", { message: msg(12, { to: "Beta", thread: root.id, replyTo: root.id }), recipients: ["Beta"] });
		store.apply("message", { message: msg(13, { to: "Beta" }), recipients: ["Beta"] });
		expect(store.model.thread?.messages.map((m) => m.seq)).toEqual([10, 12]);

		// Filters.
		const a = msg(20, { to: "Beta" });
		const b = msg(21, { thread: root.id, replyTo: root.id });
		store.set({ filter: { kind: "session", value: "Beta" } });
		expect([store.matches(a), store.matches(b)]).toEqual([true, false]);
		store.set({ filter: { kind: "topic", value: "t" } });
		expect([store.matches(a), store.matches(b)]).toEqual([false, true]);
		store.set({ filter: { kind: "thread", value: root.id } });
		expect([store.matches(a), store.matches(b), store.matches(root)]).toEqual([false, true, true]);
		// A thread read page by page takes its newest messages with the next page, not from the stream.
		store.set({ messages: [root], newer: true });
		store.apply("message", { message: b, recipients: [] });
		expect(store.model.messages.map((m) => m.id)).toEqual([root.id]);
	});

	it("a reply goes to a topic message's topic, to the operator's own message's addressee, or to the sender", () => {
		expect(replyTarget({ from: "Alpha", to: "#shop:api" })).toBe("#shop:api");
		expect(replyTarget({ from: "Operator", to: "Beta", human: true })).toBe("Beta");
		expect(replyTarget({ from: "Alpha", to: "*" })).toBe("Alpha");
		expect(replyTarget({ from: "Alpha", to: "Operator" })).toBe("Alpha");
	});
});

afterAll(() => undefined);
