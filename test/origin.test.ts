/**
 * Which pages and host names may reach the hub (server/origin.ts): the rules as units, then a real hub on
 * port 0 fed hand-written upgrade requests with hostile Origin and Host headers over raw TCP, the real ws
 * client, HubClient and the bridge still connecting, and real headless Chromium doing what a hostile page
 * would (a WebSocket from another origin, a DNS-rebound name).
 */

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { connect } from "node:net";
import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../server/errors.js";
import { Hub, HubConfigError } from "../server/hub.js";
import {
	isLoopbackName,
	normalizeAllowedHost,
	normalizeOrigin,
	hostCacheSize,
	parseHostHeader,
	RequestGuard,
} from "../server/origin.js";
import { createStore } from "../server/store/index.js";
import { startBridge } from "./fixtures/bridge.js";
import { connectClient, RawClient, tempDir } from "./fixtures/hub.js";
import {
	assertBuilt,
	CLI,
	freePort,
	portOpen,
	waitFor,
} from "./fixtures/processes.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	while (cleanups.length) await cleanups.pop()?.();
});

function loopbackGuard(
	extra: Partial<ConstructorParameters<typeof RequestGuard>[0]> = {},
): RequestGuard {
	return new RequestGuard({
		bindHost: "127.0.0.1",
		boundAddress: "127.0.0.1",
		port: 9999,
		allowOrigins: [],
		allowHosts: [],
		...extra,
	});
}

