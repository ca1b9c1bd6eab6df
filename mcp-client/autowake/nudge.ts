/**
 * The one thing the daemon ever types or passes to a harness: a fixed sentence with a count and sender IDs.
 * Nothing another agent wrote reaches it: N is a number, and each sender is shown only if it is a valid
 * session ID (letters, digits, `_`, `-`), else as "another session". No body, no reply id, no thread name.
 */
import { checkName } from "../../server/protocol.js";

const MAX_NAMED = 3;

export function nudgeText(count: number, senders: readonly string[]): string {
	const n = Number.isSafeInteger(count) && count > 0 ? count : 1;
	const names = [...new Set(senders.map((s) => (checkName(s).ok ? s : "another session")))];
	const shown = names.slice(0, MAX_NAMED);
	const from = shown.join(", ") + (names.length > MAX_NAMED ? ` and ${names.length - MAX_NAMED} more` : "");
	return `You have ${n} relay message${n === 1 ? "" : "s"} from ${from || "another session"}; call relay_receive.`;
}

/** Whether a prompt is exactly a nudge (the prompt hook tells a daemon turn from a person's). */
export function isNudge(text: string): boolean {
	return /^You have \d{1,9} relay messages? from [A-Za-z0-9_, -]{1,300}; call relay_receive\.$/.test(text.trim());
}
