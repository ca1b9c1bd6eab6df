/** ClaimStore in a plain Map (MemoryStore's `claims`): the reference semantics. */
import { planClaim, sortClaims } from "./claims-common.js";
import type { ClaimInput, ClaimOutcome, ClaimRecord, ClaimStore, ReleaseInput } from "./store.js";

/** Composite map key; JSON keeps it unambiguous whatever the parts contain. */
const k = (...parts: string[]): string => JSON.stringify(parts);

export class MemoryClaimStore implements ClaimStore {
	/** k(room, repo, session, path) → record. */
	readonly #claims = new Map<string, ClaimRecord>();

	constructor(private readonly check: () => void) {}

	async claim(input: ClaimInput): Promise<ClaimOutcome> {
		this.check();
		const live = [...this.#claims.values()].filter((c) => c.room === input.room && c.expiresAt > input.now);
		const inRepo = live.filter((c) => c.repo === input.repo);
		const sessionLive = live.filter((c) => c.session === input.session).length;
		const plan = planClaim(input, inRepo, sessionLive);
		if (plan.status !== "granted") return plan;
		for (const c of plan.claims) this.#claims.set(k(c.room, c.repo, c.session, c.path), { ...c });
		return { status: "granted", claims: plan.claims.map((c) => ({ ...c })) };
	}

	async release(input: ReleaseInput): Promise<ClaimRecord[]> {
		this.check();
		const paths = input.paths ? new Set(input.paths) : undefined;
		const released: ClaimRecord[] = [];
		for (const [key, c] of this.#claims) {
			if (c.room !== input.room || c.session !== input.session) continue;
			if (input.repo !== undefined && c.repo !== input.repo) continue;
			if (paths && !paths.has(c.path)) continue;
			this.#claims.delete(key);
			if (c.expiresAt > input.now) released.push({ ...c });
		}
		return sortClaims(released);
	}

	async list(room: string, query: { repo?: string; session?: string; now: number }): Promise<ClaimRecord[]> {
		this.check();
		const out = [...this.#claims.values()].filter(
			(c) =>
				c.room === room &&
				c.expiresAt > query.now &&
				(query.repo === undefined || c.repo === query.repo) &&
				(query.session === undefined || c.session === query.session),
		);
		return sortClaims(out.map((c) => ({ ...c })));
	}

	async sweep(now: number): Promise<number> {
		this.check();
		let n = 0;
		for (const [key, c] of this.#claims) {
			if (c.expiresAt <= now) {
				this.#claims.delete(key);
				n++;
			}
		}
		return n;
	}
}
