/**
 * `claude-relay sessions` and `claude-relay register`: the implementation behind sessions/sessions-command.ts.
 */
import { clientLabel } from "../mcp-client/harness/clients.js";
import { checkName } from "../server/protocol.js";
import { sanitizeLine, terminalSafeJson } from "../server/sanitize.js";
import {
	isProcessAlive,
	listSessions,
	readRegistry,
	type SessionEntry,
	type SessionStatus,
	upsertSession,
} from "./registry.js";

/** What the hub says about a session (a subset of protocol.ts SessionInfo). */
export interface HubSessionState {
	session: string;
	online: boolean;
	meta?: { host?: string; cwd?: string; client?: string };
	firstSeen?: number;
}

/** Sessions per GET /sessions page, and how many pages `claude-relay sessions` reads at most. */
const HUB_PAGE = 500;
const HUB_PAGES = 10;

/**
 * Asks the hub which sessions of a room it has and which are online (GET /sessions, which claims no ID),
 * following its pages (in ID order) up to `maxPages`; `more` says how many it has beyond those. Bounded: a
 * hub that is down or slow costs at most `timeoutMs` a page, and the caller falls back to the registry
 * alone. Returns the reason instead of throwing.
 */
export async function fetchHubSessions(
	url: string,
	opts: { room?: string; token?: string; timeoutMs?: number; pageSize?: number; maxPages?: number } = {},
): Promise<{ ok: true; sessions: HubSessionState[]; more: number } | { ok: false; reason: string }> {
	// Several hubs sharing one store answer the same: ask them in turn until one does.
	const urls = url.split(",").map((u) => u.trim()).filter(Boolean);
	let answer: Awaited<ReturnType<typeof fetchOneHub>> = { ok: false, reason: `invalid hub URL ${JSON.stringify(url)}` };
	for (const u of urls) {
		answer = await fetchOneHub(u, opts);
		if (answer.ok || answer.reason.includes("token")) return answer;
	}
	return urls.length > 1 && !answer.ok ? { ok: false, reason: `no hub answered (${urls.join(", ")}): ${answer.reason}` } : answer;
}

async function fetchOneHub(
	url: string,
	opts: { room?: string; token?: string; timeoutMs?: number; pageSize?: number; maxPages?: number } = {},
): Promise<{ ok: true; sessions: HubSessionState[]; more: number } | { ok: false; reason: string }> {
	let http: URL;
	try {
		http = new URL(url);
		http.protocol = http.protocol === "wss:" ? "https:" : "http:";
		http.pathname = "/sessions";
		http.search = "";
		if (opts.room) http.searchParams.set("room", opts.room);
		http.searchParams.set("limit", String(opts.pageSize ?? HUB_PAGE));
	} catch {
		return { ok: false, reason: `invalid hub URL ${JSON.stringify(url)}` };
	}
	const sessions: HubSessionState[] = [];
	try {
		for (let page = 0; page < (opts.maxPages ?? HUB_PAGES); page++) {
			const res = await fetch(http, {
				headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
				signal: AbortSignal.timeout(opts.timeoutMs ?? 1500),
			});
			if (res.status === 401) return { ok: false, reason: "the hub refused the token (RELAY_TOKEN)" };
			if (!res.ok) return { ok: false, reason: `the hub answered HTTP ${res.status}` };
			const body = (await res.json()) as { sessions?: HubSessionState[]; hasMore?: boolean; nextCursor?: string | null; total?: number };
			if (Array.isArray(body.sessions)) sessions.push(...body.sessions);
			// A hub from before paging answers everything at once, without hasMore.
			if (!body.hasMore || typeof body.nextCursor !== "string") return { ok: true, sessions, more: 0 };
			http.searchParams.set("cursor", body.nextCursor);
			if (page === (opts.maxPages ?? HUB_PAGES) - 1) {
				return { ok: true, sessions, more: Math.max(1, (body.total ?? 0) - sessions.length) };
			}
		}
		return { ok: true, sessions, more: 0 };
	} catch {
		return { ok: false, reason: `the hub is not reachable at ${url}` };
	}
}

/**
 * One row of the sessions view: the registry entry (its status merged with the hub's answer), or for a
 * session only the hub knows, just its ID and status.
 */
export type SessionRow = Partial<Omit<SessionEntry, "id" | "status">> & {
	id: string;
	status: SessionStatus;
	/** Where the status comes from: the local registry, or the hub's answer. */
	source: "registry" | "hub";
	/** The harness it runs in (claude-code, codex, gemini, other; bridge: older), from the hub's answer. */
	client?: string;
};

/**
 * Merges the registry view (statuses already corrected for dead pids, as `listSessions` returns them) with
 * the hub's answer when there is one. The hub knows whether a connection is open right now, so it wins on
 * "online"; the registry knows whether the owning process still exists, so it keeps "ended". A registry
 * "online" the hub does not see online is shown "offline" (its bridge went away without saying so).
 * Sessions only the hub knows are added.
 */
