/**
 * The sessions registry (sessions/registry.ts) and the `register` / `sessions` commands: defaults, the
 * bridge's connect/exit calls, corrupt files, dead pids, pruning, the lock, and 20 real writers at once.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
	existsSync,
	mkdirSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	rmSync,
	statSync,
	symlinkSync,
	utimesSync,
	writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
	afterEach,
	beforeAll,
	beforeEach,
	describe,
	expect,
	it,
	vi,
} from "vitest";
import { paths } from "../server/paths.js";
import {
	isProcessAlive,
	listSessions,
	markOffline,
	RegistryError,
	readRegistry,
	removeSession,
	type SessionEntry,
	upsertSession,
} from "../sessions/registry.js";
import { mergeSessions, renderSessionsTable } from "../sessions/sessions.js";
import { testEnv } from "./fixtures/env.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist", "cli.js");
const DAY = 24 * 60 * 60 * 1000;

beforeAll(() => {
	if (!existsSync(CLI))
		throw new Error(
			`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`,
		);
});

let dir: string;
let file: string;

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), "relay-registry-"));
	file = paths.registry(dir);
});

afterEach(() => {
	vi.restoreAllMocks();
	rmSync(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
	const child: ChildProcess = spawn(process.execPath, ["-e", ""], {
		stdio: "ignore",
	});
	const pid = child.pid;
	if (pid === undefined) throw new Error("spawn failed");
	await new Promise((resolve) => child.once("exit", resolve));
	return pid;
}

function entry(fields: Partial<SessionEntry> & { id: string }): SessionEntry {
	const now = new Date().toISOString();
	return {
		pid: process.pid,
		cwd: "/w",
		host: hostname(),
		started: now,
		lastSeen: now,
		status: "online",
		...fields,
	};
}

function writeRegistry(entries: SessionEntry[]): void {
	mkdirSync(dirname(file), { recursive: true });
	writeFileSync(
		file,
		JSON.stringify(Object.fromEntries(entries.map((e) => [e.id, e]))),
	);
}

function captureStderr(): string[] {
	const lines: string[] = [];
	vi.spyOn(process.stderr, "write").mockImplementation(
		(chunk: string | Uint8Array) => {
			lines.push(String(chunk));
			return true;
		},
	);
	return lines;
}

function cli(args: string[], home = dir) {
	return spawnSync(process.execPath, [CLI, ...args], {
		env: testEnv({ RELAY_HOME: home }),
		encoding: "utf8",
	});
}

describe("registry API", () => {
	it("upsertSession fills in this process's pid, cwd and host, and readRegistry returns the entry", async () => {
		const stored = await upsertSession(
			{ id: "CC-1", hubUrl: "ws://localhost:9999" },
			file,
		);
		expect(stored).toMatchObject({
			id: "CC-1",
			pid: process.pid,
			cwd: process.cwd(),
			host: hostname(),
			status: "online",
			hubUrl: "ws://localhost:9999",
		});
		expect(Number.isNaN(Date.parse(stored.started))).toBe(false);
		expect((await readRegistry(file))["CC-1"]).toEqual(stored);
		// Only the owner may read it: it records where people work.
		expect(statSync(file).mode & 0o777).toBe(0o600);
	});

	it("keeps the registered owner when the bridge connects and marks it offline on exit", async () => {
		// claude-session CC-1 in a shell (here: this live process) ...
		const registered = await upsertSession(
			{ id: "CC-1", pid: process.pid, cwd: "/proj", status: "offline" },
			file,
		);
		// ... then the bridge connects without naming a pid ...
		const connected = await upsertSession(
			{ id: "CC-1", hubUrl: "ws://h:1", claudeSessionId: "abc" },
			file,
		);
		expect(connected).toMatchObject({
			pid: process.pid,
			cwd: "/proj",
			status: "online",
			hubUrl: "ws://h:1",
		});
		expect(connected.started).toBe(registered.started);
		// ... and exits.
		const offline = await markOffline("CC-1", file);
		expect(offline).toMatchObject({
			status: "offline",
			hubUrl: "ws://h:1",
			claudeSessionId: "abc",
		});
		expect((await readRegistry(file))["CC-1"]?.status).toBe("offline");
	});

	it("replaces an owner that has died instead of keeping its pid", async () => {
		const gone = await deadPid();
		await upsertSession(
			{ id: "CC-1", pid: gone, cwd: "/old", hubUrl: "ws://old" },
			file,
		);
		const next = await upsertSession({ id: "CC-1" }, file);
		expect(next.pid).toBe(process.pid);
		expect(next.cwd).toBe(process.cwd());
		expect(next.hubUrl).toBeUndefined();
	});

	it("markOffline and removeSession report unknown IDs without creating entries", async () => {
		expect(await markOffline("NOPE", file)).toBeUndefined();
		await upsertSession({ id: "A1" }, file);
		expect(await removeSession("A1", file)).toBe(true);
		expect(await removeSession("A1", file)).toBe(false);
		expect(await readRegistry(file)).toEqual({});
	});

	it("refuses invalid IDs with checkName's reason and writes nothing", async () => {
		for (const bad of [
			"",
			"bad id",
			"../etc",
			"all",
			"-x",
			"9lives",
			"a".repeat(65),
		]) {
			await expect(upsertSession({ id: bad }, file)).rejects.toBeInstanceOf(
				RegistryError,
			);
		}
		await expect(upsertSession({ id: "bad id" }, file)).rejects.toThrow(
			/must start with a letter/,
		);
		await expect(markOffline("x/y", file)).rejects.toThrow(/path separator/);
		expect(existsSync(file)).toBe(false);
	});

	it("moves a half-written file aside, warns, starts empty, and accepts writes again", async () => {
		const garbage = '{"CC-1": {"id": "CC-1", "pid": 12';
		mkdirSync(dirname(file), { recursive: true });
		writeFileSync(file, garbage);
		const stderr = captureStderr();

		expect(await readRegistry(file)).toEqual({});

		const backups = readdirSync(dirname(file)).filter((f) =>
			f.startsWith("registry.json.corrupt-"),
		);
		expect(backups).toHaveLength(1);
		expect(readFileSync(join(dirname(file), backups[0] ?? ""), "utf8")).toBe(
			garbage,
		);
		expect(stderr.join("")).toMatch(
			/warning: .*registry\.json is not valid JSON.*moved it to .*corrupt-/,
		);
		expect(existsSync(file)).toBe(false);

		await upsertSession({ id: "CC-2" }, file);
		expect(Object.keys(await readRegistry(file))).toEqual(["CC-2"]);
		expect(JSON.parse(readFileSync(file, "utf8"))["CC-2"].id).toBe("CC-2");
	});

	it("treats valid JSON of the wrong shape as corrupt too", async () => {
		const stderr = captureStderr();
		const shapes = [
			"[]",
			JSON.stringify({ "CC-1": { id: "CC-1", pid: "twelve" } }),
			JSON.stringify({ A: entry({ id: "B" }) }),
			JSON.stringify({ "bad id": entry({ id: "bad id" }) }),
			JSON.stringify({ A: { ...entry({ id: "A" }), status: "sleeping" } }),
		];
		for (const text of shapes) {
			mkdirSync(dirname(file), { recursive: true });
			writeFileSync(file, text);
			expect(await readRegistry(file)).toEqual({});
			expect(existsSync(file)).toBe(false);
		}
		const backups = readdirSync(dirname(file)).filter((f) =>
			f.startsWith("registry.json.corrupt-"),
		);
		expect(backups).toHaveLength(shapes.length);
		expect(stderr.join("")).toMatch(/not a registry/);
	});

	it("a corrupt file met by a writer is moved aside and the write still lands", async () => {
		mkdirSync(dirname(file), { recursive: true });
		writeFileSync(file, "\u0000\u0000\u0000");
		captureStderr();
		await upsertSession({ id: "CC-3" }, file);
		expect(Object.keys(await readRegistry(file))).toEqual(["CC-3"]);
		expect(
			readdirSync(dirname(file)).some((f) =>
				f.startsWith("registry.json.corrupt-"),
			),
		).toBe(true);
	});

	it("shows an entry whose process is dead as ended, never online", async () => {
		const gone = await deadPid();
		writeRegistry([
			entry({ id: "DEAD", pid: gone, status: "online" }),
			entry({ id: "LIVE", pid: process.pid, status: "online" }),
			// pid 0 would mean "my process group" to kill(): never alive.
			entry({ id: "ZERO", pid: 0, status: "online" }),
		]);
		const shown = Object.fromEntries(
			(await listSessions({ file })).map((s) => [s.id, s.status]),
		);
		expect(shown).toEqual({ DEAD: "ended", LIVE: "online", ZERO: "ended" });
		// What the owner wrote stays as written: the correction is a view.
		expect((await readRegistry(file)).DEAD?.status).toBe("online");
	});

	it("counts EPERM as alive and ESRCH as dead", () => {
		const kill = vi.spyOn(process, "kill");
		kill.mockImplementationOnce(() => {
			throw Object.assign(new Error("operation not permitted"), {
				code: "EPERM",
			});
		});
		expect(isProcessAlive(4242)).toBe(true);
		kill.mockImplementationOnce(() => {
			throw Object.assign(new Error("no such process"), { code: "ESRCH" });
		});
		expect(isProcessAlive(4242)).toBe(false);
	});

	it("does not judge the pids of other hosts", async () => {
		const gone = await deadPid();
		writeRegistry([
			entry({
				id: "FAR",
				pid: gone,
				host: `not-${hostname()}`,
				status: "online",
			}),
		]);
		expect((await listSessions({ file }))[0]?.status).toBe("online");
	});

	it("prune removes only ended entries last seen more than 24 hours ago", async () => {
		const gone = await deadPid();
		const old = new Date(Date.now() - 2 * DAY).toISOString();
		writeRegistry([
			entry({ id: "OLD-DEAD", pid: gone, lastSeen: old, started: old }),
			entry({ id: "NEW-DEAD", pid: gone }),
			entry({
				id: "OLD-LIVE",
				pid: process.pid,
				lastSeen: old,
				started: old,
				status: "offline",
			}),
		]);
		expect((await listSessions({ file })).map((s) => s.id)).toEqual([
			"NEW-DEAD",
			"OLD-DEAD",
			"OLD-LIVE",
		]);
		expect(
			(await listSessions({ file, prune: true })).map((s) => s.id),
		).toEqual(["NEW-DEAD", "OLD-LIVE"]);
		expect(Object.keys(await readRegistry(file)).sort()).toEqual([
			"NEW-DEAD",
			"OLD-LIVE",
		]);
	});

	it("takes over a stale lock left by a writer that died", async () => {
		const lock = `${file}.lock`;
		mkdirSync(lock, { recursive: true });
		const minuteAgo = new Date(Date.now() - 60_000);
		utimesSync(lock, minuteAgo, minuteAgo);
		await upsertSession({ id: "CC-1" }, file);
		expect(Object.keys(await readRegistry(file))).toEqual(["CC-1"]);
		expect(existsSync(lock)).toBe(false);
	});

	it("removes a stray plain file where the lock directory belongs, says so, and writes", async () => {
		const lock = `${file}.lock`;
		const stderr = captureStderr();
		mkdirSync(dirname(file), { recursive: true });
		for (const age of [60_000, 0]) {
			writeFileSync(lock, "left by something else\n");
			const then = new Date(Date.now() - age);
			utimesSync(lock, then, then);
			await upsertSession({ id: `CC-${age}` }, file);
			expect(existsSync(lock)).toBe(false);
		}
		expect(Object.keys(await readRegistry(file)).sort()).toEqual(["CC-0", "CC-60000"]);
		expect(stderr.join("")).toContain(`removed ${lock}: a stray file where claude-relay makes its lock directory`);
	});

	it("refuses a registry file that is a symbolic link, reading or writing, and leaves its target alone", async () => {
		mkdirSync(dirname(file), { recursive: true });
		const target = join(dir, "precious.conf");
		writeFileSync(target, "do not touch\n", { mode: 0o644 });
		symlinkSync(target, file);
		const refusal = /the sessions registry .*registry\.json is a symbolic link, which claude-relay does not follow.*rm .*registry\.json/;
		await expect(upsertSession({ id: "CC-1" }, file)).rejects.toThrow(refusal);
		await expect(upsertSession({ id: "CC-1" }, file)).rejects.toBeInstanceOf(RegistryError);
		await expect(readRegistry(file)).rejects.toThrow(refusal);
		await expect(markOffline("CC-1", file)).rejects.toThrow(refusal);
		expect(readFileSync(target, "utf8")).toBe("do not touch\n");
		expect(statSync(target).mode & 0o777).toBe(0o644);
		expect(readdirSync(dirname(file)).sort()).toEqual(["registry.json"]);

		// The command says the same, on one line, exit 1.
		const r = cli(["register", "CC-2", "--pid", String(process.pid)]);
		expect(r.status).toBe(1);
		expect(r.stderr.trim().split("\n")).toHaveLength(1);
		expect(r.stderr).toMatch(refusal);
		expect(readFileSync(target, "utf8")).toBe("do not touch\n");
	});
});

describe("sessions view", () => {
	const e = (id: string, status: SessionEntry["status"]) =>
		entry({ id, status, cwd: `/w/${id}` });

	it("merges the hub's answer: online wins, a stale online becomes offline, hub-only sessions appear", () => {
		const rows = mergeSessions(
			[e("A", "online"), e("B", "offline"), e("C", "ended"), e("D", "online")],
			[
				{ session: "B", online: true },
				{ session: "D", online: false },
				{ session: "E", online: true },
			],
		);
		expect(rows.map((r) => [r.id, r.status, r.source])).toEqual([
			["A", "offline", "registry"],
			["B", "online", "hub"],
			["C", "ended", "registry"],
			["D", "offline", "hub"],
			["E", "online", "hub"],
		]);
	});

	it("without the hub's answer shows the registry as it is", () => {
		expect(
			mergeSessions([e("A", "online"), e("C", "ended")]).map((r) => r.status),
		).toEqual(["online", "ended"]);
	});

	it("renders a table with ID, status, harness, host, cwd and start time", () => {
		const table = renderSessionsTable([
			e("CC-1", "online"),
			e("CODEX", "ended"),
		]);
		const lines = table.trimEnd().split("\n");
		expect(lines[0]).toMatch(/^ID\s+STATUS\s+HARNESS\s+HOST\s+CWD\s+STARTED$/);
		expect(lines[1]).toMatch(
			new RegExp(
				`^CC-1\\s+online\\s+-\\s+${hostname()}\\s+/w/CC-1\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d$`,
			),
		);
		expect(lines[2]).toMatch(/^CODEX\s+ended\s+/);
		expect(renderSessionsTable([])).toMatch(/No sessions registered/);
	});
});

describe("register and sessions commands", () => {
	it("register records the ID with the given pid and cwd; sessions lists it", () => {
		const r = cli([
			"register",
			"CC-1",
			"--pid",
			String(process.pid),
			"--cwd",
			"/some where",
		]);
		expect(r.stderr).toBe("");
		expect(r.status).toBe(0);
		const reg = JSON.parse(readFileSync(file, "utf8"));
		expect(reg["CC-1"]).toMatchObject({
			id: "CC-1",
			pid: process.pid,
			cwd: "/some where",
			status: "offline",
		});

		const table = cli(["sessions"]);
		expect(table.status).toBe(0);
		expect(table.stdout).toMatch(/^CC-1\s+offline\s+-\s+\S+\s+\/some where\s+/m);
	});

	it("register refuses an invalid ID with its reason on one line and exit code 2", () => {
		for (const args of [
			["register", "bad id"],
			["register", "--", "--help"],
			["register", "all"],
		]) {
			const r = cli(args);
			expect(r.status).toBe(2);
			const lines = r.stderr.trimEnd().split("\n");
			expect(lines).toHaveLength(1);
			expect(lines[0]).toMatch(/^claude-relay register: session ID /);
		}
		expect(existsSync(file)).toBe(false);
	});

	it("sessions --json shows a dead owner as ended, and --prune forgets old ended entries", async () => {
		const gone = await deadPid();
		const old = new Date(Date.now() - 3 * DAY).toISOString();
		writeRegistry([
			entry({ id: "GONE", pid: gone, lastSeen: old }),
			entry({ id: "RECENT", pid: gone }),
		]);
		const listed = JSON.parse(cli(["sessions", "--json"]).stdout) as Array<{
			id: string;
			status: string;
		}>;
		expect(listed.map((s) => [s.id, s.status])).toEqual([
			["GONE", "ended"],
			["RECENT", "ended"],
		]);
		const pruned = JSON.parse(
			cli(["sessions", "--json", "--prune"]).stdout,
		) as Array<{ id: string }>;
		expect(pruned.map((s) => s.id)).toEqual(["RECENT"]);
		expect(Object.keys(JSON.parse(readFileSync(file, "utf8")))).toEqual([
			"RECENT",
		]);
	});

	it("20 processes registering at once all land in one valid file", async () => {
		const n = 20;
		const results = await Promise.all(
			Array.from(
				{ length: n },
				(_, i) =>
					new Promise<{ code: number | null; stderr: string }>((resolve) => {
						const child = spawn(
							process.execPath,
							[CLI, "register", `W${i}`, "--pid", String(process.pid)],
							{
								env: testEnv({ RELAY_HOME: dir }),
								stdio: ["ignore", "ignore", "pipe"],
							},
						);
						let stderr = "";
						child.stderr.setEncoding("utf8").on("data", (c: string) => {
							stderr += c;
						});
						child.on("close", (code) => resolve({ code, stderr }));
					}),
			),
		);
		for (const r of results) expect(r).toEqual({ code: 0, stderr: "" });

		const reg = JSON.parse(readFileSync(file, "utf8")) as Record<
			string,
			SessionEntry
		>;
		expect(Object.keys(reg).sort()).toEqual(
			Array.from({ length: n }, (_, i) => `W${i}`).sort(),
		);
		for (const [id, e] of Object.entries(reg))
			expect(e).toMatchObject({ id, pid: process.pid });
		// No lock, temp file or backup left behind.
		expect(readdirSync(dirname(file))).toEqual(["registry.json"]);
	}, 120_000);
});