describe("the rules (server/origin.ts)", () => {
	it("parses Host headers the way a browser writes them, and nothing a browser could not send", () => {
		expect(parseHostHeader("localhost:9999")).toEqual({
			name: "localhost",
			port: 9999,
		});
		expect(parseHostHeader("LOCALHOST.")).toEqual({
			name: "localhost",
			port: undefined,
		});
		expect(parseHostHeader("[::1]:9999")).toEqual({ name: "::1", port: 9999 });
		expect(parseHostHeader("[::ffff:127.0.0.1]")).toEqual({
			name: "::ffff:7f00:1",
			port: undefined,
		});
		for (const bad of [
			"evil.example@localhost",
			"localhost/x",
			"local host",
			"::1",
			"localhost:99999",
			"",
			"évil.example",
		]) {
			expect(parseHostHeader(bad), bad).toBeUndefined();
		}
		expect(isLoopbackName("127.200.3.4")).toBe(true);
		expect(isLoopbackName("::ffff:7f00:1")).toBe(true);
		expect(isLoopbackName("128.0.0.1")).toBe(false);
		expect(isLoopbackName("1.127.0.1")).toBe(false);
		expect(isLoopbackName("::2")).toBe(false);
		expect(isLoopbackName("localhost.attacker.example")).toBe(false);
	});

	it("remembers parsed Host values, answers the same from memory, and holds at most 256 of them", () => {
		for (let round = 0; round < 2; round++) {
			expect(parseHostHeader("LOCALHOST.:9999")).toEqual({ name: "localhost", port: 9999 });
			expect(parseHostHeader("localhost:99999")).toBeUndefined();
			expect(parseHostHeader("evil.example@localhost")).toBeUndefined();
		}
		// A flood of distinct values (a header can be 16 KiB): long ones are refused before the cache.
		const held = hostCacheSize();
		expect(parseHostHeader("a".repeat(16_000))).toBeUndefined();
		expect(hostCacheSize()).toBe(held);
		for (let i = 0; i < 1_000; i++) {
			expect(parseHostHeader(`h${i}.example:${1000 + i}`)).toEqual({ name: `h${i}.example`, port: 1000 + i });
			expect(hostCacheSize()).toBeLessThanOrEqual(256);
		}
		expect(hostCacheSize()).toBeGreaterThan(0);
		expect(parseHostHeader("[::1]:9999")).toEqual({ name: "::1", port: 9999 });
	});

	it("a loopback hub answers to loopback names on any port (tunnels forward other ports) and to --allow-host", () => {
		const g = loopbackGuard({ allowHosts: ["relay.internal"] });
		for (const host of [
			"localhost:9999",
			"127.0.0.1:9999",
			"127.0.0.1",
			"127.8.9.10:9999",
			"[::1]:9999",
			"localhost:8888",
			"relay.internal:443",
		]) {
			expect(g.check({ host }), host).toBeNull();
		}
		for (const host of [
			"attacker.example:9999",
			"localhost.attacker.example:9999",
			"127.0.0.1.nip.io:9999",
			"0.0.0.0:9999",
			"192.168.1.5:9999",
			"evil.example@localhost:9999",
		]) {
			const r = g.check({ host });
			expect(r?.header, host).toBe("Host");
			expect(r?.code).toBe(ErrorCode.BAD_HOST);
			expect(r?.message).toContain("--allow-host");
		}
		// No Host at all: only HTTP/1.0 can omit it, and no browser does.
		expect(g.check({})).toBeNull();
	});

	it("accepts no Origin and the hub's own; refuses every other page, null and non-http schemes", () => {
		const g = loopbackGuard({
			allowOrigins: ["https://Dash.Example.com:8443/"],
		});
		const ok = [
			{ host: "127.0.0.1:9999" },
			{ host: "127.0.0.1:9999", origin: "http://127.0.0.1:9999" },
			{ host: "127.0.0.1:9999", origin: "http://localhost:9999" },
			{ host: "localhost:9999", origin: "https://[::1]:9999" },
			// A page served through a tunnel whose local port is not the hub's: same authority as the request.
			{ host: "localhost:8888", origin: "http://localhost:8888" },
			{ host: "localhost:8888", origin: "http://127.0.0.1:8888" },
			{ host: "127.0.0.1:9999", origin: "https://dash.example.com:8443" },
		];
		for (const h of ok) expect(g.check(h), JSON.stringify(h)).toBeNull();
		const refused = [
			"https://evil.example",
			"http://evil.example:9999",
			"http://localhost:3000", // another local server's page
			"http://127.0.0.1:8888", // the authority was 127.0.0.1:9999
			"null",
			"file://",
			"ws://127.0.0.1:9999",
			"chrome-extension://abcdef",
			"https://dash.example.com", // the allowed one has port 8443
			"not a url",
		];
		for (const origin of refused) {
			const r = g.check({ host: "127.0.0.1:9999", origin });
			expect(r?.header, origin).toBe("Origin");
			expect(r?.code).toBe(ErrorCode.BAD_ORIGIN);
			expect(r?.message).toContain("--allow-origin");
		}
	});

	it("a non-loopback hub answers to its bound address; on 0.0.0.0 to every interface address and the machine's name", () => {
		const lan = new RequestGuard({
			bindHost: "192.168.1.5",
			boundAddress: "192.168.1.5",
			port: 9999,
			allowOrigins: [],
			allowHosts: ["relay.example.com"],
		});
		expect(lan.check({ host: "192.168.1.5:9999" })).toBeNull();
		expect(lan.check({ host: "relay.example.com" })).toBeNull();
		expect(lan.check({ host: "192.168.1.6:9999" })?.header).toBe("Host");
		// Loopback names are never an attacker's (a rebinding page sends its own name): a tunnel's client sends them.
		expect(lan.check({ host: "localhost:9999" })).toBeNull();
		expect(
			lan.check({
				host: "relay.example.com",
				origin: "https://relay.example.com",
			}),
		).toBeNull();

		const any = new RequestGuard(
			{
				bindHost: "0.0.0.0",
				boundAddress: "0.0.0.0",
				port: 9999,
				allowOrigins: [],
				allowHosts: [],
			},
			{
				interfaces: () => ["127.0.0.1", "10.1.2.3", "fe80::1"],
				hostname: () => "MyBox",
			},
		);
		for (const host of [
			"10.1.2.3:9999",
			"[fe80::1]:9999",
			"mybox:9999",
			"localhost:9999",
		])
			expect(any.check({ host }), host).toBeNull();
		expect(any.check({ host: "10.1.2.4:9999" })?.header).toBe("Host");
		expect(
			any.check({ host: "10.1.2.3:9999", origin: "http://10.1.2.3:9999" }),
		).toBeNull();
		expect(
			any.check({ host: "10.1.2.3:9999", origin: "http://10.9.9.9:9999" })
				?.header,
		).toBe("Origin");
	});

	it("checks --allow-origin and --allow-host values, and the hub refuses to start on a bad one", () => {
		expect(normalizeOrigin("HTTPS://Dash.example.com:443/")).toBe(
			"https://dash.example.com",
		);
		for (const bad of [
			"*",
			"dash.example.com",
			"https://x.example/path",
			"ftp://x.example",
			"https://u:p@x.example",
		]) {
			expect(() => normalizeOrigin(bad), bad).toThrow(/--allow-origin/);
		}
		expect(normalizeAllowedHost("Relay.Example.com")).toBe("relay.example.com");
		expect(normalizeAllowedHost("[::1]")).toBe("::1");
		expect(() => normalizeAllowedHost("relay.example.com:443")).toThrow(
			/without a port/,
		);
		expect(
			() =>
				new Hub(
					{ port: 0, allowOrigins: ["*"] },
					{ store: createStore(":memory:") },
				),
		).toThrow(HubConfigError);
		expect(
			() =>
				new Hub(
					{ port: 0, allowHosts: ["a b"] },
					{ store: createStore(":memory:") },
				),
		).toThrow(HubConfigError);
	});

	it("remembers each refused value once, and at most 1,000 of them", () => {
		const g = loopbackGuard();
		const r = g.check({
			host: "127.0.0.1:9999",
			origin: "https://evil.example",
		});
		if (!r) throw new Error("expected a refusal");
		expect(g.firstRefusal(r)).toBe(true);
		expect(g.firstRefusal(r)).toBe(false);
		let fresh = 1;
		for (let i = 0; i < 1_500; i++) {
			const ri = g.check({
				host: "127.0.0.1:9999",
				origin: `https://e${i}.example`,
			});
			if (ri && g.firstRefusal(ri)) fresh++;
		}
		expect(fresh).toBe(1_000);
		expect(g.refusalLogFull).toBe(true);
	});
});