export function mergeSessions(
	entries: SessionEntry[],
	hubSessions?: HubSessionState[],
): SessionRow[] {
	const hub = new Map((hubSessions ?? []).map((s) => [s.session, s.online]));
	const clients = new Map((hubSessions ?? []).flatMap((s) => {
		const label = clientLabel(typeof s.meta?.client === "string" ? s.meta.client : undefined);
		return label ? [[s.session, label] as const] : [];
	}));
	const rows: SessionRow[] = entries.map((e) => {
		let status = e.status;
		if (hubSessions) {
			if (hub.get(e.id) === true) status = "online";
			else if (status === "online") status = "offline";
		}
		const client = clients.get(e.id);
		return { ...e, status, source: hub.has(e.id) ? "hub" : "registry", ...(client ? { client } : {}) };
	});
	const known = new Set(entries.map((e) => e.id));
	for (const s of hubSessions ?? [])
		if (!known.has(s.session))
			rows.push({
				id: s.session,
				status: s.online ? "online" : "offline",
				source: "hub",
				...(clients.has(s.session) ? { client: clients.get(s.session) } : {}),
				...(s.meta?.host ? { host: s.meta.host } : {}),
				...(s.meta?.cwd ? { cwd: s.meta.cwd } : {}),
				...(s.firstSeen ? { started: new Date(s.firstSeen).toISOString() } : {}),
			});
	return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function formatStarted(iso: string | undefined): string {
	if (!iso) return "-";
	const d = new Date(iso);
	if (Number.isNaN(d.getTime())) return iso;
	const p = (n: number) => String(n).padStart(2, "0");
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The table `claude-relay sessions` prints: ID, STATUS, HARNESS, HOST, CWD, STARTED (local time). */
export function renderSessionsTable(
	entries: SessionEntry[],
	hubSessions?: HubSessionState[],
): string {
	const rows = mergeSessions(entries, hubSessions);
	if (rows.length === 0)
		return "No sessions registered. Register one with: claude-session <ID>\n";
	const header = ["ID", "STATUS", "HARNESS", "HOST", "CWD", "STARTED"];
	// Hosts and directories come from the hub (any peer's hello) and the registry file: never raw.
	const cells = rows.map((r) => [
		sanitizeLine(r.id),
		r.status,
		sanitizeLine(r.client || "-"),
		sanitizeLine(r.host || "-"),
		sanitizeLine(r.cwd || "-"),
		sanitizeLine(formatStarted(r.started)),
	]);
	const widths = header.map((h, i) =>
		Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)),
	);
	const line = (c: string[]) =>
		c
			.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
			.join("  ")
			.trimEnd();
	return `${[line(header), ...cells.map(line)].join("\n")}\n`;
}

export interface SessionsOptions {
	json: boolean;
	prune: boolean;
	/** Ask this hub who is online (GET /sessions); without it, the registry alone. */
	url?: string;
	room?: string;
	token?: string;
	/** The hub's answer, when the caller already has it (tests). */
	hubSessions?: HubSessionState[];
}

export async function runSessions(opts: SessionsOptions): Promise<void> {
	const entries = await listSessions({ prune: opts.prune });
	if (!opts.hubSessions && opts.url) {
		const answer = await fetchHubSessions(opts.url, { room: opts.room, token: opts.token });
		if (answer.ok) {
			opts.hubSessions = answer.sessions;
			if (answer.more > 0)
				process.stderr.write(
					`note: the hub has ${answer.more} more sessions in room ${opts.room ?? "default"} than the ${answer.sessions.length} shown (claude-relay sessions forget ID forgets one)\n`,
				);
		} else process.stderr.write(`note: ${sanitizeLine(answer.reason)}; showing the local registry only\n`);
	}
	if (opts.json)
		process.stdout.write(
			`${terminalSafeJson(JSON.stringify(mergeSessions(entries, opts.hubSessions), null, 2))}\n`,
		);
	else process.stdout.write(renderSessionsTable(entries, opts.hubSessions));
}

export interface RegisterOptions {
	id: string;
	pid?: number;
	cwd?: string;
	/** The harness the terminal will run (`claude-session --harness`): checked to have the bridge registered. */
	harness?: "claude" | "codex" | "gemini" | undefined;
}

/** Exit codes of `register`: 2 for an invalid ID (the shell function relies on a non-zero code). */
export const EXIT_INVALID_ID = 2;

/** Validates and records the ID. Returns the exit code; prints the reason on stderr when refused. */
export async function runRegister(opts: RegisterOptions): Promise<number> {
	const check = checkName(opts.id);
	if (!check.ok) {
		process.stderr.write(`claude-relay register: ${check.reason}\n`);
		return EXIT_INVALID_ID;
	}
	const previous = (await readRegistry())[opts.id];
	const entry = await upsertSession({
		id: opts.id,
		pid: opts.pid ?? process.ppid,
		cwd: opts.cwd ?? process.cwd(),
		status: "offline",
	});
	if (
		previous &&
		previous.pid !== entry.pid &&
		previous.host === entry.host &&
		isProcessAlive(previous.pid)
	)
		process.stderr.write(
			`claude-relay register: note: ${opts.id} was registered to pid ${previous.pid} (still running, in ${previous.cwd}); it now belongs to pid ${entry.pid}\n`,
		);
	process.stdout.write(
		`Registered ${entry.id} (pid ${entry.pid}, ${entry.cwd})\n`,
	);
	if (opts.harness && opts.harness !== "claude") {
		// Codex and Gemini keep the bridge in one config file: a quick, local check (Claude Code's needs `claude`).
		const { HARNESSES } = await import("../mcp-client/harness/index.js");
		const harness = HARNESSES[opts.harness];
		if (harness.installed?.(process.env) === false)
			process.stderr.write(`claude-relay register: note: ${harness.title} has no relay server yet: run \`claude-relay install --for ${harness.name}\` once\n`);
	}
	return 0;
}
