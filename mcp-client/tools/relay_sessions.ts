/**
 * relay_sessions: the sessions the hub's room has (one page of them; the hub pages in ID order) plus this
 * machine's sessions registry, online or not.
 */
import { z } from "zod";
import { paths } from "../../server/paths.js";
import type { SessionInfo } from "../../server/protocol.js";
import { formatDuration } from "../format.js";
import { clientLabel } from "../harness/clients.js";
import { safeName, safeText } from "../framing.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

const Row = z.object({
	id: z.string(),
	status: z
		.enum(["online", "offline", "ended"])
		.describe("ended: its process is gone from this machine"),
	client: z.string().nullable().describe("The harness it runs in (claude-code, codex, gemini, other; bridge: an older bridge), or the claude-relay program"),
	host: z.string(),
	cwd: z.string(),
	branch: z.string().nullable(),
	pid: z.number().int().nullable(),
	lastSeen: z.number().nullable().describe("Epoch ms"),
	pending: z
		.number()
		.int()
		.nullable()
		.describe("Messages waiting for it at the hub"),
	source: z.enum(["hub", "registry"]),
});
type Row = z.infer<typeof Row>;

export const registerSessions: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_sessions",
		{
			title: "List relay sessions",
			description:
				"List known sessions, online and offline: the hub's view of this room (a page at a time, in ID order) plus this machine's sessions registry. When the hub has more, the answer says so and gives the cursor for the next page.",
			inputSchema: {
				limit: z
					.number()
					.int()
					.min(1)
					.max(500)
					.optional()
					.describe("Sessions per page from the hub (default 100)"),
				cursor: z
					.string()
					.max(256)
					.optional()
					.describe("nextCursor of the previous answer: the page after it"),
			},
			outputSchema: {
				self: z.string(),
				sessions: z.array(Row),
				hubError: z
					.string()
					.nullable()
					.describe("Why the hub's view is missing"),
				hubTotal: z
					.number()
					.int()
					.nullable()
					.describe("Sessions the hub has in this room"),
				nextCursor: z
					.string()
					.nullable()
					.describe("Pass as cursor for the hub's next page; null: this was the last"),
			},
			annotations: { readOnlyHint: true, openWorldHint: false },
		},
		({ limit, cursor }) =>
			guard(async () => {
				const [{ listSessions }, { mergeSessions }] = await Promise.all([
					import("../../sessions/registry.js"),
					import("../../sessions/sessions.js"),
				]);
				const hubQuery = ctx
					.link()
					.then((link) =>
						link.request("sessions", {
							...(limit !== undefined ? { limit } : {}),
							...(cursor !== undefined ? { cursor } : {}),
						}),
					)
					.then((r) => ({
						sessions: r.sessions,
						// Hubs before paging answered everything at once, without these.
						total: r.total ?? r.sessions.length,
						next: r.hasMore ? (r.nextCursor ?? null) : null,
						error: null,
					}))
					.catch((err: Error) => ({
						sessions: undefined,
						total: null,
						next: null,
						error: err.message,
					}));
				const [entries, hub] = await Promise.all([
					listSessions({ file: paths.registry(ctx.config.home) }),
					hubQuery,
				]);
				const byId = new Map<string, SessionInfo>(
					(hub.sessions ?? []).map((s) => [s.session, s]),
				);
				const registered = new Map(entries.map((e) => [e.id, e]));
				const rows: Row[] = mergeSessions(entries, hub.sessions).map((r) => {
					const h = byId.get(r.id);
					const e = registered.get(r.id);
					return {
						id: r.id,
						status: r.status,
						client: clientLabel(h?.meta.client) ?? null,
						host: r.host || h?.meta.host || "",
						cwd: r.cwd || h?.meta.cwd || "",
						branch: h?.meta.branch ?? null,
						pid: r.pid ?? h?.meta.pid ?? null,
						lastSeen: h?.lastSeen ?? (e ? Date.parse(e.lastSeen) : null),
						pending: h?.pending ?? null,
						source: r.source,
					};
				});
				const now = Date.now();
				const lines = rows.map((r) => {
					const where = [r.host, r.cwd].filter(Boolean).join(":");
					const seen =
						r.status !== "online" && r.lastSeen
							? ` seen ${formatDuration(now - r.lastSeen)} ago`
							: "";
					const waiting = r.pending ? ` ${r.pending} waiting` : "";
					return `${safeName(r.id)}${r.id === ctx.session ? " (you)" : ""}  ${r.status}${seen}${r.client ? `  [${safeText(r.client)}]` : ""}  ${where ? safeText(where) : "-"}${r.branch ? ` (${safeText(r.branch)})` : ""}${waiting}`;
				});
				const head = rows.length
					? `${rows.length} sessions:`
					: "No sessions known yet.";
				const tail = hub.error
					? [`Hub not asked successfully (registry only): ${safeText(hub.error)}`]
					: hub.next !== null
						? [
								`The hub has ${hub.total} sessions in this room; this page ends at ${hub.next}. Next page: relay_sessions ${JSON.stringify({ cursor: hub.next })}`,
							]
						: [];
				return ok([head, ...lines, ...tail].join("\n"), {
					self: ctx.session,
					sessions: rows,
					hubError: hub.error,
					hubTotal: hub.total,
					nextCursor: hub.next,
				});
			}),
	);
};
