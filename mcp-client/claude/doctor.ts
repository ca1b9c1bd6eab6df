/**
 * `claude-relay doctor`: checks the whole chain on this machine, one line each, ✓ (fine), ✗ (broken, with
 * the fix) or ! (worth knowing, not an error):
 *
 *   Node version · hub reachable (GET /healthz) · token accepted · session ID (and where it came from) ·
 *   stored secret / the hooks' observer path · sessions registry readable · bridge registered with Claude
 *   Code (`claude mcp get relay` says Connected) · hooks in settings.json (or the plugin) · Claude Code
 *   version (channels)
 *
 * Exit code 0 when every essential check passes (node, hub, token, registry, bridge, hooks), else 1. The
 * session ID is not essential: doctor may run in a terminal that has not run `claude-session`.
 */
import { existsSync } from "node:fs";
import WebSocket from "ws";
import { paths, relayHome } from "../../server/paths.js";
import { checkName, type PeerInfo } from "../../server/protocol.js";
import type { HubClient } from "../hub-client.js";
import { sanitizeLine } from "../../server/sanitize.js";
import { resolveIdentity } from "../identity.js";
import { parseHubUrls } from "../hub-urls.js";
import { DEFAULT_RELAY_URL, DEFAULT_ROOM, loadToken } from "../options.js";
import { FileSecretStore } from "../secrets.js";
import { observerClient, readSmallFile } from "./hook-common.js";
import { OLD_PLUGIN_NAMES, PLUGIN_NAME } from "./constants.js";
import { cliLocation, SERVER_NAME } from "./install.js";
import type { Harness } from "../harness/harness.js";
import { runProgram } from "./run.js";
import { claudePaths, findRelayHooks, parseSettings } from "./settings.js";

export type Status = "ok" | "fail" | "warn";

export interface Check {
	status: Status;
	text: string;
	fix?: string;
	essential: boolean;
}

export interface DoctorOptions {
	url?: string;
	room?: string;
	id?: string;
	env?: NodeJS.ProcessEnv;
	print?: (line: string) => void;
	/** The harness whose registration is checked (--for; harness/index.ts): Claude Code when absent. */
	harness?: Pick<Harness, "name" | "title" | "registeredEnv" | "doctor">;
}

/** Claude Code's part of doctor (harness/claude.ts): the bridge registration, the hooks, the version. */
export const claudeDoctor: Pick<Harness, "name" | "title" | "registeredEnv" | "doctor"> = {
	name: "claude",
	title: "Claude Code",
	registeredEnv: (env) => registeredEnv(env),
	doctor: async (env) => [...(await claudeChecks(env)), hooksCheck(env)],
};

export const MIN_NODE = "20.17.0";
export const MIN_CLAUDE_FOR_CHANNELS = "2.1.80";

export function compareVersions(a: string, b: string): number {
	const pa = a.split(".").map((x) => Number.parseInt(x, 10) || 0);
	const pb = b.split(".").map((x) => Number.parseInt(x, 10) || 0);
	for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
		const d = (pa[i] ?? 0) - (pb[i] ?? 0);
		if (d !== 0) return Math.sign(d);
	}
	return 0;
}

const SYMBOL: Record<Status, string> = { ok: "✓", fail: "✗", warn: "!" };

/** One check, terminal-safe: texts quote the hub, settings files and other programs' output. */
export function renderCheck(c: Check): string {
	const text = sanitizeLine(c.text);
	return c.fix ? `${SYMBOL[c.status]} ${text}\n    fix: ${sanitizeLine(c.fix)}` : `${SYMBOL[c.status]} ${text}`;
}

function nodeCheck(): Check {
	const v = process.versions.node;
	return compareVersions(v, MIN_NODE) >= 0
		? { status: "ok", essential: true, text: `Node.js ${v} (needs ${MIN_NODE} or newer)` }
		: { status: "fail", essential: true, text: `Node.js ${v} is too old (needs ${MIN_NODE} or newer)`, fix: "install Node.js 20.17+ (e.g. `nvm install 20`)" };
}

/** The user-scope `relay` registration's environment, from Claude Code's global config (for its RELAY_URL). */
function registeredEnv(env: NodeJS.ProcessEnv): Record<string, string> {
	const text = readSmallFile(claudePaths(env).globalConfig, 64 * 1024 * 1024);
	if (!text) return {};
	try {
		const server = (JSON.parse(text) as { mcpServers?: Record<string, { env?: Record<string, string> }> }).mcpServers?.[SERVER_NAME];
		return server?.env && typeof server.env === "object" ? server.env : {};
	} catch {
		return {};
	}
}

