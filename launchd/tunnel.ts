/**
 * `claude-relay tunnel user@host`: an SSH tunnel to a hub on another machine, in the foreground. The
 * implementation behind launchd/tunnel-command.ts.
 */
import { createServer } from "node:net";
import { UserError } from "../sessions/cli-errors.js";
import { exec } from "./exec.js";
import {
	checkPort,
	checkSshTarget,
	explainSshFailure,
	findSshProgram,
	tunnelArgs,
} from "./ssh.js";

export interface TunnelOptions {
	target: string;
	/** Local port (where the bridges connect). */
	port: number;
	/** The hub's port on the far machine. */
	remotePort: number;
	/** Use ssh even when autossh is installed. */
	forceSsh: boolean;
}

/** Resolves when 127.0.0.1:port can be listened on (and is released again); throws UserError otherwise. */
export function assertPortFree(port: number): Promise<void> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", (err: NodeJS.ErrnoException) => {
			if (err.code === "EADDRINUSE")
				reject(
					new UserError(
						`local port ${port} is already in use: a tunnel or the hub may already be running on this machine (see \`claude-relay launchd status\` or \`lsof -i :${port}\`). Stop it, or choose another local port with --port.`,
					),
				);
			else if (err.code === "EACCES")
				reject(
					new UserError(
						`not allowed to listen on local port ${port}; choose a port above 1023 with --port`,
					),
				);
			else reject(err);
		});
		server.listen({ host: "127.0.0.1", port, exclusive: true }, () =>
			server.close(() => resolve()),
		);
	});
}

/** What a person must know about the two ports (each a line, or nothing when both are the defaults). */
export function tunnelNotes(port: number, remotePort: number): string {
	const notes: string[] = [];
	if (port !== 9999) notes.push(`bridges on this machine connect to ws://localhost:${port}: give them RELAY_URL=ws://localhost:${port} (or --url)`);
	if (remotePort === 9999 && port !== 9999) notes.push("the hub's port over there is 9999, the default (--remote-port for another)");
	return notes.map((n) => `claude-relay tunnel: ${n}\n`).join("");
}

/** Runs the tunnel until ssh exits or the user stops it; returns the exit code for the CLI. */
export async function runTunnel(opts: TunnelOptions): Promise<number> {
	checkSshTarget(opts.target);
	checkPort(opts.port, "--port");
	checkPort(opts.remotePort, "--remote-port");
	const program = findSshProgram(opts.forceSsh);
	if (!program)
		throw new UserError(
			"neither autossh nor ssh is on PATH; install OpenSSH (and autossh for reconnects)",
			127,
		);
	if (program.name === "ssh" && !opts.forceSsh)
		process.stderr.write(
			"claude-relay tunnel: autossh is not installed, using plain ssh (no automatic reconnect; brew install autossh / apt install autossh)\n",
		);
	await assertPortFree(opts.port);

	const args = tunnelArgs(
		program.name,
		opts.port,
		opts.remotePort,
		opts.target,
	);
	process.stderr.write(
		`claude-relay tunnel: localhost:${opts.port} -> ${opts.target} port ${opts.remotePort} via ${program.name}; Ctrl-C stops it\n${tunnelNotes(opts.port, opts.remotePort)}`,
	);
	const result = await exec(program.path, args, { stdio: "inherit" });
	if (result.interrupted) {
		process.stderr.write("claude-relay tunnel: stopped\n");
		return 0;
	}
	const why = explainSshFailure(result.code, result.stderr, {
		...opts,
		program: program.name,
	});
	if (why === undefined) {
		process.stderr.write("claude-relay tunnel: the connection closed\n");
		return 0;
	}
	throw new UserError(why, result.code === 0 ? 1 : result.code);
}
