/**
 * Runs the shared store suite against every backend, then the SQLite-only properties: persistence across
 * reopen, migration, WAL, group commit.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createStore, MemoryStore, SCHEMA_VERSION, SqliteStore, StorageError } from "../server/store/index.js";
import { newMessageId, seqOfMessageId } from "../server/store/ids.js";
import { DamagedDatabaseError } from "../server/store/integrity.js";
import { MIGRATIONS } from "../server/store/migrations.js";
import { PushedBuffer, type PushedMark } from "../server/store/receipts.js";
import { decodeRecords, encodeRecords, type JournalRecord } from "../server/store/sqlite-journal.js";
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

describe("the buffer of pushed marks", () => {
	it("keeps a push as one mark, answers the earliest time per recipient, writes at its bound, and reports a failed write", async () => {
		const written: PushedMark[][] = [];
		const errors: unknown[] = [];
		let fail = false;
		const buf = new PushedBuffer(
			(marks) => {
				if (fail) throw new Error("disk full");
				written.push(marks);
			},
			(err) => errors.push(err),
			60_000,
			5,
		);
		buf.add([{ seq: 1, recipients: ["a"] }], 20);
		buf.add([{ seq: 1, recipients: ["a", "b"], all: true }], 10);
		expect([buf.get(1, "a"), buf.get(1, "b"), buf.get(1, "c"), buf.get(2, "a"), buf.size]).toEqual([10, 10, undefined, undefined, 3]);
		buf.add([{ seq: 2, recipients: ["a", "b"] }], 30); // 5 deliveries: the bound, written at once
		await new Promise((r) => setTimeout(r, 0));
		expect(written).toEqual([
			[
				{ seq: 1, at: 20, recipients: ["a"], all: false },
				{ seq: 1, at: 10, recipients: ["a", "b"], all: true },
				{ seq: 2, at: 30, recipients: ["a", "b"], all: false },
			],
		]);
		expect(buf.size).toBe(0);
		fail = true;
		buf.add([{ seq: 3, recipients: ["a"] }], 40);
		await buf.flush();
		expect(errors.map((e) => (e as Error).message)).toEqual(["disk full"]);
		expect(buf.size).toBe(0);
		await buf.close();
		buf.add([{ seq: 4, recipients: ["a"] }], 50);
		expect(buf.size).toBe(0);
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

	it("writes a turn's session touches together, after any read that comes first sees them, the last of one session winning", async () => {
		const store = await open();
		const base = {
			secretHash: "h",
			meta: {},
			firstSeen: 1,
			lastSeen: 1,
			ephemeral: false,
		};
		for (let i = 0; i < 200; i++)
			await store.createSession({ room: "r", session: `s${i}`, ...base });
		const other = new Database(file, { readonly: true });
		try {
			const seen = () =>
				(
					other
						.prepare("SELECT count(*) AS n FROM sessions WHERE last_seen = 500")
						.get() as { n: number }
				).n;
			// 200 touches in one turn: none written yet when the turn's code is done (a commit each before).
			const touched = Array.from({ length: 200 }, (_, i) =>
				store.touchSession("r", `s${i}`, { host: `h${i}` }, 500),
			);
			expect(seen()).toBe(0);
			await Promise.all(touched);
			expect(seen()).toBe(200);
			// One session touched three times in a turn: one write, the last one's values; every caller resolves.
			const three = [1, 2, 3].map((k) =>
				store.touchSession("r", "s0", { host: `again${k}` }, 600 + k),
			);
			// A read in the same turn sees the queued touch (it is written first).
			expect((await store.getSession("r", "s0"))?.meta).toEqual({
				host: "again3",
			});
			await Promise.all(three);
			expect((await store.getSession("r", "s0"))?.lastSeen).toBe(603);
		} finally {
			other.close();
			await store.close();
		}
	});

	it("writes a turn's session creates in one transaction, answered once committed; reads see them first; close writes the rest", async () => {
		const store = await open();
		const base = { secretHash: "h", meta: { host: "x" }, firstSeen: 1, lastSeen: 1, ephemeral: false };
		await store.createSession({ room: "r", session: "old", ...base, secretHash: "stored" });
		const other = new Database(file, { readonly: true });
		try {
			const count = () => (other.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n;
			let settled = 0;
			const created = Array.from({ length: 120 }, (_, i) => {
				const p = store.createSession({ room: "r", session: i === 0 ? "old" : `s${i % 100}`, ...base, secretHash: `h${i}` });
				p.then(() => settled++);
				return p;
			});
			// The turn's code is done and nothing is written or answered yet (a commit each before).
			await Promise.resolve();
			expect(count()).toBe(1);
			expect(settled).toBe(0);
			// getSession reads through the queue: the stored row wins over a queued create of its ID.
			expect((await store.getSession("r", "old"))?.secretHash).toBe("stored");
			expect((await store.getSession("r", "s7"))?.secretHash).toBe("h7");
			expect(await store.getSession("r", "nobody")).toBeNull();
			expect(count()).toBe(1);
			const results = await Promise.all(created);
			expect(count()).toBe(101);
			// The first create of each ID wins, as one by one: s1..s99 (i < 100) and s0 (i = 100); i = 0 is "old".
			expect(results).toEqual(Array.from({ length: 120 }, (_, i) => i > 0 && i <= 100));
			expect((await store.getSession("r", "s0"))?.secretHash).toBe("h100");
			expect((await store.getSession("r", "s19"))?.secretHash).toBe("h19");
			// Any other operation writes the queued creates first, as close does.
			const early = store.createSession({ room: "r", session: "early", ...base });
			expect(await store.countSessions("r")).toBe(102);
			expect(await early).toBe(true);
			const late = store.createSession({ room: "r", session: "late", ...base });
			await store.close();
			expect(await late).toBe(true);
			const again = await open();
			expect((await again.getSession("r", "late"))?.meta).toEqual({ host: "x" });
			await again.close();
		} finally {
			other.close();
			await store.close();
		}
	});

	it("close writes touches still queued", async () => {
		const store = await open();
		await store.createSession({
			room: "r",
			session: "late",
			secretHash: "h",
			meta: {},
			firstSeen: 1,
			lastSeen: 1,
			ephemeral: false,
		});
		const touched = store.touchSession("r", "late", { host: "closing" }, 777);
		await store.close();
		await touched;
		const again = await open();
		expect((await again.getSession("r", "late"))?.lastSeen).toBe(777);
		await again.close();
	});

	// A crash after appends were answered but before their transaction committed (it commits a few ms later):
	// the files as they are at that moment, copied elsewhere, are what a SIGKILL leaves.
	const crashCopy = (to: string) => {
		for (const suffix of ["", "-wal", "-appends"]) {
			try {
				writeFileSync(`${to}${suffix}`, readFileSync(`${file}${suffix}`));
			} catch {
				// no -wal yet
			}
		}
	};

	it("recovers answered appends from the journal when their transaction never committed, exactly as answered", async () => {
		const a = await open();
		const first = await a.append(dm(0));
		await a.stats(); // commits the first one
		const answered = [];
		for (let i = 1; i <= 3; i++) answered.push(await a.append({ ...dm(i), key: `key-${i}`, to: "*", recipients: ["bob", "carol"] }));
		const copy = join(dir, "crashed.db");
		crashCopy(copy);
		const reader = new Database(copy, { readonly: true });
		expect(reader.prepare("SELECT count(*) FROM messages").pluck().get()).toBe(1); // what SQLite alone has
		reader.close();
		await a.close();

		const b = new SqliteStore({ file: copy });
		await b.open();
		// Recovered and committed: the journal is empty again.
		expect(statSync(`${copy}-appends`).size).toBe(0);
		const page = await b.pending("r", "carol", { limit: 10 });
		expect(page.messages).toEqual(answered.map((r) => r.message));
		expect((await b.pending("r", "bob", { limit: 10 })).messages).toEqual([first.message, ...answered.map((r) => r.message)]);
		// A retry of an answered send is the duplicate it would have been without the crash.
		const retry = await b.append({ ...dm(2), key: "key-2", to: "*", recipients: ["bob", "carol"] });
		expect(retry.duplicate).toBe(true);
		expect(retry.message).toEqual(answered[1]?.message);
		// Seqs go on above the recovered ones.
		expect((await b.append(dm(9))).message.seq).toBe((answered[2]?.message.seq ?? 0) + 1);
		await b.close();
	});

	it("inserts a batch's rows 16 to a statement and the rest one by one: every message and delivery exactly, on the next turn and after a crash", async () => {
		const a = await open();
		const root = await a.append(dm(0));
		await a.stats();
		// 37 messages (two statements of 16, five alone) to one, two or three recipients: 73 delivery rows
		// (four statements of 16, nine alone), with keys, replies and the human mark in among them.
		const audiences = [["bob"], ["bob", "carol"], ["bob", "carol", "dave"]];
		const batch = Array.from({ length: 37 }, (_, i) => {
			const recipients = audiences[i % 3] as string[];
			return a.append({
				...dm(i + 1),
				to: recipients.length === 1 ? "bob" : recipients.join(","),
				recipients,
				key: i % 2 ? `batch-${String(i).padStart(2, "0")}` : null,
				replyTo: i % 5 === 0 ? root.message.id : null,
				...(i % 7 === 0 ? { human: true } : {}),
			});
		});
		const answered = (await Promise.all(batch)).map((r) => r.message);
		const copy = join(dir, "crashed-batch.db");
		crashCopy(copy);
		const expectExact = async (store: SqliteStore) => {
			for (const [who, of] of [
				["bob", [root.message, ...answered]],
				["carol", answered.filter((_, i) => i % 3 > 0)],
				["dave", answered.filter((_, i) => i % 3 === 2)],
			] as const) {
				expect((await store.pending("r", who, { limit: 100 })).messages).toEqual(of);
			}
			for (const m of answered) expect(await store.getMessage("r", m.id, "bob")).toEqual(m);
			expect((await store.receipts("r", answered[35]?.id as string))?.receipts.map((r) => r.recipient)).toEqual(["bob", "carol", "dave"]);
			expect((await store.stats()).pendingDeliveries).toBe(1 + 37 + 24 + 12);
		};
		await expectExact(a);
		await a.close();
		const b = new SqliteStore({ file: copy });
		await b.open();
		await expectExact(b);
		await b.close();
	});

	it("answers an append once it is journaled and inserts its rows on the next turn: retries, replies and reads in between see it", async () => {
		const store = await open();
		const waiting = store as unknown as { unapplied: unknown[]; flush(): void };
		const first = await store.append({ ...dm(1), key: "k1" });
		// Answered, and not inserted yet (the promise settled in the turn that journaled it).
		expect(waiting.unapplied.length).toBe(1);
		// The next batch, handled before that turn's inserts, puts them in first: the retry finds it by its
		// key, the reply takes its thread.
		const retry = store.append({ ...dm(1), key: "k1" });
		const reply = store.append({ ...dm(2), replyTo: first.message.id });
		waiting.flush();
		expect(await retry).toMatchObject({ duplicate: true, message: first.message, recipients: ["bob"] });
		const answered = await reply;
		expect(answered.message.thread).toBe(first.message.id);
		expect(waiting.unapplied.length).toBe(1);
		// A read inserts what waits first.
		expect(await store.getMessage("r", answered.message.id, "bob")).toEqual(answered.message);
		expect(waiting.unapplied.length).toBe(0);
		expect((await store.pending("r", "bob", { limit: 10 })).messages).toEqual([first.message, answered.message]);
		// Two appends of one key in one batch: one message.
		const [x, y] = await Promise.all([store.append({ ...dm(3), key: "k3" }), store.append({ ...dm(3), key: "k3" })]);
		expect([x?.duplicate, y?.duplicate]).toEqual([false, true]);
		expect(y?.message).toEqual(x?.message);
		expect(await store.countPending("r", "bob")).toBe(3);
		await store.close();
	});

	it("a key greater than a sender's greatest is not looked up, and a retry still is: after another store on the file stored more, after a crash it recovered, after a reopen", async () => {
		const a = await open();
		const b = await open();
		const send = (s: SqliteStore, key: string) => s.append({ ...dm(0), key });
		const probes = (s: SqliteStore) => {
			const st = (s as unknown as { conn: { st: { byKey: { get: (...args: unknown[]) => unknown } } } }).conn.st;
			const get = st.byKey.get.bind(st.byKey);
			let n = 0;
			st.byKey.get = (...args: unknown[]) => {
				n++;
				return get(...args);
			};
			return () => n;
		};
		const aProbes = probes(a);
		expect((await send(a, "k5")).duplicate).toBe(false);
		expect((await send(a, "k6")).duplicate).toBe(false);
		expect(aProbes()).toBe(0); // each greater than all before: no lookup
		expect((await send(a, "k6")).duplicate).toBe(true); // a retry is looked up
		expect((await send(a, "k0")).duplicate).toBe(false); // out of order: looked up, new
		expect(aProbes()).toBe(2);
		await a.stats(); // commits
		// Another store on the file stores greater keys of the same sender; a retry of one on the first store is
		// a duplicate (its cache is dropped when another connection has committed).
		expect((await send(b, "k8")).duplicate).toBe(false);
		expect((await send(b, "k9")).duplicate).toBe(false);
		await b.stats();
		expect((await send(a, "k9")).duplicate).toBe(true);
		// Any other connection's commit drops the cache too (here one that writes no journal).
		expect((await send(a, "kA")).duplicate).toBe(false);
		await a.stats();
		const raw = new Database(file);
		raw.prepare("INSERT INTO messages (seq, id, room, sender, recipient, body, idem_key, sent_at) VALUES (?, ?, 'r', 'alice', 'bob', 'x', 'kB', 1)").run(1000, newMessageId(1000));
		raw.close();
		expect((await send(a, "kB")).duplicate).toBe(true);
		// Another store answers "kC" and dies before committing: the first store inserts it from the journal
		// in its next transaction, and a retry of it is a duplicate there.
		expect((await send(a, "kB2")).duplicate).toBe(false);
		await a.stats();
		const dying = b as unknown as { conn: { db: Database.Database } | null; checkpointer: { terminate(): Promise<number> } | null; commitTimer: NodeJS.Timeout | null };
		const lost = await send(b, "kC");
		if (dying.commitTimer) clearTimeout(dying.commitTimer);
		await dying.checkpointer?.terminate();
		dying.checkpointer = null;
		dying.conn?.db.close();
		dying.conn = null;
		const retried = await send(a, "kC");
		expect(retried).toMatchObject({ duplicate: true, message: lost.message });
		// Non-ASCII keys are always looked up.
		expect((await send(a, "kZ-\u00e9")).duplicate).toBe(false);
		expect((await send(a, "kZ-\u00e9")).duplicate).toBe(true);
		await a.close();
		// Reopened: the greatest key is read from the database, and a retry of it is a duplicate.
		const c = await open();
		expect((await send(c, "kC")).duplicate).toBe(true);
		expect((await send(c, "kZ-\u00e9")).duplicate).toBe(true);
		expect((await send(c, "kZz")).duplicate).toBe(false);
		// Where JS order and SQLite's byte order disagree (U+FFFF sorts above U+10000 in UTF-16, below it in
		// UTF-8): the database's max() is U+10000, and a retry of U+FFFF must still be looked up.
		expect((await send(c, "\uffff")).duplicate).toBe(false);
		expect((await send(c, "\u{10000}")).duplicate).toBe(false);
		await c.close();
		const d = await open();
		expect((await send(d, "\uffff")).duplicate).toBe(true);
		// The bound: past 100,000 senders the next transaction starts again from none.
		const kept = (d as unknown as { maxKeys: Map<string, string> }).maxKeys;
		for (let i = 0; kept.size <= 100_000; i++) kept.set(`r\0s${i}`, "k");
		await d.stats(); // commits: the next append opens a transaction
		await send(d, "kZzz");
		expect(kept.size).toBe(1);
		await d.close();
	});

	it("a second store on the same file inserts what a first one answered and died before committing, before it assigns a seq", async () => {
		const a = await open();
		const b = await open();
		await b.append(dm(0));
		await b.stats();
		const answered = [await a.append({ ...dm(1), key: "a1" }), await a.append({ ...dm(2), key: "a2" })];
		// a dies with its transaction open: SQLite rolls it back; its journal records stay. (Its timers and its
		// checkpointer go too, as they would with the process.)
		const dead = a as unknown as { conn: { db: Database.Database } | null; checkpointer: { terminate(): Promise<number> } | null; commitTimer: NodeJS.Timeout | null };
		if (dead.commitTimer) clearTimeout(dead.commitTimer);
		await dead.checkpointer?.terminate();
		dead.checkpointer = null;
		dead.conn?.db.close();
		dead.conn = null;
		const next = await b.append({ ...dm(3), key: "b3" });
		expect(next.message.seq).toBe((answered[1]?.message.seq ?? 0) + 1);
		expect((await b.pending("r", "bob", { limit: 10 })).messages.map((m) => m.body)).toEqual(["message 0", "message 1", "message 2", "message 3"]);
		expect((await b.append({ ...dm(1), key: "a1" })).duplicate).toBe(true);
		await b.close();
	});

	it("journal records carry the message as answered, and a journal of the earlier 13-field rows still recovers", async () => {
		const a = await open();
		const reply = await a.append(dm(0)).then((r) => a.append({ ...dm(1), key: "k1", replyTo: r.message.id, to: "*", recipients: ["bob", "carol"] }));
		const copy = join(dir, "v2.db");
		crashCopy(copy);
		await a.close();
		const records = decodeRecords(readFileSync(`${copy}-appends`));
		const last = records.at(-1) as JournalRecord;
		expect(last.message).toEqual(reply.message);
		expect(last).toMatchObject({ key: "k1", thread: reply.message.thread, stored: JSON.stringify(["bob", "carol"]), recipients: ["bob", "carol"], human: null });
		// The same records written as the previous version wrote them (no message: the 13-field row) read back
		// the same, and a store recovers from them.
		const old = records.map(({ message: _, ...r }) => r);
		expect(decodeRecords(encodeRecords(old))).toEqual(old);
		writeFileSync(`${copy}-appends`, encodeRecords(old));
		const b = new SqliteStore({ file: copy });
		await b.open();
		expect((await b.pending("r", "carol", { limit: 10 })).messages).toEqual([reply.message]);
		expect((await b.append({ ...dm(1), key: "k1", to: "*", recipients: ["bob", "carol"] })).duplicate).toBe(true);
		await b.close();
	});

	it("drops a torn record at the journal's end (a write cut by a crash, never answered) and keeps the whole ones", async () => {
		const a = await open();
		const answered = await a.append({ ...dm(1), key: "k1" });
		const copy = join(dir, "torn.db");
		crashCopy(copy);
		await a.close();
		const journal = readFileSync(`${copy}-appends`);
		writeFileSync(`${copy}-appends`, Buffer.concat([journal, journal.subarray(0, journal.length - 5)]));
		const b = new SqliteStore({ file: copy });
		await b.open();
		expect((await b.pending("r", "bob", { limit: 10 })).messages).toEqual([answered.message]);
		await b.close();
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
		expect(SCHEMA_VERSION).toBe(6);
		expect(raw.prepare("SELECT count(*) FROM pending").pluck().get()).toBe(4);
		raw.close();
	});

	it("migrates a version 4 file (through 5, topics, to 6): its messages stay as they were (no human mark), new ones can carry it", async () => {
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
			{ id: "m-1-aaaaaa", seq: 1, room: "r", from: "alice", to: "bob", body: "unread direct", replyTo: null, thread: "m-1-aaaaaa", sentAt: 10 },
			{ id: "m-2-bbbbbb", seq: 2, room: "r", from: "alice", to: "*", body: "unread broadcast", replyTo: null, thread: "m-2-bbbbbb", sentAt: 20 },
		]);
		expect(await store.append({ ...dm(0), key: "k1" })).toMatchObject({ duplicate: true, message: backlog[0] });
		const person = await store.append({ ...dm(1), from: "Operator", human: true });
		expect(person.message).toMatchObject({ seq: 3, human: true });
		expect((await store.getMessage("r", person.message.id, "bob"))?.human).toBe(true);
		expect((await store.state.get("r", "k"))?.version).toBe(1);
		await store.close();
		const raw = new Database(file);
		expect(raw.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
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

	it("migrates a version 2 file with a backlog: threads of stored replies, unacked deliveries, audiences, then topics and receipts", async () => {
		// The file as version 2 left it: its schema, and rows as its append, ack and retention wrote them.
		file = join(dir, "v2.db");
		const v2 = new Database(file);
		v2.exec(MIGRATIONS[0]?.sql ?? "");
		v2.exec(MIGRATIONS[1]?.sql ?? "");
		v2.pragma("user_version = 2");
		const msg = v2.prepare(
			`INSERT INTO messages (seq, id, room, sender, recipient, body, reply_to, idem_key, sent_at, recipients)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		);
		const pending = v2.prepare("INSERT INTO pending (room, recipient, seq) VALUES (?, ?, ?)");
		msg.run(1, "m-1-rootaa", "r", "alice", "*", "root", null, "k1", 10, '["bob","carol"]');
		pending.run("r", "carol", 1);
		msg.run(2, "m-2-replyb", "r", "bob", "alice", "reply", "m-1-rootaa", null, 20, null);
		msg.run(3, "m-3-deeper", "r", "alice", "bob", "reply to the reply", "m-2-replyb", null, 30, null);
		pending.run("r", "bob", 3);
		// A reply to a message retention took (seq 4 is gone), and one naming a message of another room.
		msg.run(5, "m-5-orphan", "r", "bob", "alice", "orphan", "m-4-gonexx", null, 50, null);
		msg.run(6, "m-6-otherr", "q", "dave", "erin", "elsewhere", null, null, 60, null);
		msg.run(7, "m-7-crossr", "r", "bob", "alice", "cross", "m-6-otherr", null, 70, null);
		pending.run("r", "alice", 7);
		v2.prepare("UPDATE seq_floor SET seq = 7").run();
		v2.close();

		const store = await open();
		const raw = new Database(file, { readonly: true });
		expect(raw.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
		raw.close();
		// The backlog is intact: every unacked delivery, in order, now with its thread.
		expect((await store.pending("r", "bob", { limit: 10 })).messages).toMatchObject([{ id: "m-3-deeper", thread: "m-1-rootaa" }]);
		expect((await store.pending("r", "carol", { limit: 10 })).messages).toMatchObject([{ id: "m-1-rootaa", thread: "m-1-rootaa" }]);
		expect((await store.pending("r", "alice", { limit: 10 })).messages).toMatchObject([{ id: "m-7-crossr", thread: "m-6-otherr" }]);
		expect(await store.stats()).toEqual({ messages: 6, sessions: 0, pendingDeliveries: 3 });
		// Threads of replies stored before the upgrade, whichever message is named.
		for (const id of ["m-1-rootaa", "m-2-replyb", "m-3-deeper"]) {
			expect((await store.thread("r", id, { viewer: "alice", limit: 10 }))?.messages.map((m) => m.seq), id).toEqual([1, 2, 3]);
		}
		expect((await store.getMessage("r", "m-5-orphan", "alice"))?.thread).toBe("m-4-gonexx");
		// Receipts of a stored broadcast: each recipient of its audience, queued (no history was kept before).
		expect((await store.receipts("r", "m-1-rootaa"))?.receipts.map((r) => [r.recipient, r.state])).toEqual([
			["bob", "queued"],
			["carol", "queued"],
		]);
		// A retried broadcast still answers with its stored audience; a new reply joins the migrated thread.
		expect(await store.append({ ...dm(0), to: "*", recipients: ["dave"], key: "k1" })).toMatchObject({ duplicate: true, recipients: ["bob", "carol"] });
		const late = await store.append({ ...dm(1), replyTo: "m-3-deeper" });
		expect(late.message).toMatchObject({ seq: 8, thread: "m-1-rootaa" });
		// And the new tables work.
		expect(await store.topics.subscribe("r", "t", "bob", 1, 10)).toEqual({ status: "ok", changed: true });
		expect((await store.append({ ...dm(2), to: "#t", recipients: [], topic: "t" })).recipients).toEqual(["bob"]);
		await store.close();
	});

	it("keeps subscriptions and receipts across close and reopen", async () => {
		const a = await open();
		await a.topics.subscribe("r", "shop:api", "bob", 5, 10);
		const m = (await a.append(dm(1))).message;
		const all = (await a.append({ ...dm(2), to: "*", recipients: ["bob", "carol", "dave"] })).message;
		await a.markPushed("r", [{ seq: m.seq, recipients: ["bob"] }], 7);
		await a.markPushed("r", [{ seq: all.seq, recipients: ["bob", "carol", "dave"], all: true }], 8);
		await a.markPushed("r", [{ seq: all.seq, recipients: ["carol"] }], 9);
		await a.ack("r", "dave", [all.id]);
		await a.close(); // writes the pushed marks still in memory
		const b = await open();
		expect(await b.topics.subscriptions("r", "bob")).toEqual(["shop:api"]);
		expect((await b.receipts("r", m.id))?.receipts[0]).toMatchObject({ state: "pushed", pushedAt: 7 });
		expect((await b.receipts("r", all.id))?.receipts.map((r) => [r.recipient, r.state, r.pushedAt])).toEqual([
			["bob", "pushed", 8],
			["carol", "pushed", 8],
			["dave", "seen", 8],
		]);
		// A mark in memory next to written ones: the earliest counts.
		await b.markPushed("r", [{ seq: all.seq, recipients: ["bob"] }], 3);
		expect((await b.receipts("r", all.id))?.receipts[0]).toMatchObject({ recipient: "bob", pushedAt: 3 });
		expect((await b.append({ ...dm(2), to: "#shop:api", recipients: [], topic: "shop:api" })).recipients).toEqual(["bob"]);
		await b.close();
	});

	it("a topic's audience is read at commit: a subscription written by another connection to the file counts at once", async () => {
		const a = await open();
		const b = await open();
		// Appends are committed (visible to another connection) a few ms after they are answered, or by the
		// store's next other operation (stats here): b's write in the same thread would wait for a's write lock.
		const topicSend = async (store: SqliteStore) => {
			const result = await store.append({ ...dm(1), to: "#t", recipients: [], topic: "t" });
			await store.stats();
			return result;
		};
		await a.topics.subscribe("r", "t", "bob", 1, 10);
		expect((await topicSend(a)).recipients).toEqual(["bob"]); // a has read (and kept) the audience now
		await b.topics.subscribe("r", "t", "carol", 1, 10);
		expect((await topicSend(a)).recipients).toEqual(["bob", "carol"]);
		await b.topics.unsubscribe("r", "t", "bob");
		expect((await topicSend(a)).recipients).toEqual(["carol"]);
		await b.topics.forgetSession("r", "carol");
		expect((await topicSend(a)).recipients).toEqual([]);
		// And its own writes, without another connection.
		await a.topics.subscribe("r", "t", "dave", 1, 10);
		expect((await topicSend(a)).recipients).toEqual(["dave"]);
		await a.close();
		await b.close();
	});

	it("writes many pushed marks in one flush, each message's recipients merged, and reads them back", async () => {
		const a = await open();
		const sent = [];
		for (let i = 0; i < 100; i++) sent.push((await a.append({ ...dm(i), to: "*", recipients: ["bob", "carol", "dave"] })).message);
		// Per message: bob and carol in one push, dave in another at the same time (merged into one row), bob again later.
		for (const m of sent) await a.markPushed("r", [{ seq: m.seq, recipients: ["bob", "carol"] }, { seq: m.seq, recipients: ["dave"] }], 50);
		for (const m of sent.slice(0, 40)) await a.markPushed("r", [{ seq: m.seq, recipients: ["bob"] }], 60);
		await a.close();
		const raw = new Database(file, { readonly: true });
		expect(raw.prepare("SELECT count(*) FROM receipt_pushes").pluck().get()).toBe(140);
		raw.close();
		const b = await open();
		for (const m of [sent[0], sent[39], sent[99]]) {
			expect((await b.receipts("r", m?.id ?? ""))?.receipts.map((r) => [r.recipient, r.pushedAt]), m?.id).toEqual([
				["bob", 50],
				["carol", 50],
				["dave", 50],
			]);
		}
		await b.close();
	});

	it("retention takes the receipt rows of what it deletes, pushed marks still in memory included", async () => {
		const store = await open();
		const old = (await store.append({ ...dm(1), sentAt: 1 })).message;
		const kept = (await store.append({ ...dm(2), sentAt: 100 })).message;
		await store.markPushed("r", [{ seq: old.seq, recipients: ["bob"] }], 5);
		await store.markPushed("r", [{ seq: kept.seq, recipients: ["bob"] }], 5);
		await store.ack("r", "bob", [old.id]);
		await store.applyRetention({ olderThan: 50 });
		await store.close();
		const raw = new Database(file, { readonly: true });
		expect(raw.prepare("SELECT seq FROM receipt_pushes").pluck().all()).toEqual([kept.seq]);
		expect(raw.prepare("SELECT count(*) FROM receipt_seen").pluck().get()).toBe(0);
		raw.close();
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
		await store.stats(); // commits the append (otherwise a few ms later), for the reader below
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
		// The topic sub-store's writes are guarded too: the same StorageError, recorded in the same health.
		let subErr: unknown;
		for (let i = 0; i < 2000 && !subErr; i++) {
			subErr = await store.topics.subscribe("r", `t${i}-${"x".repeat(200)}`.slice(0, 64), `s${i}`, 1, 10).then(() => undefined, (e: unknown) => e);
		}
		expect(subErr).toBeInstanceOf(StorageError);
		expect(subErr).toMatchObject({ code: "SQLITE_FULL" });
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
