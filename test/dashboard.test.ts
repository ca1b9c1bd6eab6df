/**
 * The dashboard in a real browser: Debian's headless Chromium driven by playwright-core loads the page of a
 * real hub (SQLite file, port 0) with two real bridges (the built CLI, spawned, driven by the MCP SDK's
 * Client), and a person uses it: sees both sessions online, sees a message between them arrive without a
 * reload, opens it and watches its recipient's delivery turn acked, writes from the composer and the bridge
 * receives it marked as a person's, and a `<script>`, ANSI escapes and a 64 KiB line stay text. With a token,
 * the page without it shows the login and no data, and the API answers 401. Screenshots go to test-results/.
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
import { idleFor, isStuck, STUCK_MS, type SessionView, Store } from "../dashboard/model.js";
import { startBridge, type TestBridge } from "./fixtures/bridge.js";
import { until } from "./fixtures/faults.js";
import { connectClient, startHub, type TestHub, tempDir } from "./fixtures/hub.js";
import { assertBuilt, ROOT } from "./fixtures/processes.js";

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

beforeAll(() => {
	assertBuilt();
	mkdirSync(RESULTS, { recursive: true });
});

describe.skipIf(!CHROMIUM)(`the dashboard in headless Chromium${CHROMIUM ? "" : ` (skipped: ${"reason" in chromiumFound ? chromiumFound.reason : ""})`}`, () => {
	it("shows both sessions online, a message arriving live, its delivery turning acked, and sends as a person to a bridge", async () => {
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

		// Opened: Beta still owes its ack; once Beta's model reads it (relay_receive acks it), it turns acked.
		await page.click(`${row} button.head`);
		await visible(page, `#inspector[data-id="${id}"] [data-recipient="Beta"][data-state="pending"]`);
		const received = await beta.call("relay_receive", {});
		expect(received.data.messages.map((m: { id: string }) => m.id)).toEqual([id]);
		await visible(page, `#inspector[data-id="${id}"] [data-recipient="Beta"][data-state="acked"]`);
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
});

afterAll(() => undefined);
