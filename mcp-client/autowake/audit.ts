/**
 * The audit log: one JSON line per decision the daemon acts on, in $RELAY_HOME/logs/autowake.jsonl, each
 * wake with why it was allowed (the batch's message ids and senders, the chain and its hop count, the
 * driver) and each refusal with why (the rail and its numbers). Never a body: the daemon never has one.
 * A refusal is written once per session, batch and reason, not at every poll. The file is rotated to
 * autowake.jsonl.1 past 10 MiB. Strings in it are JSON-escaped (terminalSafeJson), so `cat` shows no control.
 */
import { appendFileSync, mkdirSync, renameSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { paths } from "../../server/paths.js";
import { sanitizeLine, terminalSafeJson } from "../../server/sanitize.js";

const ROTATE_BYTES = 10 * 1024 * 1024;
const MAX_REMEMBERED = 2_000;

export type AuditEvent =
	| "start"
	| "stop"
	| "wake"
	| "refused"
	| "waiting"
	| "paused"
	| "resumed"
	| "spawn-end"
	| "error";

export interface AuditRecord {
	event: AuditEvent;
	session?: string;
	reason?: string;
	[key: string]: unknown;
}

export const auditFile = (home: string) => join(paths.logs(home), "autowake.jsonl");

export class AuditLog {
	readonly file: string;
	readonly #seen = new Set<string>();

	constructor(
		home: string,
		private readonly echo: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
	) {
		this.file = auditFile(home);
	}

	write(record: AuditRecord): void {
		const line = terminalSafeJson(JSON.stringify({ at: new Date().toISOString(), ...record }));
		try {
			mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
			try {
				if (statSync(this.file).size > ROTATE_BYTES) renameSync(this.file, `${this.file}.1`);
			} catch {
				// no file yet
			}
			appendFileSync(this.file, `${line}\n`, { mode: 0o600 });
		} catch (err) {
			this.echo(`claude-relay autowake: cannot write the audit log ${this.file}: ${(err as Error).message}`);
		}
		this.echo(sanitizeLine(`autowake: ${record.event}${record.session ? ` ${record.session}` : ""}${record.reason ? `: ${record.reason}` : ""}`));
	}

	/** Writes it unless the same `key` was written already (a refusal repeated at every poll). */
	once(key: string, record: AuditRecord): void {
		if (this.#seen.has(key)) return;
		if (this.#seen.size >= MAX_REMEMBERED) this.#seen.clear();
		this.#seen.add(key);
		this.write(record);
	}
}
