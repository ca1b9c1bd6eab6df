/** relay_rename: this live session takes another ID; its unread mail comes along, peers see it renamed. */
import { z } from "zod";
import { ErrorCode, RelayError } from "../../server/errors.js";
import { checkName } from "../../server/protocol.js";
import { plural } from "../format.js";
import { guard, ok, type ToolRegistrar } from "./common.js";

export const registerRename: ToolRegistrar = (server, ctx) => {
	server.registerTool(
		"relay_rename",
		{
			title: "Rename this relay session",
			description:
				"Give this session another relay ID (e.g. when its work moves from CC-1 to API-1). The old ID is released; unread messages move to the new one; peers see the session leave and rejoin as renamed. Messages sent later to the old ID are not forwarded. Refused for an ID another live session holds.",
			inputSchema: {
				to: z.string().min(1, "to is empty: give the new session ID").max(64).describe("The new session ID: a letter, then letters, digits, _ or -"),
			},
			outputSchema: {
				session: z.string().describe("The new ID"),
				from: z.string().describe("The ID this session had"),
				room: z.string(),
				moved: z.number().int().describe("Unread messages that moved to the new ID"),
			},
			annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
		},
		({ to }) =>
			guard(async () => {
				const check = checkName(to, "session ID");
				if (!check.ok) throw new RelayError(ErrorCode.BAD_ID, `${check.reason}. Pick another ID.`);
				const link = await ctx.link();
				const r = await link.rename(to);
				const lines = [
					`This session is now ${r.session} (was ${r.from}) in room ${r.room}.${r.moved ? ` ${plural(r.moved, "unread message")} moved with it: relay_receive.` : ""}`,
					`Peers see ${r.from} leave and ${r.session} join (renamed). Tell people who write to ${r.from}: messages to the old ID are not forwarded.`,
				];
				return ok(lines.join("\n"), { session: r.session, from: r.from, room: r.room, moved: r.moved });
			}),
	);
};