async function healthCheck(url: string): Promise<{ check: Check; up: boolean }> {
	const http = url.replace(/^ws/i, "http");
	let target: string;
	try {
		const u = new URL(http);
		target = `${u.protocol}//${u.host}/healthz`;
	} catch {
		return { up: false, check: { status: "fail", essential: true, text: `Hub URL ${url} is not a valid URL`, fix: "set RELAY_URL (or --url) to ws://HOST:PORT" } };
	}
	try {
		const res = await fetch(target, { signal: AbortSignal.timeout(3_000) });
		const body = (await res.json().catch(() => ({}))) as { ok?: boolean; version?: string };
		if (res.ok && body.ok !== false) {
			return { up: true, check: { status: "ok", essential: true, text: `Hub reachable at ${url}${body.version ? ` (claude-relay ${body.version})` : ""}` } };
		}
		return { up: false, check: { status: "fail", essential: true, text: `Hub at ${url} answered ${res.status} on /healthz`, fix: "look at the hub's log; restart it (`claude-relay hub`)" } };
	} catch (err) {
		const reason = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
		return {
			up: false,
			check: {
				status: "fail",
				essential: true,
				text: `Hub not reachable at ${url} (${reason})`,
				fix: "start it with `claude-relay hub` (or `claude-relay launchd install`); if it runs on another machine, bring the tunnel up (`claude-relay tunnel user@host`); or point RELAY_URL/--url at it",
			},
		};
	}
}

/** Opens a socket (token at the upgrade) and sends a ping before hello: E_NOT_REGISTERED means the token passed. */
function tokenProbe(url: string, token: string | undefined): Promise<"accepted" | "refused" | "error"> {
	return new Promise((resolve) => {
		const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
		const ws = new WebSocket(url, { headers, handshakeTimeout: 3_000 });
		let settled = false;
		const done = (r: "accepted" | "refused" | "error") => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			ws.terminate();
			resolve(r);
		};
		const timer = setTimeout(() => done("error"), 4_000);
		ws.on("open", () => ws.send(JSON.stringify({ type: "ping", id: "doctor" })));
		ws.on("message", (data) => {
			try {
				const f = JSON.parse(String(data)) as { type?: string; code?: string };
				if (f.type === "error" && f.code === "E_AUTH") return done("refused");
				if (f.type === "error" || f.type === "result") return done("accepted");
			} catch {
				// ignore
			}
		});
		ws.on("unexpected-response", (_req, res) => done(res.statusCode === 401 ? "refused" : "error"));
		ws.on("close", (code) => done(code === 4001 ? "refused" : "error"));
		ws.on("error", () => done("error"));
	});
}

type BridgeState = "connected" | "pending" | "failed";

/** What `claude mcp get NAME` says about a server's health. */
function bridgeState(text: string): BridgeState {
	if (/connected/i.test(text) && !/failed|not connected|disconnected/i.test(text)) return "connected";
	if (/pending approval/i.test(text)) return "pending";
	return "failed";
}

/**
 * The name under which Claude Code lists an installed claude-relay plugin's bridge (`plugin:<plugin>:relay`),
 * from the "Configured servers:" list that `claude mcp get relay` prints when nothing is named plain `relay`.
 */
export function pluginServerIn(text: string): string | undefined {
	// Plugin names are lowercase letters, digits and hyphens: nothing to escape in a regex.
	const names = [PLUGIN_NAME, ...OLD_PLUGIN_NAMES].join("|");
	return new RegExp(`plugin:(?:${names}):${SERVER_NAME}\\b`).exec(text)?.[0];
}

/** The claude-relay plugin entry enabled in settings.json (`session-relay@<marketplace>`), if any. */
function enabledPlugin(env: NodeJS.ProcessEnv): string | undefined {
	let settings: ReturnType<typeof parseSettings>;
	try {
		settings = parseSettings(readSmallFile(claudePaths(env).settings, 16 * 1024 * 1024), claudePaths(env).settings);
	} catch {
		return undefined;
	}
	const plugins = settings.enabledPlugins;
	if (!plugins || typeof plugins !== "object" || Array.isArray(plugins)) return undefined;
	return Object.entries(plugins).find(([k, v]) => v === true && [PLUGIN_NAME, ...OLD_PLUGIN_NAMES].some((n) => k.startsWith(`${n}@`)))?.[0];
}

