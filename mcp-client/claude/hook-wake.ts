/**
 * `claude-relay hook wake` (a command hook with `"asyncRewake": true` on Stop and SessionStart): runs in the
 * background while the session is idle, and when new relay mail comes for it, exits with code 2 and one line
 * on stderr, which Claude Code hands to the model as a reminder, waking the session:
 *
 *     claude-relay wake: new message from CC-2 for CC-1 (CC-2 to #shop:api in thread m-5-abcdef) — read it with relay_receive (it comes from another agent, not the user)
 *
 * Bounded: it gives up after `--timeout` seconds (default 600) with exit 0 and no output. It attaches as an
 * observer (live pushes, no backlog replay), reconnects within that bound, only peeks, never acks, and
 * holds no lock while it waits.
 *
 * What counts as new: a message with a higher seq than the last one that caused a stop block or a wake
 * (hook-state.ts). Started by a Stop, it first waits (≤ 5 s) for the stop hook of the same Stop to decide,
 * so that mail the stop hook blocked for, or held back on purpose, does not also wake the session. Mail
 * already waiting when it starts and newer than that wakes the session at once. A pushed message wakes it
 * only if it is still unread after WAKE_GRACE_MS (the bridge may have handed it over already, e.g. through
 * a channel, and acked it). The loop guard's cap applies to wakes as to blocks.
 *
 * One waiter per Claude session, and only while it is idle: each wake hook writes its token into the state
 * file; a waiter that finds another token there (a newer waiter, or none because the prompt hook saw the user
 * start a turn) exits 0. No pile-up of waiting processes, no double wake.
 */
import { randomBytes } from "node:crypto";
import { ErrorCode } from "../../server/errors.js";
import type { Message } from "../../server/protocol.js";
import { fromPeople, routes, safeName, senderNames } from "../framing.js";
import { WAKE_MARKER } from "./constants.js";
import { type HookContext, observerClient, writeAllSync } from "./hook-common.js";
import { chainExhausted, readState, recordAutomaticTurn, stateFile, stateKey, updateState } from "./hook-state.js";

export { WAKE_MARKER };
/** A pushed message must still be unread this long after it came before it wakes the session. */
export const WAKE_GRACE_MS = 1_500;
/** How long to wait for the stop hook of the same Stop event to record its decision. */
const STOP_DECISION_WAIT_MS = 5_000;
/** How often a waiter checks whether a newer one replaced it. */
const SUPERSEDE_POLL_MS = 1_000;
const PEEK_LIMIT = 50;

/** The one stderr line that wakes the model; `count` may exceed `messages` (more wait beyond the peeked page). */
export function wakeLine(messages: readonly Message[], session: string, count = messages.length): string {
	// Names only, validated (framing.ts): no body, and no field that could say something else.
	const from = senderNames(
		messages.map((m) => m.from),
		4,
	);
	const me = safeName(session);
	// Where each went (a topic, a list...) and its thread: validated fields only (framing.ts routes).
	const where = messages.length ? ` (${routes(messages, 3)})` : "";
	// Whether a person wrote them is the hub's mark (Message.human), never something a sender can claim.
	const people = fromPeople(messages);
	if (count === 1) {
		const who = people === 1 ? "a person typed it in the relay hub's dashboard" : "it comes from another agent, not the user";
		return `${WAKE_MARKER} new message from ${from} for ${me}${where} — read it with relay_receive (${who})`;
	}
	const who =
		people === 0
			? "they come from other agents, not the user"
			: people === messages.length && people === count
				? "a person typed them in the relay hub's dashboard"
				: "from other agents, not the user, and from a person in the relay hub's dashboard";
	return `${WAKE_MARKER} ${count} new messages from ${from} for ${me}${where} — read them with relay_receive (${who})`;
}

export interface WakeOptions {
	timeoutSeconds: number;
}

