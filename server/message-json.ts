/**
 * One JSON text per message, shared by everything that writes it: the append journal's record, each push
 * (`message` frame) and the send's result. A send stringified its message three times before, 5-12 µs
 * each on the hub's VM when the process is not warm (one send at a time), which was a fifth of a send's
 * way to its push. The text is kept on the object, under a non-enumerable symbol: JSON.stringify, spreads
 * and structured clones do not see it (so a copy never carries a stale text), and messages are never
 * changed once built. A WeakMap did the same at 2 µs more per message (its entries cost the GC). A message
 * read back from the store or received from another hub is stringified once on first use, like any other.
 */
import type { Message, RequestId, ResultOf } from "./protocol.js";

const TEXT = Symbol("message JSON");

/** JSON.stringify(message), computed once per message object. */
export function messageJson(message: Message): string {
	const held = (message as { [TEXT]?: string })[TEXT];
	if (held !== undefined) return held;
	const text = JSON.stringify(message);
	Object.defineProperty(message, TEXT, { value: text });
	return text;
}

/** The `message` push: the same text as JSON.stringify({ type: "message", message }). */
export function messageFrame(message: Message): string {
	return `{"type":"message","message":${messageJson(message)}}`;
}

/** A send's `result` frame: the same text as JSON.stringify({ type: "result", id, result }), in its key order. */
export function sendResultFrame(id: RequestId, result: ResultOf<"send">): string {
	const { message, duplicate, live, queued, warnings } = result;
	return `{"type":"result","id":${JSON.stringify(id)},"result":{"message":${messageJson(message)},"duplicate":${duplicate},"live":${JSON.stringify(live)},"queued":${JSON.stringify(queued)},"warnings":${JSON.stringify(warnings)}}}`;
}