async function claudeChecks(env: NodeJS.ProcessEnv): Promise<Check[]> {
	const out: Check[] = [];
	const get = await runProgram("claude", ["mcp", "get", SERVER_NAME], { env, timeoutMs: 45_000 });
	const text = `${get.stdout}\n${get.stderr}`;
	if (get.notFound) {
		out.push({
			status: "fail",
			essential: true,
			text: "Claude Code's `claude` command is not on PATH",
			fix: "install Claude Code, then `claude-relay install`",
		});
		return out;
	}
	if (get.timedOut) {
		out.push({ status: "fail", essential: true, text: "`claude mcp get relay` did not finish within 45 s", fix: "run it yourself to see where it hangs" });
	} else if (get.code !== 0 || /no mcp server/i.test(text)) {
		// Nothing named plain `relay`: a plugin's bridge is listed as plugin:<plugin>:relay instead.
		const plugin = pluginServerIn(text);
		const enabled = enabledPlugin(env);
		if (plugin) {
			const pg = await runProgram("claude", ["mcp", "get", plugin], { env, timeoutMs: 45_000 });
			const state = pg.timedOut ? "failed" : bridgeState(`${pg.stdout}\n${pg.stderr}`);
			out.push(
				state === "connected"
					? { status: "ok", essential: true, text: `Bridge provided by the ${plugin.split(":")[1]} plugin: \`claude mcp get ${plugin}\` says Connected` }
					: {
							status: "fail",
							essential: true,
							text: `Bridge provided by the ${plugin.split(":")[1]} plugin, but Claude Code cannot start it (\`claude mcp get ${plugin}\` does not say Connected)`,
							fix: "build dist/ in the plugin's folder (`npm install` there), then `claude plugin update`; `claude mcp get` shows the command it runs",
						},
			);
		} else if (enabled) {
			out.push({
				status: "fail",
				essential: true,
				text: `The ${enabled} plugin is enabled in settings.json, but Claude Code lists no bridge for it`,
				fix: "`claude plugin install` it again from the checkout (`claude plugin marketplace update`), or use `claude-relay install` instead",
			});
		} else {
			out.push({ status: "fail", essential: true, text: "Bridge not registered with Claude Code (`claude mcp get relay` finds nothing, and no claude-relay plugin is installed)", fix: "`claude-relay install` (or install the plugin)" });
		}
	} else if (bridgeState(text) === "connected") {
		out.push({ status: "ok", essential: true, text: "Bridge registered with Claude Code: `claude mcp get relay` says Connected" });
	} else if (bridgeState(text) === "pending") {
		out.push({
			status: "warn",
			essential: false,
			text: "Bridge registered in .mcp.json, pending approval",
			fix: "start `claude` in this project and approve the relay server",
		});
	} else {
		out.push({
			status: "fail",
			essential: true,
			text: "Bridge registered, but Claude Code cannot start it (`claude mcp get relay` does not say Connected)",
			fix: "run `claude mcp get relay` for the command it runs; make sure dist/cli.js exists (`npm run build`) and `claude-relay install` again to point it here",
		});
	}
	const version = await runProgram("claude", ["--version"], { env, timeoutMs: 15_000 });
	const v = /(\d+\.\d+\.\d+)/.exec(version.stdout)?.[1];
	if (v && compareVersions(v, MIN_CLAUDE_FOR_CHANNELS) >= 0) {
		out.push({
			status: "ok",
			essential: false,
			text: `Claude Code ${v}: channels available (push into a running session with \`claude --dangerously-load-development-channels server:relay\`)`,
		});
	} else if (v) {
		out.push({
			status: "warn",
			essential: false,
			text: `Claude Code ${v}: no channels before ${MIN_CLAUDE_FOR_CHANNELS}; messages arrive through the tools and the hooks only`,
			fix: "`claude update`",
		});
	}
	return out;
}