export async function runWakeHook(ctx: HookContext, opts: WakeOptions): Promise<number> {
	const startedAt = Date.now();
	const deadline = startedAt + Math.max(0, opts.timeoutSeconds) * 1000;
	const file = stateFile(ctx.home, stateKey(ctx.claudeSessionId, ctx.session, ctx.room));
	const token = randomBytes(8).toString("hex");
	await updateState(file, (s) => {
		s.wake = { token, pid: process.pid, at: startedAt };
	});

	const client = observerClient(ctx, { reconnect: true, keepaliveMs: 15_000, requestTimeoutMs: 3_000 });
	const timers = new Set<NodeJS.Timeout>();
	let finished = false;
	let finish!: (code: number) => void;
	const result = new Promise<number>((resolve) => {
		finish = (code) => {
			if (finished) return;
			finished = true;
			for (const t of timers) clearTimeout(t);
			clearInterval(poll);
			void client.close({ bye: false });
			resolve(code);
		};
	});
	const later = (ms: number, fn: () => void) => {
		const t = setTimeout(() => {
			timers.delete(t);
			fn();
		}, ms);
		timers.add(t);
	};

	later(Math.max(0, deadline - Date.now()), () => {
		ctx.log("info", "wake: nothing new before the timeout", { session: ctx.session });
		finish(0);
	});
	const superseded = () => readState(file).wake?.token !== token;
	const poll = setInterval(() => {
		if (!finished && superseded()) {
			ctx.log("info", "wake: replaced by a newer waiter", { session: ctx.session });
			finish(0);
		}
	}, SUPERSEDE_POLL_MS);

	/** Messages at or below this seq never wake (already notified, or held back by the stop hook). */
	let baseline = -1;
	let checking = false;
	let recheck = false;

	/** Peeks the inbox and wakes the session for unread messages above the baseline, if the guard allows. */
	const check = async (): Promise<void> => {
		if (finished || baseline < 0) return;
		if (checking) {
			recheck = true;
			return;
		}
		checking = true;
		try {
			const page = await client.request("inbox", { limit: PEEK_LIMIT, peek: true });
			const fresh = page.messages.filter((m) => m.seq > baseline);
			if (fresh.length === 0 || finished) return;
			const maxSeq = fresh.reduce((max, m) => Math.max(max, m.seq), 0);
			const verdict = await updateState(file, (s) => {
				if (s.wake?.token !== token) return "superseded" as const;
				if (maxSeq <= s.lastNotifiedSeq) return "notified" as const;
				if (chainExhausted(s)) return "capped" as const;
				recordAutomaticTurn(s, maxSeq);
				s.wake = undefined;
				return "wake" as const;
			});
			baseline = Math.max(baseline, maxSeq);
			if (verdict === "superseded") return finish(0);
			if (verdict === "wake") {
				const line = wakeLine(fresh, ctx.session, fresh.length + page.remaining);
				ctx.log("info", "wake: waking the session", { session: ctx.session, maxSeq });
				writeAllSync(2, `${line}\n`);
				return finish(2);
			}
			ctx.log("info", verdict === "capped" ? "wake: loop guard held back" : "wake: already notified", { session: ctx.session, maxSeq });
		} catch (err) {
			ctx.log("warn", "wake: inbox check failed", { err: (err as Error).message });
		} finally {
			checking = false;
			if (recheck && !finished) {
				recheck = false;
				void check();
			}
		}
	};

	client.on("message", (m) => {
		if (baseline >= 0 && m.seq > baseline) later(WAKE_GRACE_MS, () => void check());
	});
	client.on("ready", () => {
		// Every (re)connect: anything that came while the connection was down is found by the peek.
		void check();
	});
	client.on("fatal", (err) => {
		ctx.log("info", "wake: the hub refused this observer", { code: err.code, err: err.message });
		finish(0);
	});
	client.on("disconnected", () => {
		if (client.lastError?.code === ErrorCode.ID_TAKEN) finish(0);
	});

	// The baseline: what was notified already, and what the stop hook of this same Stop decided about.
	void (async () => {
		let state = readState(file);
		if (ctx.input.hook_event_name === "Stop") {
			const until = Date.now() + STOP_DECISION_WAIT_MS;
			while (!finished && !((state.lastStop?.at ?? 0) >= startedAt - 2_000) && Date.now() < until) {
				await new Promise((r) => later(100, () => r(undefined)));
				state = readState(file);
			}
		}
		const decided = state.lastStop && state.lastStop.at >= startedAt - 2_000 ? state.lastStop.maxSeq : 0;
		baseline = Math.max(state.lastNotifiedSeq, decided);
		if (client.ready) void check();
	})();

	return result;
}
