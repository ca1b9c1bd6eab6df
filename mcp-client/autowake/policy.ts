/**
 * The rails: whether the daemon may wake a session for the mail that waits for it now. Every rail is on by
 * default (config.ts); each refusal comes with a stable reason and the numbers behind it, for the audit log.
 *
 * - opted in: the daemon only ever looks at sessions in sessions.json (state.ts); nothing else is woken.
 * - one nudge per batch: a batch is the mail that arrived since the last wake (seq above the last one
 *   nudged for), and it must have settled (no message younger than settle_seconds) so a burst is one wake.
 * - sensitive IDs (picomatch patterns, case-insensitive) only when `autowake on` named them (by: command).
 * - single flight: never a second wake of a session while one is in progress.
 * - hop limit per chain: a chain is the thread of a reply, else the pair of sessions (this one
 *   and the sender). At most hop_limit automatic wakes in a chain; a wake more than quiet_gap_minutes after
 *   the chain's last one starts its count again, and a batch with a message from a person (its sender's
 *   client is one of human_clients: `claude-relay send`, the test client) starts every chain of the batch
 *   again: a person is in the loop. (A person's messages carry no mark of their own: which programs count as
 *   people is configuration, and a script using `claude-relay send` counts as one.)
 * - rate: at most wakes_per_minute wakes of one session in any 60 s.
 * State is in memory and bounded by the number of opted-in sessions and the chains they are in.
 */
import picomatch from "picomatch";
import type { MessageHeader } from "../../server/protocol.js";
import type { AutowakeConfig } from "./config.js";
import type { OptIn } from "./state.js";

export type Refusal = "sensitive" | "busy" | "hop-limit" | "rate-limit";

export type Decision =
	| { wake: false; reason: "nothing-new" | "settling" }
	| { wake: false; reason: Refusal; detail: Record<string, unknown> }
	| { wake: true; batch: MessageHeader[]; chains: string[]; hops: number; senders: string[] };

interface Chain {
	count: number;
	last: number;
}

/** Chains are forgotten once they have been quiet this long past the gap (bounds the map). */
const MAX_CHAINS = 10_000;

export class Rails {
	readonly #cfg: AutowakeConfig;
	readonly #sensitive: (id: string) => boolean;
	readonly #humans: ReadonlySet<string>;
	/** session → highest seq a wake was made for. */
	readonly #nudged = new Map<string, number>();
	readonly #inFlight = new Set<string>();
	readonly #wakes = new Map<string, number[]>();
	readonly #chains = new Map<string, Chain>();

	constructor(config: AutowakeConfig) {
		this.#cfg = config;
		const matchers = config.sensitive.map((p) => picomatch(p, { nocase: true }));
		this.#sensitive = (id) => matchers.some((m) => m(id));
		this.#humans = new Set(config.human_clients);
	}

	isSensitive(session: string): boolean {
		return this.#sensitive(session);
	}

	/**
	 * The chain a message belongs to: the thread of a reply, else this session and its sender. Every message
	 * has a thread, but a new (non-reply) message is the root of its own: two agents trading new messages
	 * would start a fresh "thread" each time and never reach the limit, so those count per pair.
	 */
	static chainOf(session: string, m: MessageHeader): string {
		if (m.thread && m.replyTo) return `thread:${m.thread}`;
		const [a, b] = [session, m.from].sort();
		return `pair:${a}|${b}`;
	}

	decide(session: string, optIn: OptIn, pending: MessageHeader[], now = Date.now()): Decision {
		const after = this.#nudged.get(session) ?? 0;
		const batch = pending.filter((m) => m.seq > after);
		if (batch.length === 0) return { wake: false, reason: "nothing-new" };
		const newest = Math.max(...batch.map((m) => m.sentAt));
		if (now - newest < this.#cfg.settle_seconds * 1000) return { wake: false, reason: "settling" };
		if (this.#sensitive(session) && optIn.by !== "command")
			return { wake: false, reason: "sensitive", detail: { patterns: this.#cfg.sensitive, optedInBy: optIn.by } };
		if (this.#inFlight.has(session)) return { wake: false, reason: "busy", detail: {} };
		const chains = [...new Set(batch.map((m) => Rails.chainOf(session, m)))];
		const gap = this.#cfg.quiet_gap_minutes * 60_000;
		// A person wrote (a chain of its own, with the session pair): someone is in the loop, every chain of
		// the batch starts again.
		const human = this.#hasHuman(batch);
		let hops = 0;
		for (const key of chains) {
			const c = this.#chains.get(key);
			if (!c || human || now - c.last > gap) continue;
			hops = Math.max(hops, c.count);
		}
		if (hops >= this.#cfg.hop_limit)
			return { wake: false, reason: "hop-limit", detail: { chains, hops, limit: this.#cfg.hop_limit, quietGapMinutes: this.#cfg.quiet_gap_minutes } };
		const recent = (this.#wakes.get(session) ?? []).filter((t) => now - t < 60_000);
		this.#wakes.set(session, recent);
		if (recent.length >= this.#cfg.wakes_per_minute)
			return { wake: false, reason: "rate-limit", detail: { lastMinute: recent.length, limit: this.#cfg.wakes_per_minute } };
		return { wake: true, batch, chains, hops: hops + 1, senders: [...new Set(batch.map((m) => m.from))] };
	}

	#hasHuman(batch: MessageHeader[]): boolean {
		return batch.some((m) => m.fromClient !== undefined && this.#humans.has(m.fromClient));
	}

	/** A wake is being attempted: nothing else for this session until `end`. */
	begin(session: string): void {
		this.#inFlight.add(session);
	}

	/**
	 * The nudge went out (or the run started): the batch is done, and the wake counts against the rate and
	 * the chains (a message from a person in the batch starts its chain again at this wake).
	 */
	record(session: string, decision: Extract<Decision, { wake: true }>, now = Date.now()): void {
		this.#nudged.set(session, Math.max(this.#nudged.get(session) ?? 0, ...decision.batch.map((m) => m.seq)));
		this.#wakes.set(session, [...(this.#wakes.get(session) ?? []), now]);
		const gap = this.#cfg.quiet_gap_minutes * 60_000;
		const human = this.#hasHuman(decision.batch);
		for (const key of decision.chains) {
			const c = this.#chains.get(key);
			const fresh = !c || human || now - c.last > gap;
			this.#chains.set(key, { count: fresh ? 1 : c.count + 1, last: now });
		}
		if (this.#chains.size > MAX_CHAINS) {
			for (const [key, c] of this.#chains) if (now - c.last > gap) this.#chains.delete(key);
		}
	}

	/** The attempt is over (woken or not). */
	end(session: string): void {
		this.#inFlight.delete(session);
	}

	/** The mail up to `seq` needs no wake (e.g. it was read meanwhile): never wake for it. */
	skipThrough(session: string, seq: number): void {
		this.#nudged.set(session, Math.max(this.#nudged.get(session) ?? 0, seq));
	}
}
