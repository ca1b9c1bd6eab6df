/**
 * Runs the shared store suite against every backend, then the SQLite-only properties: persistence across
 * reopen, migration, WAL, group commit.
 */
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createStore, MemoryStore, SCHEMA_VERSION, SqliteStore, StorageError } from "../server/store/index.js";
import { newMessageId, seqOfMessageId } from "../server/store/ids.js";
import { DamagedDatabaseError } from "../server/store/integrity.js";
import { MIGRATIONS } from "../server/store/migrations.js";
import type { AppendInput } from "../server/store/store.js";
import { storeSuite } from "./store.suite.js";

function tempDir(): string {
	return mkdtempSync(join(tmpdir(), "relay-store-"));
}

storeSuite("memory", async () => ({ store: new MemoryStore(), cleanup: async () => {} }));

storeSuite("sqlite", async () => {
	const dir = tempDir();
	return {
		store: new SqliteStore({ file: join(dir, "relay.db") }),
		cleanup: async () => rmSync(dir, { recursive: true, force: true }),
	};
});

const dm = (i: number): AppendInput => ({
	room: "r",
	from: "alice",
	to: "bob",
	body: `message ${i}`,
	replyTo: null,
	key: null,
	recipients: ["bob"],
	sentAt: 1_000 + i,
});

describe("message ids", () => {
	it("are m-<seq>-<6 of [a-z0-9]>, carry their seq, and use every letter about equally", () => {
		const counts = new Map<string, number>();
		const ids = new Set<string>();
		const n = 20_000; // several refills of the random pool
		for (let i = 1; i <= n; i++) {
			const id = newMessageId(i);
			expect(id).toMatch(/^m-\d+-[a-z0-9]{6}$/);
			expect(seqOfMessageId(id)).toBe(i);
			ids.add(id);
			for (const c of id.slice(-6)) counts.set(c, (counts.get(c) ?? 0) + 1);
		}
		expect(ids.size).toBe(n);
		expect(counts.size).toBe(36);
		// 120,000 letters over 36: about 3,333 each. A modulo bias (256 % 36) would put a-d near 3,750.
		for (const count of counts.values()) expect(Math.abs(count - (n * 6) / 36)).toBeLessThan(300);
	});
});

describe("createStore", () => {
	it("maps :memory: to MemoryStore and anything else to SqliteStore", () => {
		expect(createStore(":memory:").kind).toBe("memory");
		expect(createStore(join(tmpdir(), "never-opened.db"), { synchronous: "full" }).kind).toBe("sqlite");
	});
});

