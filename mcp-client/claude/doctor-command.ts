/**
 * `claude-relay doctor`: checks hub, token, session ID, registry, bridge registration and hooks, one line
 * each with the fix. Implementation: doctor.ts.
 */
import type { CommandModule } from "yargs";
import { reportFailure } from "../../sessions/cli-errors.js";
import { forOption, type HARNESS_NAMES } from "./install-command.js";

interface DoctorArgs {
	for: (typeof HARNESS_NAMES)[number];
	url?: string;
	room?: string;
	id?: string;
}

export const doctorCommand: CommandModule<object, DoctorArgs> = {
	command: "doctor",
	describe: "Check the relay setup on this machine: hub, token, session ID, registry, and the harness's bridge registration (and hooks)",
	builder: (y) =>
		y
			.options({
				for: forOption,
				url: { type: "string", describe: "Hub URL to check; several: comma-separated, each is checked (default: $RELAY_URL, the bridge registration's, or ws://localhost:9999)" },
				room: { type: "string", describe: "Room (default: $RELAY_ROOM or default)" },
				id: { type: "string", describe: "Session ID to check (default: CLAUDE_RELAY_SESSION_ID, RELAY_CLIENT_ID)" },
			})
			.example("$0 doctor", "Every check, ✓ or ✗ with the fix; exit code 1 if an essential one fails")
			.example("$0 doctor --for codex", "The same, then Codex's registration (env_vars, `codex mcp list`)") as never,
	handler: async (argv) => {
		try {
			const [{ runDoctor }, { HARNESSES }] = await Promise.all([import("./doctor.js"), import("../harness/index.js")]);
			process.exitCode = await runDoctor({ url: argv.url, room: argv.room, id: argv.id, harness: HARNESSES[argv.for] });
		} catch (err) {
			reportFailure("doctor", err);
		}
	},
};
