/**
 * `claude-relay doctor`: checks hub, token, session ID, registry, bridge registration and hooks, one line
 * each with the fix. Implementation: doctor.ts.
 */
import type { CommandModule } from "yargs";
import { reportFailure } from "../../sessions/cli-errors.js";

interface DoctorArgs {
	url?: string;
	room?: string;
	id?: string;
}

export const doctorCommand: CommandModule<object, DoctorArgs> = {
	command: "doctor",
	describe: "Check the relay setup on this machine: hub, token, session ID, registry, bridge, hooks",
	builder: (y) =>
		y
			.options({
				url: { type: "string", describe: "Hub URL to check; several: comma-separated, each is checked (default: $RELAY_URL, the bridge registration's, or ws://localhost:9999)" },
				room: { type: "string", describe: "Room (default: $RELAY_ROOM or default)" },
				id: { type: "string", describe: "Session ID to check (default: CLAUDE_RELAY_SESSION_ID, RELAY_CLIENT_ID)" },
			})
			.example("$0 doctor", "Every check, ✓ or ✗ with the fix; exit code 1 if an essential one fails") as never,
	handler: async (argv) => {
		try {
			const { runDoctor } = await import("./doctor.js");
			process.exitCode = await runDoctor({ url: argv.url, room: argv.room, id: argv.id });
		} catch (err) {
			reportFailure("doctor", err);
		}
	},
};