// ----- a real hub -------------------------------------------------------------------------------------

interface LoggedHub {
	hub: Hub;
	port: number;
	url: string;
	logs: Array<Record<string, unknown>>;
}

async function hubWithLogs(
	options: ConstructorParameters<typeof Hub>[0] = {},
): Promise<LoggedHub> {
	const logs: Array<Record<string, unknown>> = [];
	const sink = new Writable({
		write(chunk, _enc, done) {
			for (const line of String(chunk).split("\n"))
				if (line) logs.push(JSON.parse(line));
			done();
		},
	});
	const hub = new Hub(
		{ port: 0, ...options },
		{ store: createStore(":memory:"), log: pino({ level: "warn" }, sink) },
	);
	const { port, url } = await hub.listen();
	cleanups.push(() => hub.close());
	return { hub, port, url, logs };
}

/** Writes an HTTP request by hand on a raw TCP socket and returns the status line, headers and body. */
function rawRequest(
	port: number,
	lines: string[],
): Promise<{ status: number; head: string; body: string }> {
	return new Promise((resolve, reject) => {
		const socket = connect({ port, host: "127.0.0.1" });
		let data = "";
		socket.on("data", (d) => {
			data += String(d);
			// A 101 keeps the socket open: stop at the end of the head.
			if (data.startsWith("HTTP/1.1 101") && data.includes("\r\n\r\n"))
				socket.destroy();
		});
		socket.on("error", reject);
		socket.on("close", () => {
			const at = data.indexOf("\r\n\r\n");
			const head = at >= 0 ? data.slice(0, at) : data;
			resolve({
				status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
				head,
				body: at >= 0 ? data.slice(at + 4) : "",
			});
		});
		socket.write(`${lines.join("\r\n")}\r\n\r\n`);
	});
}

function upgrade(
	port: number,
	headers: Record<string, string>,
): Promise<{ status: number; head: string; body: string }> {
	const lines = [
		"GET / HTTP/1.1",
		"Connection: Upgrade",
		"Upgrade: websocket",
		"Sec-WebSocket-Version: 13",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
	];
	for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
	return rawRequest(port, lines);
}