function hooksCheck(env: NodeJS.ProcessEnv): Check {
	const file = claudePaths(env).settings;
	const text = readSmallFile(file, 16 * 1024 * 1024);
	let settings: ReturnType<typeof parseSettings>;
	try {
		settings = parseSettings(text, file);
	} catch (err) {
		return { status: "fail", essential: true, text: (err as Error).message.replace(/ Nothing was changed\.$/, ""), fix: "fix the JSON by hand, then `claude-relay install`" };
	}
	const plugin = enabledPlugin(env);
	if (plugin) return { status: "ok", essential: true, text: `Hooks come from the ${plugin} plugin (enabled in settings.json)` };
	const found = findRelayHooks(settings);
	const missing = found.filter((f) => !f.command).map((f) => `${f.spec.event}/${f.spec.kind}`);
	if (missing.length > 0) {
		return {
			status: "fail",
			essential: true,
			text: `Hooks missing from ${file}: ${missing.join(", ")}${text === undefined ? " (no settings.json)" : ""}`,
			fix: "`claude-relay install` (or install the plugin)",
		};
	}
	let cli: string | undefined;
	try {
		cli = cliLocation().cli;
	} catch {
		cli = undefined;
	}
	const elsewhere = found.filter((f) => cli && !f.command?.includes(cli));
	if (elsewhere.length > 0) {
		return {
			status: "warn",
			essential: true,
			text: `Hooks in ${file} run another copy of claude-relay (${elsewhere[0]?.command})`,
			fix: "`claude-relay install` from the copy you use, to point them there",
		};
	}
	return { status: "ok", essential: true, text: `Hooks in ${file}: ${found.map((f) => `${f.spec.event}/${f.spec.kind}`).join(", ")}` };
}

