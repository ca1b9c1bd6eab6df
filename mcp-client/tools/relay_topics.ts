/** relay_topics: every topic in the room, with its subscribers (online or not), message count and last activity. */
import { z } from "zod";
import { TopicInfo } from "../../server/protocol.js";
import { formatDuration, plural } from "../format.js";
import { safeName } from "../framing.js";
import { hashed } from "./relay_subscribe.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

export const registerTopics: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_topics",
		{
			title: "Relay topics",
			description:
				"List every topic in the room: its subscribers (online or not), how many messages its log holds, when it was last active, and whether you subscribe. Send to one with relay_send {to: \"#name\"}.",
			inputSchema: {},
			outputSchema: { topics: z.array(TopicInfo) },
			annotations: { readOnlyHint: true, openWorldHint: false },
		},
		() =>
			guard(async () => {
				const link = await ctx.link();
				const { topics } = await link.request("topics", {});
				if (topics.length === 0) return ok("No topics in this room yet: relay_subscribe {topic} starts one.", { topics });
				const now = Date.now();
				const lines = topics.map((t) => {
					const subs = t.subscribers.length
						? t.subscribers.map((s) => `${safeName(s.session)}${s.online ? "" : " (offline)"}`).join(", ")
						: "no subscribers";
					const last = t.lastActivity === null ? "" : `, last active ${formatDuration(now - t.lastActivity)} ago`;
					return `${hashed(t.topic)}${t.subscribed ? " (you subscribe)" : ""}: ${subs}; ${plural(t.messages, "message")}${last}`;
				});
				return ok([`${plural(topics.length, "topic")} in this room:`, ...lines].join("\n"), { topics });
			}),
	);
};
