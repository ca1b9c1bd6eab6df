/**
 * Is a SQLite file sound? The store runs `PRAGMA quick_check` at open and refuses a damaged file: a hub
 * that starts on one fails only some requests later (a recipient whose inbox sits on a bad page is cut off
 * at every connect while /healthz says ok). `claude-relay db check` runs the thorough `integrity_check`.
 *
 * Cost, measured on a 2-core VM with 100,000 messages of 256 bytes (a 40 MB file): quick_check 50 ms,
 * integrity_check (which also checks every index against its table) 190 ms; with 2 KB bodies (400 MB)
 * 200 ms and 390 ms. quick_check is cheap enough to run at every start.
 */
import { existsSync } from "node:fs";
import Database from "better-sqlite3";

/** At most this many problems are collected; the first few already say the file is damaged. */
const MAX_PROBLEMS = 20;

/** SQLite result codes that mean the file itself is damaged, or is not a database. */
export function isCorruption(err: unknown): boolean {
	const code = (err as { code?: unknown } | null)?.code;
	return typeof code === "string" && (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB");
}

/**
 * What `quick_check` (or, `thorough`, `integrity_check`) reports: [] when the file is sound. SQLite may
 * also fail the check itself ("database disk image is malformed"); then each table is checked on its own,
 * so the answer still says which ones are damaged.
 */
export function integrityProblems(db: Database.Database, thorough: boolean): string[] {
	const pragma = thorough ? "integrity_check" : "quick_check";
	const run = (arg: string): string[] => {
		const rows = db.pragma(`${pragma}${arg}`, { simple: false }) as Record<string, string>[];
		const lines = rows.map((row) => String(Object.values(row)[0]));
		return lines.length === 1 && lines[0] === "ok" ? [] : lines;
	};
	try {
		return run(`(${MAX_PROBLEMS})`);
	} catch (err) {
		if (!isCorruption(err)) throw err;
		const whole = (err as Error).message;
		let tables: string[];
		try {
			tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[];
		} catch {
			return [whole];
		}
		const problems: string[] = [];
		for (const table of tables) {
			try {
				for (const line of run(`("${table.replace(/"/g, '""')}")`)) problems.push(`table ${table}: ${line}`);
			} catch (tableErr) {
				problems.push(`table ${table} (or one of its indexes): ${(tableErr as Error).message}`);
			}
		}
		return problems.length > 0 ? problems.slice(0, MAX_PROBLEMS) : [whole];
	}
}

/** A path as a shell would need it typed. */
function shellQuote(path: string): string {
	return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/** What to do about a damaged file, as the hub and `db check` print it. */
export function damagedAdvice(file: string): string {
	const f = shellQuote(file);
	return [
		"To go on (with no hub running on it):",
		`  - restore ${f} from a backup; or`,
		`  - move it aside together with its -wal and -shm files, if any, and start again with an empty database:`,
		`      mkdir ${f}.damaged && mv ${f} ${f}-wal ${f}-shm ${f}.damaged/`,
		`    (sqlite3's ".recover" can often save most messages from the moved copy);`,
		`  - \`claude-relay db check --db ${f}\` lists every problem it finds.`,
	].join("\n");
}

/** The store refuses to open a damaged file; the message says what is wrong and what to do. */
export class DamagedDatabaseError extends Error {
	override name = "DamagedDatabaseError";
	constructor(
		readonly file: string,
		readonly problems: string[],
	) {
		const first = problems.slice(0, 3).join("; ");
		const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : "";
		super(
			`The database ${file} is damaged: ${first}${more}. The hub will not start on it, so that nothing more is written into a damaged file.\n${damagedAdvice(file)}`,
		);
	}
}

export interface CheckResult {
	/** False when the file could not be checked at all (missing); `problems` then says why. */
	checked: boolean;
	problems: string[];
	/** Messages stored, when the file is sound enough to count them. */
	messages?: number;
}

/**
 * The thorough check of a file, for `claude-relay db check`. Read-only: safe while a hub runs on the file
 * (WAL readers never block the writer), and it never writes into a damaged file.
 */
export function checkDatabaseFile(file: string): CheckResult {
	if (!existsSync(file)) return { checked: false, problems: [`there is no database at ${file}`] };
	let db: Database.Database;
	try {
		db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
	} catch (err) {
		return { checked: false, problems: [`cannot open ${file}: ${(err as Error).message}`] };
	}
	try {
		const problems = integrityProblems(db, true);
		if (problems.length > 0) return { checked: true, problems };
		let messages: number | undefined;
		try {
			messages = db.prepare("SELECT count(*) FROM messages").pluck().get() as number;
		} catch {
			// not a hub database (no messages table): sound, but nothing to count
		}
		return { checked: true, problems: [], messages };
	} catch (err) {
		return { checked: true, problems: [(err as Error).message] };
	} finally {
		db.close();
	}
}
