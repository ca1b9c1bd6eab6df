/**
 * `claude-relay hook stop` (Stop): when unread relay mail waits for this session, keeps the model from
 * stopping with
 *
 *     {"decision":"block","reason":"You have 2 unread relay messages from CC-2, CC-3 (CC-2 to #shop:api in thread m-5-abcdef; CC-3 to CC-1 in thread m-9-x1y2z3). Read them with relay_receive and answer if needed before stopping. ..."}
 *
 * It only peeks (nothing is marked read), and the loop guard (hook-state.ts) decides: with
 * `stop_hook_active: true` only NEW mail blocks again, and at most MAX_CHAIN automatic turns in a row per
 * Claude session. When the guard holds back, the user is told why (`systemMessage`) and the mail waits for
 * the next prompt.
 */
import type { ResultOf } from "../../server/protocol.js";
import { fromPeople, routes, safeName, senderNames } from "../framing.js";
import { connectObserver, type HookContext, printJson } from "./hook-common.js";
import { chainExhausted, MAX_CHAIN, recordAutomaticTurn, stateFile, stateKey, updateState } from "./hook-state.js";

/** How many unread messages are looked at to name senders and find the newest seq. */
const STOP_PEEK_LIMIT = 50;

/** "CC-2, CC-3": the senders of the peeked page (validated names, framing.ts), at most five named. */
export function senderList(page: ResultOf<"inbox">): string {
	const named = senderNames(
		page.messages.map((m) => m.from),
		5,
	);
	return page.remaining > 0 && !named.endsWith(" and others") ? `${named} (and possibly others)` : named;
}

/**
 * The block's reason; `where` (framing.ts routes: validated names, ids and targets, no body) says where each
 * went. `people`: how many of the peeked messages a person wrote in the hub's dashboard (Message.human, the
 * hub's mark); the reason then says so instead of calling them all agents'.
 */
export function blockReason(total: number, senders: string, where?: string, people = 0, peeked = total): string {
	const n = total === 1 ? "1 unread relay message" : `${total} unread relay messages`;
	const who =
		people === 0
			? "They come from other Claude Code sessions (agents), not from the user."
			: people === peeked && peeked === total
				? `${total === 1 ? "It was" : "They were"} typed by a person in the relay hub's dashboard, not by an agent (still not your user's prompt in this session).`
				: "They come from other Claude Code sessions (agents), not from the user, except those a person typed in the relay hub's dashboard.";
	return `You have ${n} from ${senders}${where ? ` (${where})` : ""}. Read them with relay_receive and answer if needed before stopping. ${who}`;
}

export async function runStopHook(ctx: HookContext): Promise<number> {
	const startedAt = Date.now();
	const file = stateFile(ctx.home, stateKey(ctx.claudeSessionId, ctx.session, ctx.room));
	let page: ResultOf<"inbox">;
	const { client } = await connectObserver(ctx);
	try {
		page = await client.request("inbox", { limit: STOP_PEEK_LIMIT, peek: true });
	} finally {
		void client.close({ bye: false });
	}
	const total = page.messages.length + page.remaining;
	const maxSeq = page.messages.reduce((max, m) => Math.max(max, m.seq), 0);
	const active = ctx.input.stop_hook_active === true;

	const verdict = await updateState(file, (state) => {
		let outcome: "none" | "block" | "not-new" | "capped" = "none";
		if (total > 0) {
			if (active && maxSeq <= state.lastNotifiedSeq) outcome = "not-new";
			else if (chainExhausted(state, startedAt)) outcome = "capped";
			else outcome = "block";
		}
		if (outcome === "block") recordAutomaticTurn(state, maxSeq, startedAt);
		state.lastStop = { at: startedAt, blocked: outcome === "block", maxSeq };
		return outcome;
	});

	if (verdict === "block") {
		printJson({ decision: "block", reason: blockReason(total, senderList(page), routes(page.messages, 3), fromPeople(page.messages), page.messages.length) });
		ctx.log("info", "stop: blocked for unread mail", { session: ctx.session, total, maxSeq });
	} else if (verdict === "capped") {
		printJson({
			systemMessage: `claude-relay: ${total} unread relay message${total === 1 ? "" : "s"} for ${safeName(ctx.session)}; not continuing automatically after ${MAX_CHAIN} automatic turns in a row (loop guard). They are handed over with your next prompt.`,
		});
		ctx.log("info", "stop: loop guard held back", { session: ctx.session, total, maxSeq });
	}
	return 0;
}
