/**
 * `claude-relay launchd install|uninstall|status`: run the hub, or an SSH tunnel to a hub on another machine,
 * as a login service (macOS launchd; systemd --user on Linux). Implementation: launchd/launchd.ts.
 */
import type { Argv, CommandModule } from "yargs";
import { reportFailure } from "../sessions/cli-errors.js";

const DEFAULT_PORT = 9999;

function envPort(name: string): number | undefined {
	const raw = process.env[name]?.trim();
	return raw ? Number(raw) : undefined;
}

interface InstallArgs {
	tunnel: string | undefined;
	autowake: boolean;
	port: number;
	"remote-port": number | undefined;
	ssh: boolean;
	"dry-run": boolean;
}

const installCommand: CommandModule<object, InstallArgs> = {
	command: "install",
	describe:
		"Install and start the hub service (or, with --tunnel, an SSH tunnel service)",
	builder: (y) =>
		y
			.option("tunnel", {
				type: "string",
				describe:
					"user@host of the hub's machine: install a tunnel to it instead of the hub",
			})
			.option("autowake", {
				type: "boolean",
				default: false,
				describe: "Install the autowake daemon (claude-relay autowake) instead of the hub, talking to the hub on --port",
			})
			.option("port", {
				type: "number",
				default: envPort("RELAY_PORT") ?? DEFAULT_PORT,
				defaultDescription: `$RELAY_PORT or ${DEFAULT_PORT}`,
				describe: "The hub's port (with --tunnel: the local end of the tunnel)",
			})
			.option("remote-port", {
				type: "number",
				default: envPort("RELAY_REMOTE_PORT"),
				defaultDescription: "$RELAY_REMOTE_PORT or 9999",
				describe: "With --tunnel: the hub's port on the remote machine",
			})
			.option("ssh", {
				type: "boolean",
				default: false,
				describe: "With --tunnel: use plain ssh even when autossh is installed",
			})
			.option("dry-run", {
				type: "boolean",
				default: false,
				describe: "Print what would be written and run; change nothing",
			})
			.example(
				"$0 launchd install",
				"On the hub's machine: start the hub at login, restart it if it dies",
			)
			.example(
				"$0 launchd install --tunnel me@hub-host",
				"On the other machines: keep a tunnel to it",
			)
			.example(
				"$0 launchd install --autowake",
				"Run the autowake daemon at login too",
			)
			.example(
				"$0 launchd install --dry-run",
				"Show the service file and the commands",
			),
	handler: async (argv) => {
		try {
			const { install } = await import("./launchd.js");
			await install({
				tunnel: argv.tunnel,
				port: argv.port,
				remotePort: argv.remotePort,
				forceSsh: argv.ssh,
				autowake: argv.autowake,
				dryRun: argv.dryRun,
			});
		} catch (err) {
			reportFailure("launchd install", err);
		}
	},
};

interface UninstallArgs {
	service: "hub" | "tunnel" | "autowake" | "all";
	"dry-run": boolean;
}

const uninstallCommand: CommandModule<object, UninstallArgs> = {
	command: "uninstall [service]",
	describe: "Stop and remove the installed services",
	builder: (y) =>
		y
			.positional("service", {
				choices: ["hub", "tunnel", "autowake", "all"] as const,
				default: "all" as const,
				describe: "Which one",
			})
			.option("dry-run", {
				type: "boolean",
				default: false,
				describe: "Print what would be run; change nothing",
			})
			.example("$0 launchd uninstall", "Remove the hub and the tunnel services")
			.example(
				"$0 launchd uninstall tunnel",
				"Only the tunnel",
			) as unknown as Argv<UninstallArgs>,
	handler: async (argv) => {
		try {
			const { uninstall } = await import("./launchd.js");
			await uninstall({ which: argv.service, dryRun: argv.dryRun });
		} catch (err) {
			reportFailure("launchd uninstall", err);
		}
	},
};

const statusCommand: CommandModule<object, object> = {
	command: "status",
	describe: "Show whether the services are installed and running",
	handler: async () => {
		try {
			const { status, renderStatus } = await import("./launchd.js");
			process.stdout.write(renderStatus(await status()));
		} catch (err) {
			reportFailure("launchd status", err);
		}
	},
};

export const launchdCommand: CommandModule = {
	command: "launchd",
	aliases: ["service"],
	describe:
		"Run the hub (or a tunnel to it) as a login service: launchd on macOS, systemd --user on Linux",
	builder: (y) =>
		y
			.command(installCommand)
			.command(uninstallCommand)
			.command(statusCommand)
			.demandCommand(1, "Name an action: install, uninstall or status")
			.epilogue("RELAY_PLATFORM=darwin|linux overrides the detected platform."),
	handler: () => {
		// The subcommands do the work.
	},
};