describe("a real hub refuses hostile upgrades and requests", () => {
	it("refuses a WebSocket upgrade from another origin with 403 naming Origin and --allow-origin, logged once", async () => {
		const { port, logs } = await hubWithLogs();
		for (let i = 0; i < 3; i++) {
			const r = await upgrade(port, {
				Host: `127.0.0.1:${port}`,
				Origin: "https://evil.example",
			});
			expect(r.status).toBe(403);
			const body = JSON.parse(r.body) as {
				error: { code: string; message: string };
			};
			expect(body.error.code).toBe(ErrorCode.BAD_ORIGIN);
			expect(body.error.message).toContain("Origin");
			expect(body.error.message).toContain("--allow-origin");
		}
		for (const origin of [
			"null",
			"http://localhost:3000",
			`http://attacker.example:${port}`,
		]) {
			expect(
				(await upgrade(port, { Host: `127.0.0.1:${port}`, Origin: origin }))
					.status,
				origin,
			).toBe(403);
		}
		const refusedEvil = logs.filter(
			(l) => l.header === "Origin" && l.value === "https://evil.example",
		);
		expect(refusedEvil).toHaveLength(1);
		// The page's own origin (a dashboard served by the hub) and no Origin at all get the socket.
		expect(
			(
				await upgrade(port, {
					Host: `127.0.0.1:${port}`,
					Origin: `http://127.0.0.1:${port}`,
				})
			).status,
		).toBe(101);
		expect(
			(
				await upgrade(port, {
					Host: `localhost:${port}`,
					Origin: `http://localhost:${port}`,
				})
			).status,
		).toBe(101);
		expect((await upgrade(port, { Host: `127.0.0.1:${port}` })).status).toBe(
			101,
		);
	});

	it("refuses a DNS-rebound Host on upgrades and on every HTTP endpoint, healthz included", async () => {
		const { port, logs } = await hubWithLogs();
		const hostile = `attacker.example:${port}`;
		const up = await upgrade(port, {
			Host: hostile,
			Origin: `http://${hostile}`,
		});
		expect(up.status).toBe(403);
		const body = JSON.parse(up.body) as {
			error: { code: string; message: string };
		};
		expect(body.error.code).toBe(ErrorCode.BAD_HOST);
		expect(body.error.message).toContain("Host");
		expect(body.error.message).toContain("--allow-host attacker.example");
		for (const path of ["/healthz", "/sessions", "/"]) {
			const r = await rawRequest(port, [
				`GET ${path} HTTP/1.1`,
				`Host: ${hostile}`,
				"Connection: close",
			]);
			expect(r.status, path).toBe(403);
			expect(r.body).toContain(ErrorCode.BAD_HOST);
			const ok = await rawRequest(port, [
				`GET ${path} HTTP/1.1`,
				`Host: localhost:${port}`,
				"Connection: close",
			]);
			expect(ok.status, path).not.toBe(403);
		}
		// A state-changing request from a foreign page is refused too (and every other foreign-Origin request).
		const post = await rawRequest(port, [
			"POST /sessions HTTP/1.1",
			`Host: 127.0.0.1:${port}`,
			"Origin: https://evil.example",
			"Content-Length: 0",
			"Connection: close",
		]);
		expect(post.status).toBe(403);
		expect(post.body).toContain(ErrorCode.BAD_ORIGIN);
		const get = await rawRequest(port, [
			"GET /sessions HTTP/1.1",
			`Host: 127.0.0.1:${port}`,
			"Origin: https://evil.example",
			"Connection: close",
		]);
		expect(get.status).toBe(403);
		expect(
			logs.filter((l) => l.header === "Host" && l.value === hostile),
		).toHaveLength(1);
	});

	it("--allow-host and --allow-origin let a named host and page in", async () => {
		const { port } = await hubWithLogs({
			allowHosts: ["relay.example.com"],
			allowOrigins: ["https://dash.example.com"],
		});
		expect(
			(
				await upgrade(port, {
					Host: "relay.example.com",
					Origin: "https://dash.example.com",
				})
			).status,
		).toBe(101);
		expect(
			(
				await upgrade(port, {
					Host: "relay.example.com",
					Origin: "https://other.example.com",
				})
			).status,
		).toBe(403);
	});

	it("non-browser clients keep working: the ws client, HubClient with a token, fetch", async () => {
		const token = "t0ken-t0ken-t0ken-t0ken";
		const { port, url } = await hubWithLogs({ token });
		const ws = new RawClient(`${url}/?token=${token}`);
		cleanups.push(() => ws.close());
		await ws.opened();
		expect((await ws.request({ type: "hello", session: "Plain" })).type).toBe(
			"result",
		);
		const viaLocalhost = await connectClient(
			`ws://localhost:${port}`,
			"ViaLocalhost",
			{ token },
		);
		cleanups.push(() => viaLocalhost.close({ bye: false }));
		expect(viaLocalhost.ready).toBe(true);
		const health = await fetch(`http://localhost:${port}/healthz`);
		expect(health.status).toBe(200);
		const sessions = await fetch(`http://127.0.0.1:${port}/sessions`, {
			headers: { authorization: `Bearer ${token}` },
		});
		expect(sessions.status).toBe(200);
		// The ws client with a hostile Origin is refused like a browser.
		const spoof = new RawClient(url, {
			origin: "https://evil.example",
			headers: { authorization: `Bearer ${token}` },
		});
		cleanups.push(() => spoof.close());
		await expect(spoof.opened()).rejects.toThrow(/403/);
	});

	it("the CLI takes --allow-origin (repeatable, comma-separated) and RELAY_ALLOW_HOST", async () => {
		assertBuilt();
		const port = await freePort();
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		// Only what the hub needs: the caller's RELAY_* variables must not reach it.
		const env = {
			PATH: process.env.PATH ?? "",
			HOME: dir,
			RELAY_HOME: dir,
			RELAY_ALLOW_HOST: "relay.example.com,relay2.example.com",
		};
		const args = [
			CLI,
			"hub",
			String(port),
			"--db",
			":memory:",
			"--log-level",
			"silent",
			"--allow-origin",
			"https://a.example,https://b.example",
			"--allow-origin",
			"https://c.example",
		];
		const child = spawn(process.execPath, args, { env, stdio: "ignore" });
		cleanups.push(() => {
			child.kill("SIGKILL");
		});
		await waitFor(() => portOpen(port), 15_000, "the hub to listen");
		for (const origin of [
			"https://a.example",
			"https://b.example",
			"https://c.example",
		]) {
			expect(
				(await upgrade(port, { Host: "relay2.example.com", Origin: origin }))
					.status,
				origin,
			).toBe(101);
		}
		expect(
			(
				await upgrade(port, {
					Host: "relay.example.com",
					Origin: "https://d.example",
				})
			).status,
		).toBe(403);
		expect((await upgrade(port, { Host: "relay3.example.com" })).status).toBe(
			403,
		);
	});

	it("the bridge still connects", async () => {
		assertBuilt();
		const { url } = await hubWithLogs();
		const { dir, cleanup } = tempDir();
		cleanups.push(cleanup);
		const bridge = await startBridge({ url, home: dir, id: "Bridged" });
		cleanups.push(() => bridge.close());
		const deadline = Date.now() + 10_000;
		let status = await bridge.call("relay_status");
		while (status.data?.connected !== true && Date.now() < deadline) {
			await new Promise((r) => setTimeout(r, 100));
			status = await bridge.call("relay_status");
		}
		expect(status.data?.connected).toBe(true);
	});
});

