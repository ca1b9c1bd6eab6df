/**
 * The SQLite store's write-ahead journal of appends: `<db>-appends`, next to the database, mode 0600.
 *
 * Why: a SQLite commit in WAL mode writes one page per B-tree a message touches and updates the WAL index,
 * 80–150 µs on the hub's VM, and it was on the path of every send: the hub commits before it answers or
 * pushes. One write(2) of one record per message costs a few µs and is as durable as that commit
 * (synchronous=NORMAL: in the OS's page cache, so it survives the hub process crashing or being SIGKILLed,
 * not a power loss; with synchronous=FULL the journal is fdatasync'd too). So the store inserts a batch into
 * an open SQLite transaction, appends the batch's records here with one write, answers, and commits the
 * transaction a few milliseconds later with the batches after it (sqlite.ts).
 *
 * Recovery: at open, every record whose seq is above the database's last seq is a message that was
 * answered but whose transaction never committed (the process died first); it is inserted again, exactly as
 * it was (same seq, id, key, recipients), so a retry with the same key is a duplicate, as it would have been.
 * Records are framed [u32 length][u32 crc32][JSON]: a torn tail (killed mid-write, never answered) fails its
 * check and is dropped, with everything after it. The JSON is `[2, message, key, stored, recipients]`, where
 * `message` is the message as pushed and answered (its text is shared with them: message-json.ts); a
 * journal left by an earlier version holds 13-field rows, still read.
 *
 * Several processes on one database (two hubs on one file) share the journal: each writes to it only while
 * it holds SQLite's write lock, and each looks at it when it takes the lock for a new transaction; records
 * another process answered but did not commit (it died) are inserted then, before any seq is assigned.
 */
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { crc32 } from "node:zlib";
import { messageJson } from "../message-json.js";
import type { Message } from "../protocol.js";

/** One appended message, as its rows are written: enough to insert it again. */
export interface JournalRecord {
	seq: number;
	id: string;
	room: string;
	from: string;
	to: string;
	body: string;
	replyTo: string | null;
	key: string | null;
	sentAt: number;
	/** messages.recipients: the stored audience (JSON), null for a direct message. */
	stored: string | null;
	thread: string | null;
	human: 1 | null;
	/** One pending delivery each. */
	recipients: string[];
	/** The message as answered: when present, the record is written from its JSON text (shared with the push). */
	message?: Message;
}

const HEADER = 8;

type Row = [number, string, string, string, string, string, string | null, string | null, number, string | null, string | null, 1 | null, string[]];

const toRow = (r: JournalRecord): Row => [r.seq, r.id, r.room, r.from, r.to, r.body, r.replyTo, r.key, r.sentAt, r.stored, r.thread, r.human, r.recipients];

function fromRow(row: Row): JournalRecord {
	const [seq, id, room, from, to, body, replyTo, key, sentAt, stored, thread, human, recipients] = row;
	return { seq, id, room, from, to, body, replyTo, key, sentAt, stored, thread, human, recipients };
}

/** A `[2, message, key, stored, recipients]` record, or null if it is not one. */
function fromMessageRow(row: unknown[]): JournalRecord | null {
	const [, m, key, stored, recipients] = row as [unknown, Message, string | null, string | null, string[]];
	if (typeof m !== "object" || m === null || !Number.isSafeInteger(m.seq) || !Array.isArray(recipients)) return null;
	const { seq, id, room, from, to, body, replyTo, sentAt } = m;
	// A message's thread is its own id unless it is a reply; the row holds a thread for replies only.
	const thread = replyTo === null ? null : (m.thread ?? null);
	return { seq, id, room, from, to, body, replyTo, key, sentAt, stored, thread, human: m.human ? 1 : null, recipients, message: m };
}

/** Frames records for one write, into one buffer (no copy per record: this runs for every send). */
export function encodeRecords(records: readonly JournalRecord[]): Buffer {
	const texts = records.map((r) =>
		r.message ? `[2,${messageJson(r.message)},${JSON.stringify(r.key)},${JSON.stringify(r.stored)},${JSON.stringify(r.recipients)}]` : JSON.stringify(toRow(r)),
	);
	let total = 0;
	for (const t of texts) total += HEADER + Buffer.byteLength(t);
	const out = Buffer.allocUnsafe(total);
	let at = 0;
	for (const t of texts) {
		const length = out.write(t, at + HEADER);
		out.writeUInt32LE(length, at);
		out.writeUInt32LE(crc32(out.subarray(at + HEADER, at + HEADER + length)), at + 4);
		at += HEADER + length;
	}
	return out;
}

/** The whole records of a journal's bytes, up to the first torn or damaged one. */
export function decodeRecords(bytes: Buffer): JournalRecord[] {
	const out: JournalRecord[] = [];
	let at = 0;
	while (at + HEADER <= bytes.length) {
		const length = bytes.readUInt32LE(at);
		const sum = bytes.readUInt32LE(at + 4);
		if (at + HEADER + length > bytes.length) break;
		const payload = bytes.subarray(at + HEADER, at + HEADER + length);
		if (crc32(payload) !== sum) break;
		let row: unknown;
		try {
			row = JSON.parse(payload.toString("utf8"));
		} catch {
			break;
		}
		const record = Array.isArray(row) ? (row.length === 5 && row[0] === 2 ? fromMessageRow(row) : row.length === 13 && Number.isSafeInteger(row[0]) ? fromRow(row as Row) : null) : null;
		if (!record) break;
		out.push(record);
		at += HEADER + length;
	}
	return out;
}

export class AppendJournal {
	readonly file: string;
	#fd: number;
	/** Bytes in the file: where the next record goes, and where a failed write is cut back to. */
	#size: number;

	constructor(
		file: string,
		private readonly sync: boolean,
	) {
		this.file = file;
		this.#fd = openSync(file, "a+", 0o600);
		this.#size = fstatSync(this.#fd).size;
	}

	/** What the file holds (at open: what recovery replays). */
	read(): JournalRecord[] {
		this.#size = fstatSync(this.#fd).size;
		return this.#size === 0 ? [] : decodeRecords(readFileSync(this.file));
	}

	get size(): number {
		return this.#size;
	}

	/**
	 * Whether another process wrote to (or emptied) the file since this one last did: another store on the
	 * same database. One fstat; called once per transaction, with the write lock held.
	 */
	changedElsewhere(): boolean {
		return fstatSync(this.#fd).size !== this.#size;
	}

	/** Appends the records with one write (and an fdatasync when synchronous=FULL); throws if not all of it is written. */
	append(records: readonly JournalRecord[]): void {
		const bytes = encodeRecords(records);
		let done = 0;
		try {
			while (done < bytes.length) done += writeSync(this.#fd, bytes, done, bytes.length - done);
			if (this.sync) fdatasyncSync(this.#fd);
		} catch (err) {
			// A part written (disk full mid-record) must not stay in front of the next record. The file's size
			// is read again: another process's recovery may have emptied it since (of committed records only).
			try {
				if (done > 0) ftruncateSync(this.#fd, fstatSync(this.#fd).size - done);
			} catch {
				// the torn tail fails its checksum at recovery, and so would everything after it
			}
			throw err;
		}
		this.#size += bytes.length;
	}

	/** Empties the file: everything in it is committed to the database. */
	reset(): void {
		ftruncateSync(this.#fd, 0);
		this.#size = 0;
	}

	close(): void {
		closeSync(this.#fd);
	}
}
