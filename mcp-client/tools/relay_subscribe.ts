/** relay_subscribe: have the hub deliver every message sent to a topic to this session, from now on. */
import { z } from "zod";
import { safeTarget } from "../framing.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

/** A topic as the tools take it: `shop:api` or `#shop:api`. */
export const TopicSchema = z.string().min(1, "topic is empty").max(256).describe("A topic name, e.g. shop:api (letters, digits, _ - . :), with or without its #");

/** `#name` for a sentence (validated; `invalid` for anything else). */
export const hashed = (topic: string) => safeTarget(`#${topic.replace(/^#/, "")}`);

export const SubscriptionSchema = {
	topic: z.string(),
	subscribed: z.boolean(),
	changed: z.boolean().describe("False when nothing changed (already subscribed, or was not)"),
	topics: z.array(z.string()).describe("This session's topics now"),
};

export const registerSubscribe: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_subscribe",
		{
			title: "Subscribe to a relay topic",
			description:
				"Subscribe this session to a topic (e.g. shop:api): every message sent to #shop:api from now on reaches you, online or not. The hub keeps the subscription across restarts; anyone in the room can send to a topic.",
			inputSchema: { topic: TopicSchema },
			outputSchema: SubscriptionSchema,
			annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
		},
		({ topic }) =>
			guard(async () => {
				const link = await ctx.link();
				const r = await link.request("subscribe", { topic });
				const all = r.topics.map(hashed).join(", ");
				return ok(`${r.changed ? "Subscribed to" : "Already subscribed to"} ${hashed(r.topic)}; your topics: ${all}.`, r);
			}),
	);
};