describe("SqliteStore only", () => {
	let dir: string;
	let file: string;
	const open = async (options: { synchronous?: "normal" | "full" } = {}) => {
		const store = new SqliteStore({ file, ...options });
		await store.open();
		return store;
	};

	beforeEach(() => {
		dir = tempDir();
		file = join(dir, "nested", "relay.db");
	});
	afterEach(() => rmSync(dir, { recursive: true, force: true }));

	it("creates the parent directory 0700 and the file 0600", async () => {
		const store = await open();
		await store.close();
		expect(statSync(join(dir, "nested")).mode & 0o777).toBe(0o700);
		expect(statSync(file).mode & 0o777).toBe(0o600);
	});

	it("keeps everything across close and reopen", async () => {
		const a = await open();
		await a.createSession({
			room: "r",
			session: "bob",
			secretHash: "h",
			meta: { host: "box" },
			firstSeen: 1,
			lastSeen: 2,
			ephemeral: false,
		});
		const sent = [];
		for (let i = 0; i < 3; i++) sent.push((await a.append(dm(i))).message);
		const keyed = await a.append({ ...dm(9), key: "k" });
		await a.ack("r", "bob", [sent[0]?.id ?? ""]);
		await a.append({ ...dm(10), to: "carol", recipients: ["carol"], sentAt: 1 });
		await a.applyRetention({ olderThan: 2 });
		await a.close();

		const b = await open();
		expect((await b.getSession("r", "bob"))?.meta).toEqual({ host: "box" });
		expect((await b.pending("r", "bob", { limit: 10 })).messages).toEqual([...sent.slice(1), keyed.message]);
		expect(await b.takeLost("r", "carol")).toBe(1);
		expect((await b.append({ ...dm(11), key: "k" })).duplicate).toBe(true);
		// The seq counter survives too, even past the deleted newest message.
		expect((await b.append(dm(12))).message.seq).toBeGreaterThan(keyed.message.seq + 1);
		await b.close();
	});

	it("migrates a file at user_version 0 and refuses one from a newer build", async () => {
		// A file some earlier tool created: it has content but no schema version.
		const d = new Database(join(dir, "old.db"));
		d.exec("CREATE TABLE unrelated (x TEXT); INSERT INTO unrelated VALUES ('kept')");
		expect(d.pragma("user_version", { simple: true })).toBe(0);
		d.close();
		file = join(dir, "old.db");
		const store = await open();
		await store.append(dm(1));
		await store.close();

		const raw = new Database(file);
		expect(raw.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
		expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
		expect(raw.prepare("SELECT x FROM unrelated").pluck().get()).toBe("kept");
		expect(raw.prepare("SELECT count(*) FROM messages").pluck().get()).toBe(1);
		raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
		raw.close();
		await expect(open()).rejects.toThrow(/newer/);
	});

	it("migrates a version 1 file with data: messages, unacked deliveries, broadcast audiences, keys, seq floor", async () => {
		// Build the file exactly as version 1 left it: its schema, and rows as its append/ack/retention wrote them.
		file = join(dir, "v1.db");
		const v1 = new Database(file);
		v1.exec(MIGRATIONS[0]?.sql ?? "");
		v1.pragma("user_version = 1");
		const msg = v1.prepare(
			"INSERT INTO messages (seq, id, room, sender, recipient, body, reply_to, idem_key, sent_at) VALUES (?, ?, 'r', ?, ?, ?, NULL, ?, ?)",
		);
		const delivery = v1.prepare("INSERT INTO deliveries (seq, room, recipient, acked) VALUES (?, 'r', ?, ?)");
		msg.run(1, "m-1-aaaaaa", "alice", "bob", "direct, acked", null, 10);
		delivery.run(1, "bob", 1);
		msg.run(2, "m-2-bbbbbb", "alice", "*", "broadcast", "kb", 20);
		delivery.run(2, "carol", 1);
		delivery.run(2, "bob", 0);
		msg.run(3, "m-3-cccccc", "bob", "alice", "direct, unacked", "kd", 30);
		delivery.run(3, "alice", 0);
		// Retention deleted seqs 4..7 once; AUTOINCREMENT remembered them.
		v1.prepare("UPDATE sqlite_sequence SET seq = 7 WHERE name = 'messages'").run();
		v1.close();

		const store = await open();
		expect((await store.pending("r", "bob", { limit: 10 })).messages.map((m) => m.body)).toEqual(["broadcast"]);
		expect((await store.pending("r", "alice", { limit: 10 })).messages.map((m) => m.body)).toEqual(["direct, unacked"]);
		expect(await store.countPending("r", "carol")).toBe(0);
		expect((await store.getMessage("r", "m-1-aaaaaa", "bob"))?.body).toBe("direct, acked");
		expect((await store.history("r", { viewer: "carol", limit: 10 })).messages.map((m) => m.seq)).toEqual([2]);
		// A retried broadcast answers with the audience stored in version 1, acked or not.
		const retried = await store.append({ ...dm(0), to: "*", recipients: ["dave"], key: "kb" });
		expect(retried).toMatchObject({ duplicate: true, recipients: ["bob", "carol"] });
		expect((await store.append({ ...dm(0), from: "bob", to: "alice", recipients: ["alice"], key: "kd" })).duplicate).toBe(true);
		// Seqs continue above the deleted ones.
		expect((await store.append(dm(1))).message.seq).toBe(8);
		expect(await store.stats()).toEqual({ messages: 4, sessions: 0, pendingDeliveries: 3 });
		await store.close();
	});

	it("migrates a version 2 file with its backlog: sessions become named or ephemeral, mail and counters stay", async () => {
		file = join(dir, "v2.db");
		const v2 = new Database(file);
		v2.exec(MIGRATIONS[0]?.sql ?? "");
		v2.exec(MIGRATIONS[1]?.sql ?? "");
		v2.pragma("user_version = 2");
		const addSession = v2.prepare(
			"INSERT INTO sessions (room, session, secret_hash, meta, first_seen, last_seen) VALUES ('r', ?, ?, ?, 1, ?)",
		);
		const bridge = (pid: number, extra: object = {}) =>
			JSON.stringify({ host: "mbp.local", cwd: "/src", pid, client: "claude-relay-bridge", version: "0.1.0", ...extra });
		addSession.run("CC-1", "h1", bridge(4242), 500); // a chosen name: stays named
		addSession.run("mbp-4243", "h2", bridge(4243), 100); // the bridge's own <host>-<pid>: ephemeral
		addSession.run("x-99", "h3", JSON.stringify({ pid: 99, client: "claude-relay-cli" }), 100); // not a bridge
		addSession.run("odd-7", "h4", JSON.stringify({ pid: "7", client: "claude-relay-bridge" }), 100); // pid not a number: named
		const msg = v2.prepare(
			"INSERT INTO messages (seq, id, room, sender, recipient, body, reply_to, idem_key, sent_at, recipients) VALUES (?, ?, 'r', ?, ?, ?, NULL, NULL, ?, ?)",
		);
		const pend = v2.prepare("INSERT INTO pending (room, recipient, seq) VALUES ('r', ?, ?)");
		msg.run(1, "m-1-aaaaaa", "CC-1", "*", "to all", 10, JSON.stringify(["mbp-4243", "x-99"]));
		pend.run("mbp-4243", 1);
		pend.run("x-99", 1);
		msg.run(2, "m-2-bbbbbb", "x-99", "CC-1", "direct", 20, null);
		pend.run("CC-1", 2);
		v2.prepare("INSERT INTO lost (room, session, count) VALUES ('r', 'CC-1', 3)").run();
		v2.close();

		const store = await open();
		expect((await store.listSessions("r")).map((r) => [r.session, r.ephemeral, r.secretHash])).toEqual([
			["CC-1", false, "h1"],
			["mbp-4243", true, "h2"],
			["odd-7", false, "h4"],
			["x-99", false, "h3"],
		]);
		// The backlog is intact: every unacked delivery, the lost counter, the message log.
		expect((await store.pending("r", "CC-1", { limit: 10 })).messages.map((m) => m.body)).toEqual(["direct"]);
		expect(await store.countPending("r", "mbp-4243")).toBe(1);
		expect(await store.countPending("r", "x-99")).toBe(1);
		expect(await store.takeLost("r", "CC-1")).toBe(3);
		expect((await store.history("r", { viewer: "CC-1", limit: 10 })).messages.map((m) => m.seq)).toEqual([1, 2]);
		// The new index serves the stale scan, per kind.
		expect((await store.staleSessions({ ephemeralBefore: 1_000, limit: 10 })).map((r) => r.session)).toEqual(["mbp-4243"]);
		expect((await store.staleSessions({ namedBefore: 200, limit: 10 })).map((r) => r.session).sort()).toEqual(["odd-7", "x-99"]);
		expect(await store.forgetSession("r", "mbp-4243", { seenBefore: 1_000 })).toEqual({ session: true, pending: 1 });
		expect((await store.append(dm(3))).message.seq).toBe(3);
		await store.close();
		const raw = new Database(file);
		expect(raw.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
		const plan = raw
			.prepare("EXPLAIN QUERY PLAN SELECT session FROM sessions WHERE ephemeral = 0 AND last_seen < 5 ORDER BY last_seen")
			.all() as { detail: string }[];
		expect(plan.map((p) => p.detail).join(" ")).toMatch(/sessions_stale/);
		raw.close();
	});

	it("migrates a version 2 file with its backlog intact, and state and claims work after it", async () => {
		// The file exactly as the previous release (schema version 2) left it, with unread mail in it.
		file = join(dir, "v2.db");
		const v2 = new Database(file);
		v2.exec(MIGRATIONS[0]?.sql ?? "");
		v2.exec(MIGRATIONS[1]?.sql ?? "");
		v2.pragma("user_version = 2");
		v2.prepare("INSERT INTO sessions VALUES ('r', 'bob', 'h', '{\"host\":\"box\"}', 1, 2)").run();
		const msg = v2.prepare(
			"INSERT INTO messages (seq, id, room, sender, recipient, body, reply_to, idem_key, sent_at, recipients) VALUES (?, ?, 'r', 'alice', ?, ?, NULL, ?, ?, ?)",
		);
		msg.run(1, "m-1-aaaaaa", "bob", "read", null, 10, null);
		msg.run(2, "m-2-bbbbbb", "*", "unread broadcast", "kb", 20, '["bob","carol"]');
		msg.run(3, "m-3-cccccc", "bob", "unread direct", null, 30, null);
		v2.prepare("INSERT INTO pending (room, recipient, seq) VALUES ('r', ?, ?)").run("bob", 2);
		v2.prepare("INSERT INTO pending (room, recipient, seq) VALUES ('r', ?, ?)").run("bob", 3);
		v2.prepare("INSERT INTO pending (room, recipient, seq) VALUES ('r', ?, ?)").run("carol", 2);
		v2.prepare("UPDATE seq_floor SET seq = 9").run();
		v2.close();

		const store = await open();
		expect((await store.pending("r", "bob", { limit: 10 })).messages.map((m) => m.body)).toEqual(["unread broadcast", "unread direct"]);
		expect(await store.countPending("r", "carol")).toBe(1);
		expect((await store.getSession("r", "bob"))?.meta).toEqual({ host: "box" });
		expect(await store.append({ ...dm(0), to: "*", recipients: ["dave"], key: "kb" })).toMatchObject({ duplicate: true, recipients: ["bob", "carol"] });
		expect((await store.append(dm(1))).message.seq).toBe(10);
		const limits = { maxValueBytes: 1000, maxKeys: 10, maxRoomBytes: 10_000 };
		expect(await store.state.set({ room: "r", key: "k", valueJson: "[1]", items: 1, updatedBy: "bob", updatedAt: 1, limits })).toMatchObject({ status: "ok" });
		expect(
			await store.claims.claim({ room: "r", repo: "x", session: "bob", paths: ["src/**"], reason: null, now: 1, expiresAt: 2, limits: { maxPerSession: 5, maxPerRepo: 5 } }),
		).toMatchObject({ status: "granted" });
		await store.close();
		const raw = new Database(file);
		expect(raw.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
		expect(SCHEMA_VERSION).toBe(5);
		expect(raw.prepare("SELECT count(*) FROM pending").pluck().get()).toBe(4);
		raw.close();
	});

	it("migrates a version 4 file: its messages stay as they were (no human mark), new ones can carry it", async () => {
		// The file exactly as the previous release (schema version 4) left it: a backlog, a keyed message, state.
		file = join(dir, "v4.db");
		const v4 = new Database(file);
		for (const m of MIGRATIONS.slice(0, 4)) v4.exec(m.sql);
		v4.pragma("user_version = 4");
		const msg = v4.prepare(
			"INSERT INTO messages (seq, id, room, sender, recipient, body, reply_to, idem_key, sent_at, recipients) VALUES (?, ?, 'r', 'alice', ?, ?, NULL, ?, ?, ?)",
		);
		msg.run(1, "m-1-aaaaaa", "bob", "unread direct", "k1", 10, null);
		msg.run(2, "m-2-bbbbbb", "*", "unread broadcast", null, 20, '["bob","carol"]');
		v4.prepare("INSERT INTO pending (room, recipient, seq) VALUES ('r', ?, ?)").run("bob", 1);
		v4.prepare("INSERT INTO pending (room, recipient, seq) VALUES ('r', ?, ?)").run("bob", 2);
		v4.prepare("INSERT INTO state VALUES ('r', 'k', '1', 1, 'alice', 5, 1)").run();
		v4.close();

		const store = await open();
		const backlog = (await store.pending("r", "bob", { limit: 10 })).messages;
		expect(backlog).toEqual([
			{ id: "m-1-aaaaaa", seq: 1, room: "r", from: "alice", to: "bob", body: "unread direct", replyTo: null, sentAt: 10 },
			{ id: "m-2-bbbbbb", seq: 2, room: "r", from: "alice", to: "*", body: "unread broadcast", replyTo: null, sentAt: 20 },
		]);
		expect(await store.append({ ...dm(0), key: "k1" })).toMatchObject({ duplicate: true, message: backlog[0] });
		const person = await store.append({ ...dm(1), from: "Operator", human: true });
		expect(person.message).toMatchObject({ seq: 3, human: true });
		expect((await store.getMessage("r", person.message.id, "bob"))?.human).toBe(true);
		expect((await store.state.get("r", "k"))?.version).toBe(1);
		await store.close();
		const raw = new Database(file);
		expect(raw.pragma("user_version", { simple: true })).toBe(5);
		expect(raw.prepare("SELECT seq, human FROM messages ORDER BY seq").all()).toEqual([
			{ seq: 1, human: null },
			{ seq: 2, human: null },
			{ seq: 3, human: 1 },
		]);
		raw.close();
	});

	it("keeps state, its room totals and claims across close and reopen", async () => {
		const limits = { maxValueBytes: 1000, maxKeys: 2, maxRoomBytes: 10_000 };
		const set = (s: SqliteStore, key: string) => s.state.set({ room: "r", key, valueJson: '"v"', items: -1, updatedBy: "a", updatedAt: 1, limits });
		const a = await open();
		await set(a, "one");
		await set(a, "two");
		await a.state.append({ room: "r", key: "two", itemJson: "1", updatedBy: "a", updatedAt: 1, limits });
		await a.claims.claim({ room: "r", repo: "x", session: "A", paths: ["src/**"], reason: "why", now: 1, expiresAt: 100, limits: { maxPerSession: 5, maxPerRepo: 5 } });
		await a.close();
		const b = await open();
		expect(await b.state.get("r", "one")).toMatchObject({ version: 1, valueJson: '"v"' });
		// The totals came back too: a third key is over maxKeys.
		expect(await set(b, "three")).toMatchObject({ status: "limit" });
		expect(await b.claims.list("r", { now: 50 })).toMatchObject([{ session: "A", path: "src/**", reason: "why" }]);
		await b.close();
	});

	it("a state write is ordered after the message appends queued before it (one connection, group commit flushed)", async () => {
		const store = await open();
		const limits = { maxValueBytes: 1000, maxKeys: 10, maxRoomBytes: 10_000 };
		const sent = store.append(dm(1));
		const written = store.state.set({ room: "r", key: "k", valueJson: "1", items: -1, updatedBy: "a", updatedAt: 1, limits });
		let appended = false;
		void sent.then(() => {
			appended = true;
		});
		await written;
		await Promise.resolve();
		expect(appended).toBe(true); // the queued append was committed (and settled) first
		expect(await store.countPending("r", "bob")).toBe(1);
		await store.close();
	});

	it("continues seqs from the newest message even if the seq_floor row was deleted by hand", async () => {
		const a = await open();
		const last = (await a.append(dm(1))).message.seq;
		await a.close();
		const raw = new Database(file);
		raw.exec("DELETE FROM seq_floor");
		raw.close();
		const b = await open();
		expect((await b.append(dm(2))).message.seq).toBe(last + 1);
		await b.close();
	});

	it("uses WAL and the requested synchronous level", async () => {
		const store = await open({ synchronous: "full" });
		// The connection is private; peek at it the way an operator would debug it.
		const db = (store as unknown as { conn: { db: Database.Database } }).conn.db;
		expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
		expect(db.pragma("synchronous", { simple: true })).toBe(2); // FULL
		expect(db.pragma("busy_timeout", { simple: true })).toBeGreaterThan(0);
		await store.close();
		const normal = await open();
		const db2 = (normal as unknown as { conn: { db: Database.Database } }).conn.db;
		expect(db2.pragma("synchronous", { simple: true })).toBe(1); // NORMAL
		await normal.close();
	});

	it("group commit: 1,000 appends fired at once resolve with increasing seqs and are all readable", async () => {
		const store = await open();
		const promises = Array.from({ length: 1000 }, (_, i) => store.append(dm(i)));
		const results = await Promise.all(promises);
		const got = results.map((r) => r.message.seq);
		for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1] ?? Infinity);
		expect(await store.countPending("r", "bob")).toBe(1000);
		const page = await store.pending("r", "bob", { limit: 1000 });
		expect(page.messages).toEqual(results.map((r) => r.message));
		await store.close();
	});

	it("an append does not resolve before its batch commits, and other operations see queued appends", async () => {
		const store = await open();
		let resolved = false;
		const p = store.append(dm(1)).then((r) => {
			resolved = true;
			return r;
		});
		await Promise.resolve();
		expect(resolved).toBe(false); // still queued for setImmediate
		// countPending flushes the queue first, so it sees the append.
		expect(await store.countPending("r", "bob")).toBe(1);
		await p;
		expect(resolved).toBe(true);
		await store.close();
	});

	it("keeps the WAL under 2 x walMaxBytes + one batch under a pipelined writer, and loses no append", async () => {
		// In-process appends outrun the checkpointer (100k+/s): the ceiling, not only the rewind, is exercised.
		const walMaxBytes = 1024 * 1024;
		const store = new SqliteStore({ file, walMaxBytes });
		await store.open();
		let peak = 0;
		const look = () => {
			try {
				peak = Math.max(peak, statSync(`${file}-wal`).size);
			} catch {
				// not created yet
			}
		};
		const sampler = setInterval(look, 2);
		const body = "b".repeat(500);
		let appended = 0;
		for (let round = 0; round < 40; round++) {
			const batch = Array.from({ length: 2500 }, (_, i) => store.append({ ...dm(i), body }));
			appended += (await Promise.all(batch)).length;
			look();
		}
		clearInterval(sampler);
		expect(appended).toBe(100_000);
		expect(await store.countPending("r", "bob")).toBe(100_000);
		expect(peak).toBeGreaterThan(walMaxBytes);
		expect(peak).toBeLessThan(2 * walMaxBytes + 8 * 1024 * 1024);
		await store.close();
		expect(() => new SqliteStore({ file, walMaxBytes: 1000 })).toThrow(/at least 1048576/);
	});

	it("does not wait forever for a WAL another process keeps from being truncated (an open read transaction)", async () => {
		const walMaxBytes = 1024 * 1024;
		const store = new SqliteStore({ file, walMaxBytes });
		await store.open();
		await store.append(dm(0));
		// Another process (here: connection) reads in a transaction it keeps open: SQLite cannot rewind the
		// WAL past its snapshot, so the checkpointer's TRUNCATE cannot succeed.
		const reader = new Database(file);
		reader.exec("BEGIN");
		expect(reader.prepare("SELECT count(*) FROM messages").pluck().get()).toBe(1);
		const body = "b".repeat(500);
		for (let round = 0; round < 10; round++) {
			await Promise.all(Array.from({ length: 2500 }, (_, i) => store.append({ ...dm(i), body })));
		}
		expect(statSync(`${file}-wal`).size).toBeGreaterThan(2 * walMaxBytes);
		expect(await store.countPending("r", "bob")).toBe(25_001);
		// Once the reader lets go, the file comes back under the bound.
		reader.exec("COMMIT");
		reader.close();
		await store.append(dm(1));
		const deadline = Date.now() + 20_000;
		while (statSync(`${file}-wal`).size >= 2 * walMaxBytes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
		expect(statSync(`${file}-wal`).size).toBeLessThan(2 * walMaxBytes);
		await store.close();
	}, 60_000);

	it("refuses a damaged file at open: a bad page mid-file, or a header that is not SQLite's", async () => {
		const a = await open();
		for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 100 }, (_, j) => a.append({ ...dm(i * 100 + j), body: "x".repeat(1000) })));
		await a.close();
		const page = Buffer.alloc(4096, 0xa5);
		const fd = openSync(file, "r+");
		writeSync(fd, page, 0, page.length, Math.floor(statSync(file).size / 2 / 4096) * 4096);
		closeSync(fd);
		const damaged = new SqliteStore({ file });
		const err = await damaged.open().then(() => null, (e: unknown) => e);
		expect(err).toBeInstanceOf(DamagedDatabaseError);
		expect((err as DamagedDatabaseError).problems.length).toBeGreaterThan(0);
		expect((err as Error).message).toMatch(/is damaged: .*\n.*restore .* from a backup/s);

		const fd2 = openSync(file, "r+");
		writeSync(fd2, page, 0, 100, 0);
		closeSync(fd2);
		await expect(new SqliteStore({ file }).open()).rejects.toThrow(/is damaged: file is not a database/);
	});

	it("a full disk rejects with StorageError (SQLITE_FULL), marks health failed until an append succeeds, and loses nothing", async () => {
		const store = await open();
		const kept = await Promise.all(Array.from({ length: 10 }, (_, i) => store.append(dm(i))));
		expect(store.health).toMatchObject({ ok: true, lastError: null });
		store.pragma(`max_page_count = ${Number(store.pragma("page_count"))}`);
		let err: unknown;
		for (let i = 0; i < 500 && !err; i++) err = await store.append({ ...dm(100 + i), body: "f".repeat(8000) }).then(() => undefined, (e: unknown) => e);
		expect(err).toBeInstanceOf(StorageError);
		expect(err).toMatchObject({ code: "SQLITE_FULL", message: expect.stringMatching(/^the database's disk is full \(SQLITE_FULL: /) });
		expect(store.health.ok).toBe(false);
		expect(store.health.lastError).toMatchObject({ code: "SQLITE_FULL" });
		// Reads and deletes still work on a full disk, and do not count as the storage working again.
		expect(await store.ack("r", "bob", [kept[0]?.message.id ?? ""])).toBe(1);
		expect(await store.countPending("r", "bob")).toBeGreaterThanOrEqual(9);
		expect(store.health.ok).toBe(false);
		store.pragma("max_page_count = 1073741823");
		await store.append(dm(999));
		expect(store.health.ok).toBe(true);
		expect(store.health.lastError).toMatchObject({ code: "SQLITE_FULL" });
		for (const { message } of kept) expect(await store.getMessage("r", message.id, "bob")).toEqual(message);
		await store.close();
	});

	it("close flushes queued appends", async () => {
		const store = await open();
		const p = store.append(dm(1));
		await store.close();
		const { message } = await p;
		const again = await open();
		expect(await again.getMessage("r", message.id, "bob")).toEqual(message);
		await again.close();
	});
});
