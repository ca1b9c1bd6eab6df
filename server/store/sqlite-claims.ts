/**
 * ClaimStore on the hub's SQLite connection (SqliteStore's `claims`): the conflict check and the write run
 * in one IMMEDIATE transaction, so two claims (from two connections, or two processes on one file) cannot
 * both be granted. Table `claims` from migration 3: one row per (room, repo, session, path).
 */
import type Database from "better-sqlite3";
import { planClaim, sortClaims } from "./claims-common.js";
import type { ClaimInput, ClaimOutcome, ClaimRecord, ClaimStore, ReleaseInput } from "./store.js";

const RECORD = "room, repo, session, path, reason, claimed_at AS claimedAt, expires_at AS expiresAt";

function prepare(db: Database.Database) {
	return {
		liveInRepo: db.prepare<[string, string, number], ClaimRecord>(
			`SELECT ${RECORD} FROM claims WHERE room = ? AND repo = ? AND expires_at > ?`,
		),
		sessionLive: db
			.prepare<[string, string, number], number>("SELECT count(*) FROM claims WHERE room = ? AND session = ? AND expires_at > ?")
			.pluck(),
		dropExpiredInRepo: db.prepare<[string, string, number]>("DELETE FROM claims WHERE room = ? AND repo = ? AND expires_at <= ?"),
		upsert: db.prepare<ClaimRecord>(
			`INSERT INTO claims (room, repo, session, path, reason, claimed_at, expires_at)
			 VALUES (@room, @repo, @session, @path, @reason, @claimedAt, @expiresAt)
			 ON CONFLICT (room, repo, session, path) DO UPDATE SET reason = excluded.reason, expires_at = excluded.expires_at`,
		),
		ofSession: db.prepare<[string, string], ClaimRecord>(`SELECT ${RECORD} FROM claims WHERE room = ? AND session = ?`),
		deleteOne: db.prepare<[string, string, string, string]>("DELETE FROM claims WHERE room = ? AND repo = ? AND session = ? AND path = ?"),
		list: db.prepare<{ room: string; repo: string | null; session: string | null; now: number }, ClaimRecord>(
			`SELECT ${RECORD} FROM claims WHERE room = @room AND expires_at > @now
			   AND (@repo IS NULL OR repo = @repo) AND (@session IS NULL OR session = @session)`,
		),
		sweep: db.prepare<[number]>("DELETE FROM claims WHERE expires_at <= ?"),
	};
}

type Statements = ReturnType<typeof prepare>;

export class SqliteClaimStore implements ClaimStore {
	readonly #statements = new WeakMap<Database.Database, Statements>();

	constructor(private readonly db: () => Database.Database) {}

	#ready(): { db: Database.Database; st: Statements } {
		const db = this.db();
		let st = this.#statements.get(db);
		if (!st) {
			st = prepare(db);
			this.#statements.set(db, st);
		}
		return { db, st };
	}

	async claim(input: ClaimInput): Promise<ClaimOutcome> {
		const { db, st } = this.#ready();
		return db
			.transaction((): ClaimOutcome => {
				st.dropExpiredInRepo.run(input.room, input.repo, input.now);
				const plan = planClaim(input, st.liveInRepo.all(input.room, input.repo, input.now), st.sessionLive.get(input.room, input.session, input.now) ?? 0);
				if (plan.status !== "granted") return plan;
				for (const c of plan.claims) st.upsert.run(c);
				return { status: "granted", claims: plan.claims };
			})
			.immediate();
	}

	async release(input: ReleaseInput): Promise<ClaimRecord[]> {
		const { db, st } = this.#ready();
		const paths = input.paths ? new Set(input.paths) : undefined;
		return db
			.transaction(() => {
				const released: ClaimRecord[] = [];
				for (const c of st.ofSession.all(input.room, input.session)) {
					if (input.repo !== undefined && c.repo !== input.repo) continue;
					if (paths && !paths.has(c.path)) continue;
					st.deleteOne.run(c.room, c.repo, c.session, c.path);
					if (c.expiresAt > input.now) released.push(c);
				}
				return sortClaims(released);
			})
			.immediate();
	}

	async list(room: string, query: { repo?: string; session?: string; now: number }): Promise<ClaimRecord[]> {
		return sortClaims(this.#ready().st.list.all({ room, repo: query.repo ?? null, session: query.session ?? null, now: query.now }));
	}

	async sweep(now: number): Promise<number> {
		return this.#ready().st.sweep.run(now).changes;
	}
}