export async function runDoctor(opts: DoctorOptions = {}): Promise<number> {
	const env = opts.env ?? process.env;
	const print = opts.print ?? ((l: string) => process.stdout.write(`${l}\n`));
	const home = relayHome(env);
	const checks: Check[] = [];
	const emit = (c: Check) => {
		checks.push(c);
		print(renderCheck(c));
	};
	const harness = opts.harness ?? claudeDoctor;
	print(`claude-relay doctor${harness.name === "claude" ? "" : ` --for ${harness.name} (${harness.title})`}`);
	emit(nodeCheck());

	const registered = harness.registeredEnv(env);
	const urlText = opts.url?.trim() || env.RELAY_URL?.trim() || registered.RELAY_URL || DEFAULT_RELAY_URL;
	const room = opts.room?.trim() || env.RELAY_ROOM?.trim() || registered.RELAY_ROOM || DEFAULT_ROOM;
	// Several hubs (sharing one Redis): each is checked; one that answers is enough, the others are warnings.
	const parsed = parseHubUrls(urlText, "RELAY_URL (or --url)");
	const urls = parsed.ok ? parsed.urls : [];
	if (!parsed.ok) emit({ status: "fail", essential: true, text: parsed.problem, fix: "set RELAY_URL (or --url) to ws://HOST:PORT (several hubs: comma-separated)" });
	const checked = await Promise.all(urls.map((u) => healthCheck(u)));
	const upUrls = urls.filter((_, i) => checked[i]?.up);
	for (const c of checked) emit(c.up || upUrls.length === 0 ? c.check : { ...c.check, status: "warn", essential: false, text: `${c.check.text}; the client uses the other hubs listed` });
	const health = { up: upUrls.length > 0 };
	const url = upUrls[0] ?? urls[0] ?? urlText;

	let token: string | undefined;
	let tokenOk = false;
	try {
		token = loadToken(env.RELAY_TOKEN_FILE?.trim() || undefined, env, home);
		tokenOk = true;
	} catch (err) {
		emit({ status: "fail", essential: true, text: (err as Error).message, fix: "fix RELAY_TOKEN_FILE, or unset it and set RELAY_TOKEN" });
	}
	if (tokenOk && health.up) {
		const probe = await tokenProbe(url, token);
		if (probe === "accepted") emit({ status: "ok", essential: true, text: token ? "Token accepted by the hub" : "No token needed (the hub has none)" });
		else if (probe === "refused") {
			emit({
				status: "fail",
				essential: true,
				text: token ? "The hub refused the token" : "The hub requires a token and none is set",
				fix: `put the hub's token in RELAY_TOKEN or ${paths.tokenFile(home)} (mode 600)`,
			});
		} else emit({ status: "fail", essential: true, text: "Could not complete a WebSocket handshake with the hub", fix: "check the URL (ws:// vs wss://) and the hub's log" });
	}

	// Session ID: the hooks' rule (the bridge's, minus its hostname-pid fallback).
	const forced = opts.id?.trim() || registered.CLAUDE_RELAY_SESSION_ID;
	const identity = forced ? { id: forced, source: opts.id ? "--id" : "the bridge registration (CLAUDE_RELAY_SESSION_ID in its env)", problem: checkName(forced).ok ? undefined : new Error(`invalid ID ${forced}`) } : resolveIdentity({ env });
	let session: string | undefined;
	if (identity.problem) {
		emit({ status: "fail", essential: false, text: identity.problem.message, fix: "`claude-session <ID>` with a valid ID (a letter, then letters, digits, _ or -)" });
	} else if (identity.source === "hostname-pid") {
		emit({
			status: "warn",
			essential: false,
			text: `No session ID in this shell (CLAUDE_RELAY_SESSION_ID, RELAY_CLIENT_ID): the bridge would use <hostname>-<pid>${harness.name === "claude" ? " and the hooks stay silent" : ""}`,
			fix: harness.name === "claude" ? "`claude-session CC-1` in the terminal, then start `claude` there" : `\`claude-session ID --harness ${harness.name}\` in the terminal, then start \`${harness.name}\` there`,
		});
	} else {
		session = identity.id;
		emit({ status: "ok", essential: false, text: `Session ID ${identity.id} (from ${identity.source}), room ${room}` });
	}

	if (session) {
		const refused: string[] = [];
		const store = new FileSecretStore(paths.secrets(home), {
			warn: (_fields, msg) => refused.push(msg),
			error: (_fields, msg) => refused.push(msg),
		});
		const secret = store.load(room, session);
		if (!secret && refused.some((m) => m.startsWith("refusing"))) {
			emit({
				status: "fail",
				essential: false,
				text: refused.find((m) => m.startsWith("refusing")) ?? "",
			});
		} else if (!secret) {
			emit({
				status: "warn",
				essential: false,
				text: `No stored secret for ${session} yet (${store.file(room, session)}): the first bridge with this ID claims it; until then the hooks stay silent`,
			});
		} else if (health.up) {
			const client = observerClient(
				{ home, url: urls.join(","), room, token, session, idSource: "", secrets: { load: (r, s) => store.load(r, s), save: () => {} }, claudeSessionId: undefined, input: {}, log: Object.assign(() => {}, { file: "" }) },
				{ requestTimeoutMs: 3_000 },
			);
			try {
				const hello = await client.waitReady(4_000);
				const holder = hello.peers.find((p) => p.session === session) ?? (hello.peersTotal !== undefined && hello.peersTotal > hello.peers.length ? await findPeer(client, session) : undefined);
				emit({
					status: "ok",
					essential: false,
					text: `Hooks can attach to ${session}: ${holder ? "its bridge is connected" : "no bridge connected right now"}, ${hello.pending} unread`,
				});
			} catch (err) {
				emit({ status: "fail", essential: false, text: `The hooks cannot attach to ${session}: ${(err as Error).message}`, fix: "if the ID was claimed with another RELAY_HOME or hub, use that one, or pick a new ID" });
			} finally {
				await client.close({ bye: false });
			}
		}
	}

	try {
		const { readRegistry } = await import("../../sessions/registry.js");
		const file = paths.registry(home);
		const reg = await readRegistry(file);
		const n = Object.keys(reg).length;
		emit({ status: "ok", essential: true, text: `Sessions registry readable (${file}${existsSync(file) ? `, ${n} ${n === 1 ? "entry" : "entries"}` : ", empty"})` });
	} catch (err) {
		emit({ status: "fail", essential: true, text: `Sessions registry unreadable: ${(err as Error).message}`, fix: `check the permissions of ${paths.registry(home)}` });
	}

	for (const c of await harness.doctor(env)) emit(c);

	const failed = checks.filter((c) => c.essential && c.status === "fail");
	print("");
	print(failed.length === 0 ? "All essential checks passed." : `${failed.length} essential check${failed.length === 1 ? "" : "s"} failed.`);
	return failed.length === 0 ? 0 : 1;
}

/** A peer in a room with more online than a hello lists: the `peers` pages, in ID order, up to it. */
async function findPeer(client: HubClient, session: string): Promise<PeerInfo | undefined> {
	let cursor: string | undefined;
	for (;;) {
		const page = await client.request("peers", { limit: 500, ...(cursor !== undefined ? { cursor } : {}) });
		const hit = page.peers.find((p) => p.session === session);
		if (hit) return hit;
		const last = page.peers.at(-1)?.session;
		if (!page.hasMore || last === undefined || last > session) return undefined;
		cursor = last;
	}
}