// ----- a real browser -------------------------------------------------------------------------------------

const CHROMIUM = [
	"/usr/bin/chromium",
	"/usr/bin/chromium-browser",
	"/usr/bin/google-chrome",
].find((p) => existsSync(p));

describe.skipIf(!CHROMIUM)(
	`headless Chromium${CHROMIUM ? "" : " (skipped: no chromium installed)"}`,
	() => {
		it("a page of another origin cannot open a WebSocket to the hub; a DNS-rebound name cannot read it; the hub's own origin can", async () => {
			const { chromium } = await import("playwright-core");
			const { port } = await hubWithLogs();
			// A hostile page on another local port (any site the user visits would do the same).
			const site = createHttpServer((_req, res) => {
				res.writeHead(200, { "content-type": "text/html" });
				res.end("<!doctype html><title>evil</title>");
			});
			await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
			cleanups.push(() => new Promise<void>((r) => site.close(() => r())));
			const sitePort = (site.address() as { port: number }).port;
			const browser = await chromium.launch({
				executablePath: CHROMIUM,
				args: [
					"--no-sandbox",
					`--host-resolver-rules=MAP attacker.example 127.0.0.1`,
				],
			});
			cleanups.push(() => browser.close());
			const page = await browser.newPage();
			// A string, not a function: vitest rewrites the name WebSocket in this file to the ws import.
			const tryWebSocket = (target: string): Promise<string> =>
				page.evaluate(`new Promise((resolve) => {
				const ws = new WebSocket(${JSON.stringify(target)});
				ws.onopen = () => ws.send(JSON.stringify({ type: "hello", id: "h", session: "FromPage" }));
				ws.onmessage = (ev) => { resolve("message " + String(ev.data).slice(0, 40)); ws.close(); };
				ws.onclose = (ev) => resolve("closed " + ev.code);
			})`);

			await page.goto(`http://127.0.0.1:${sitePort}/`);
			expect(await tryWebSocket(`ws://127.0.0.1:${port}/`)).toBe("closed 1006");
			expect(await tryWebSocket(`ws://localhost:${port}/`)).toBe("closed 1006");

			// DNS rebinding: the attacker's name now resolves to 127.0.0.1, so the page is "same-origin" with the hub.
			const rebound = await page.goto(
				`http://attacker.example:${port}/healthz`,
			);
			expect(rebound?.status()).toBe(403);
			expect(await tryWebSocket(`ws://attacker.example:${port}/`)).toBe(
				"closed 1006",
			);

			// The hub's own origin (where its dashboard will live) is let in.
			await page.goto(`http://127.0.0.1:${port}/healthz`);
			expect(await tryWebSocket(`ws://127.0.0.1:${port}/`)).toMatch(
				/^message \{"type":"result"/,
			);
		});
	},
);
