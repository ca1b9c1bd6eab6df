/** relay_unsubscribe: stop receiving a topic's messages (its log stays readable with relay_history). */
import { hashed, SubscriptionSchema, TopicSchema } from "./relay_subscribe.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

export const registerUnsubscribe: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_unsubscribe",
		{
			title: "Unsubscribe from a relay topic",
			description: "Stop receiving messages sent to a topic. Its log stays readable with relay_history {topic}.",
			inputSchema: { topic: TopicSchema },
			outputSchema: SubscriptionSchema,
			annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
		},
		({ topic }) =>
			guard(async () => {
				const link = await ctx.link();
				const r = await link.request("unsubscribe", { topic });
				const rest = r.topics.length ? r.topics.map(hashed).join(", ") : "none";
				return ok(`${r.changed ? "Unsubscribed from" : "Was not subscribed to"} ${hashed(r.topic)}; your topics: ${rest}.`, r);
			}),
	);
};
