import { describe, expect, it } from "vitest";
import { messageFrame, messageJson, sendResultFrame } from "../server/message-json.js";
import type { Message } from "../server/protocol.js";

const message = (): Message => ({ id: "m-1-abc", seq: 1, room: "r", from: "A", to: "B", body: 'he said "hi"\n\u2028</script>', replyTo: null, thread: "m-1-abc", sentAt: 5 });

describe("message-json", () => {
	it("writes the same text as JSON.stringify for the push and the send result", () => {
		const m = message();
		expect(messageFrame(m)).toBe(JSON.stringify({ type: "message", message: m }));
		const result = { message: m, duplicate: false, live: ["B"], queued: ["C"], warnings: [{ code: "W_UNKNOWN_RECIPIENT", message: "C has never connected" }] };
		expect(sendResultFrame("id-1", result)).toBe(JSON.stringify({ type: "result", id: "id-1", result }));
		expect(sendResultFrame(7, { ...result, duplicate: true })).toBe(JSON.stringify({ type: "result", id: 7, result: { ...result, duplicate: true } }));
	});

	it("stringifies a message once, and a copy (spread or structured clone) never carries the cached text", () => {
		const m = message();
		const first = messageJson(m);
		expect(messageJson(m)).toBe(first);
		expect(Object.keys(m)).toEqual(Object.keys(message()));
		expect(m).toEqual(message());
		const edited = { ...m, body: "changed" };
		expect(JSON.parse(messageJson(edited)).body).toBe("changed");
		expect(JSON.parse(messageJson(structuredClone(m)))).toEqual(message());
	});
});
