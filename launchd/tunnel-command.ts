/**
 * `claude-relay tunnel user@host`: forward a local port to the hub on another machine over SSH, in the
 * foreground (autossh when installed, else ssh). Implementation: launchd/tunnel.ts. For a tunnel that
 * starts at login and restarts by itself: `claude-relay launchd install --tunnel user@host`.
 */
import type { CommandModule } from "yargs";
import { reportFailure } from "../sessions/cli-errors.js";

const DEFAULT_PORT = 9999;

function envPort(name: string): number | undefined {
	const raw = process.env[name]?.trim();
	return raw ? Number(raw) : undefined;
}

interface TunnelArgs {
	target: string;
	port: number;
	"remote-port": number | undefined;
	ssh: boolean;
}

export const tunnelCommand: CommandModule<object, TunnelArgs> = {
	command: "tunnel <target>",
	describe:
		"Forward a local port to a hub on another machine over SSH (foreground; autossh if installed)",
	builder: (y) =>
		y
			.positional("target", {
				type: "string",
				demandOption: true,
				describe: "user@host of the hub's machine",
			})
			.option("port", {
				type: "number",
				default: envPort("RELAY_PORT") ?? DEFAULT_PORT,
				defaultDescription: `$RELAY_PORT or ${DEFAULT_PORT}`,
				describe: "Local port the bridges connect to",
			})
			.option("remote-port", {
				type: "number",
				default: envPort("RELAY_REMOTE_PORT"),
				defaultDescription: `$RELAY_REMOTE_PORT or ${DEFAULT_PORT}`,
				describe: "The hub's port on the remote machine (not --port: that is only this end)",
			})
			.option("ssh", {
				type: "boolean",
				default: process.env.RELAY_TUNNEL_SSH === "1",
				defaultDescription: "$RELAY_TUNNEL_SSH=1 or false",
				describe: "Use plain ssh even when autossh is installed",
			})
			.example(
				"$0 tunnel me@hub-host",
				"localhost:9999 here reaches the hub on hub-host",
			)
			.example(
				"$0 tunnel me@hub-host --port 19999",
				"Another local port (the hub's stays 9999); bridges here then need RELAY_URL=ws://localhost:19999",
			)
			.example(
				"$0 tunnel me@hub-host --remote-port 8888",
				"A hub started on port 8888 over there",
			)
			.epilogue(
				"Runs: autossh -M 0 -N -o ServerAliveInterval=30 -o ServerAliveCountMax=3 -o ExitOnForwardFailure=yes -L PORT:localhost:REMOTE_PORT user@host (ssh with the same options when autossh is absent).",
			),
	handler: async (argv) => {
		try {
			const { runTunnel } = await import("./tunnel.js");
			process.exitCode = await runTunnel({
				target: String(argv.target),
				port: argv.port,
				// The hub listens on 9999 whatever local port the tunnel takes here (--port is usually changed
				// because 9999 is busy on this machine): the far end follows only --remote-port.
				remotePort: argv.remotePort ?? DEFAULT_PORT,
				forceSsh: argv.ssh,
			});
		} catch (err) {
			reportFailure("tunnel", err);
		}
	},
};
