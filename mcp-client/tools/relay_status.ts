/** relay_status: is the bridge connected, as whom, to which hub, how much is waiting, and what to fix if not. */
import { z } from "zod";
import { ErrorCode, RelayError } from "../../server/errors.js";
import { plural } from "../format.js";
import { HARNESS_CLIENTS } from "../harness/clients.js";
import { safeText } from "../framing.js";
import { guard, ok, type ToolRegistrar } from "./common.js";
import { hashed } from "./relay_subscribe.js";

/** How long status waits for a connection that is being made (a call right after start-up). */
const STATUS_CONNECT_WAIT_MS = 2_000;

export const registerStatus: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_status",
		{
			title: "Relay connection status",
			description:
				"Show whether this session is connected to the relay hub, its ID, messages waiting, round-trip time, and the last error with how to fix it.",
			inputSchema: {},
			outputSchema: {
				connected: z.boolean(),
				hubUrl: z.string().describe("The hub connected to (or last tried)"),
				hubUrls: z.array(z.string()).describe("Every hub this bridge may use, tried in turn"),
				session: z.string(),
				sessionSource: z
					.string()
					.describe(
						"Where the ID came from: CLAUDE_RELAY_SESSION_ID, --client-id, RELAY_CLIENT_ID or hostname-pid",
					),
				room: z.string(),
				harness: z
					.object({
						client: z.enum(HARNESS_CLIENTS).describe("The client meta peers see: claude-code, codex, gemini or other"),
						from: z.enum(["clientInfo", "parent", "env", "none"]).describe("What said so: the MCP client's name, the parent process, its environment, or nothing"),
						clientName: z.string().nullable().describe("The MCP client's clientInfo.name"),
					})
					.nullable()
					.describe("Which agent harness runs this bridge (null until the handshake is done)"),
				renamedFrom: z.string().nullable().describe("The ID this session had before relay_rename"),
				nested: z
					.object({
						base: z.string().describe("The ID this run inherited, held by the session that started it"),
						holderPid: z.number().nullable(),
						via: z.enum(["background", "--client-id"]),
					})
					.nullable()
					.describe("A nested run (a headless run such as claude -p or codex exec started from a session's shell, a subagent): the ID it claimed instead of contesting"),
				waiting: z
					.number()
					.int()
					.nullable()
					.describe(
						"Unread messages (at the hub when connected, else held by the bridge)",
					),
				heldLocally: z.number().int(),
				acksQueued: z.number().int(),
				lost: z
					.number()
					.int()
					.describe(
						"Unread messages deleted by the hub's retention since this bridge started",
					),
				rttMs: z.number().nullable(),
				hubVersion: z.string().nullable(),
				connectedSince: z.number().nullable().describe("Epoch ms"),
				lastError: z
					.object({ code: z.string(), message: z.string() })
					.nullable(),
				logFile: z.string(),
				repo: z.string().nullable().describe("Repository identity of the session's directory (scopes file claims)"),
				watching: z.array(z.string()).describe("Shared state prefixes watched (relay_wait statePrefix)"),
				stateChangesWaiting: z.number().int().describe("Changes by others under watched prefixes, not yet taken by relay_wait"),
				topics: z.array(z.string()).nullable().describe("Topics this session subscribes to (null: not connected)"),
				topicsIgnored: z.array(z.string()).describe("Names in --topics / RELAY_TOPICS that are not topic names"),
				channels: z
					.object({
						mode: z.enum(["on", "off", "auto"]),
						active: z
							.boolean()
							.describe(
								"Whether messages are pushed into this session as <channel> notifications",
							),
						reason: z.string(),
						pushed: z
							.number()
							.int()
							.describe("Messages pushed since the bridge started"),
					})
					.describe(
						"Pushing messages into the running session (Claude Code channels)",
					),
			},
			annotations: { readOnlyHint: true, openWorldHint: false },
		},
		() =>
			guard(async () => {
				const c = ctx.config;
				const link = c.problem ? undefined : await ctx.link();
				if (link && !link.client.ready && !link.fatal)
					await link.ready(STATUS_CONNECT_WAIT_MS).catch(() => undefined);
				const connected = Boolean(link?.client.ready);
				const rttMs =
					connected && link
						? await link.client.ping(2_000).catch(() => link.client.rttMs)
						: (link?.client.rttMs ?? null);
				// Side by side with the inbox count, so that status takes no longer than before on a dead link.
				const [waiting, topics] = await Promise.all([
					link ? link.waiting() : null,
					// Asked only if still connected now (the ping may have found the link dead): never waits for a reconnect.
					link?.client.ready
						? link.client.request("topics", {}, { timeoutMs: 3_000 }).then(
								(r) => r.topics.filter((t) => t.subscribed).map((t) => t.topic),
								() => null,
							)
						: null,
				]);
				let lastError: RelayError | null =
					c.problem ?? link?.fatal ?? link?.client.lastError ?? null;
				if (!connected && !lastError && link)
					lastError = new RelayError(ErrorCode.UNREACHABLE, link.unreachable);
				const hubVersion = link?.client.hello?.hub.version ?? null;
				const source = link?.nested ? `nested run of ${link.nested.base}` : link?.renamedFrom ? `renamed from ${link.renamedFrom}` : c.identity.source;
				const harness = ctx.harnessInfo;
				const who = `${ctx.session} (from ${source}), room ${c.room}${harness ? `, harness ${harness.client}` : ""}`;
				const hubUrl = link?.client.url ?? c.urls[0] ?? c.url;
				const others = c.urls.length > 1 ? ` (of ${c.urls.join(", ")})` : "";
				const lines = [
					connected
						? `Connected to ${hubUrl}${others} as ${who}; hub ${hubVersion}${rttMs !== null ? `, round trip ${rttMs} ms` : ""}.`
						: `NOT connected to ${c.urls.length > 1 ? `any of ${c.urls.join(", ")}` : c.url} (as ${who}).`,
				];
				if (link?.nested)
					lines.push(
						`Nested run: ${link.nested.base} is held by the session that started this one (pid ${link.nested.holder.pid ?? "?"}), so this bridge is ${ctx.session}${link.nested.via === "background" ? " (forgotten when it ends)" : " (its --client-id)"} and never contests ${link.nested.base}.`,
					);
				if (waiting) {
					if (waiting.source === "hub")
						lines.push(
							waiting.count
								? `${plural(waiting.count, "message")} waiting: relay_receive.`
								: "No messages waiting.",
						);
					else if (waiting.count)
						lines.push(
							`${plural(waiting.count, "message")} held by the bridge: relay_receive.`,
						);
				}
				if (link?.lost)
					lines.push(
						`${plural(link.lost, "unread message")} for this session were deleted by the hub's retention before being read.`,
					);
				if (link?.inbox.unsentAcks)
					lines.push(
						`${plural(link.inbox.unsentAcks, "read mark")} to send after reconnect.`,
					);
				const repo = await Promise.race([ctx.repo(), new Promise<null>((r) => setTimeout(() => r(null), 2_500).unref())]);
				const watching = link?.watching ?? [];
				const stateChangesWaiting = link?.stateChangesWaiting ?? 0;
				lines.push(repo ? `Repository: ${repo.identity} (file claims are scoped to it).` : "Not inside a git repository: file claims need relay_claim {repo}.");
				if (watching.length) {
					lines.push(
						`Watching shared state under ${watching.map((w) => JSON.stringify(w)).join(", ")}; ${plural(stateChangesWaiting, "change")} by others waiting for relay_wait${link?.stateDropped ? ` (${link.stateDropped} older dropped)` : ""}.`,
					);
				}
				if (topics?.length) lines.push(`Subscribed to ${topics.map(hashed).join(", ")}.`);
				if (c.topicsInvalid.length) lines.push(`Ignored in --topics / RELAY_TOPICS (not topic names): ${c.topicsInvalid.map((t) => JSON.stringify(safeText(t))).join(", ")}.`);
				const channels = ctx.channelStatus;
				lines.push(
					`Channels ${channels.active ? "active" : "inactive"} (${channels.reason})${channels.pushed ? `; ${plural(channels.pushed, "message")} pushed` : ""}.`,
				);
				if (lastError && !connected)
					lines.push(safeText(`Problem: ${lastError.code}: ${lastError.message}`));
				else if (lastError)
					lines.push(
						safeText(
							`Last error (recovered): ${lastError.code}: ${lastError.message}`,
						),
					);
				return ok(lines.join("\n"), {
					connected,
					hubUrl,
					hubUrls: c.urls,
					session: ctx.session,
					sessionSource: c.identity.source,
					room: c.room,
					harness: harness ? { client: harness.client, from: harness.from, clientName: harness.clientName ?? null } : null,
					renamedFrom: link?.renamedFrom ?? null,
					nested: link?.nested ? { base: link.nested.base, holderPid: link.nested.holder.pid ?? null, via: link.nested.via } : null,
					waiting: waiting?.count ?? null,
					heldLocally: link?.inbox.size ?? 0,
					acksQueued: link?.inbox.unsentAcks ?? 0,
					lost: link?.lost ?? 0,
					rttMs,
					hubVersion,
					connectedSince: link?.client.connectedSince ?? null,
					lastError: lastError
						? { code: lastError.code, message: lastError.message }
						: null,
					logFile: ctx.log.file,
					repo: repo?.identity ?? null,
					watching,
					stateChangesWaiting,
					topics,
					topicsIgnored: c.topicsInvalid,
					channels: {
						mode: channels.mode,
						active: channels.active,
						reason: channels.reason,
						pushed: channels.pushed,
					},
				});
			}),
	);
};
