/**
 * What the tunnel command and the tunnel service share: the ssh arguments of a tunnel to the hub, the choice
 * between autossh and ssh, the check of the target, and plain-words explanations of ssh failures.
 */
import { UserError } from "../sessions/cli-errors.js";
import { which } from "./exec.js";

/** Keep-alive and fail-fast options: a dead link is noticed within ~90 s, a forward that cannot bind fails. */
export const SSH_TUNNEL_OPTIONS: readonly string[] = [
	"-N",
	"-o",
	"ServerAliveInterval=30",
	"-o",
	"ServerAliveCountMax=3",
	"-o",
	"ExitOnForwardFailure=yes",
];

export interface SshProgram {
	name: "autossh" | "ssh";
	path: string;
}

/** autossh when it is on PATH (unless plain ssh is asked for), else ssh; undefined when neither is. */
export function findSshProgram(
	preferSsh = false,
	env: NodeJS.ProcessEnv = process.env,
): SshProgram | undefined {
	const autossh = preferSsh ? undefined : which("autossh", env);
	if (autossh) return { name: "autossh", path: autossh };
	const ssh = which("ssh", env);
	return ssh ? { name: "ssh", path: ssh } : undefined;
}

/** The arguments after the program name: `-M 0` (autossh's monitor port off) then the ssh options. */
export function tunnelArgs(
	program: SshProgram["name"],
	port: number,
	remotePort: number,
	target: string,
): string[] {
	return [
		...(program === "autossh" ? ["-M", "0"] : []),
		...SSH_TUNNEL_OPTIONS,
		"-L",
		`${port}:localhost:${remotePort}`,
		target,
	];
}

/** Refuses a target ssh would read as an option (`-oProxyCommand=...`) or that cannot be a host. */
export function checkSshTarget(target: string): void {
	if (!target)
		throw new UserError(
			"name the hub's machine: user@host (or a Host from ~/.ssh/config)",
			2,
		);
	if (target.startsWith("-"))
		throw new UserError(
			`the target must be user@host, not an option (got ${JSON.stringify(target)})`,
			2,
		);
	// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters on purpose
	if (/[\s\u0000-\u001f\u007f]/.test(target) || target.length > 255)
		throw new UserError(
			`the target must be user@host without spaces (got ${JSON.stringify(target)})`,
			2,
		);
}

export function checkPort(port: number, what: string): void {
	if (!Number.isInteger(port) || port < 1 || port > 65535)
		throw new UserError(
			`${what} must be a port number from 1 to 65535 (got ${String(port)})`,
			2,
		);
}

interface Explanation {
	test: RegExp;
	say: (ctx: { target: string; port: number; remotePort: number }) => string;
}

const EXPLANATIONS: Explanation[] = [
	{
		test: /Permission denied/gi,
		say: ({ target }) =>
			`permission denied: ${target} refused the login. Check the user name, that your key is loaded (ssh-add -l) and listed in the remote ~/.ssh/authorized_keys; \`ssh ${target}\` shows the details.`,
	},
	{
		test: /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/gi,
		say: ({ target }) =>
			`host key not accepted: run \`ssh ${target}\` once in a terminal to check and accept the host's key (or fix ~/.ssh/known_hosts if it changed).`,
	},
	{
		test: /Could not resolve hostname|Name or service not known|nodename nor servname|Temporary failure in name resolution/gi,
		say: ({ target }) =>
			`host not found: ${target} does not resolve; check the name, or add a Host entry to ~/.ssh/config.`,
	},
	{
		test: /connect to host .* Connection refused/gi,
		say: ({ target }) =>
			`host unreachable: ${target} refused the SSH connection; is sshd running there (macOS: System Settings > General > Sharing > Remote Login)?`,
	},
	{
		test: /timed out|No route to host|Network is unreachable|Connection reset/gi,
		say: ({ target }) =>
			`host unreachable: no answer from ${target} (network, VPN, firewall, or the machine is asleep or off).`,
	},
	{
		test: /Timeout, server .* not responding|Connection to .* closed by remote host|Broken pipe/gi,
		say: ({ target }) =>
			`the connection to ${target} was lost (the network dropped or the server went away).`,
	},
	{
		test: /forwarding failed|cannot listen to port|Address already in use|Could not request local forwarding/gi,
		say: ({ port }) =>
			`forward failed: local port ${port} could not be opened (another tunnel or the hub may hold it: pick another with --port), or the server does not allow port forwarding (AllowTcpForwarding in its sshd_config).`,
	},
	{
		test: /open failed: connect failed/gi,
		say: ({ target, remotePort }) =>
			`the tunnel was up, but nothing listens on port ${remotePort} on ${target}: is the hub running there (\`claude-relay hub\`)?`,
	},
];

/** Where a pattern last matches in the text (-1: nowhere). */
function lastMatch(pattern: RegExp, text: string): number {
	let last = -1;
	for (const m of text.matchAll(pattern)) last = m.index ?? last;
	return last;
}

/** Why ssh/autossh exited as it did, in words a person can act on; undefined when it simply closed (code 0). */
export function explainSshFailure(
	code: number,
	stderr: string,
	ctx: { target: string; port: number; remotePort: number; program: string },
): string | undefined {
	if (code === 0) return undefined;
	if (code === 127)
		return `${ctx.program} was not found or could not be started`;
	// ssh may have printed several complaints while it ran; the last one is why it stopped.
	let best: { at: number; say: Explanation["say"] } | undefined;
	for (const e of EXPLANATIONS) {
		const at = lastMatch(e.test, stderr);
		if (at >= 0 && (best === undefined || at > best.at))
			best = { at, say: e.say };
	}
	if (best) return best.say(ctx);
	if (code === 255)
		return `${ctx.program} could not connect to ${ctx.target} (exit 255); its message is above.`;
	return `${ctx.program} exited with code ${code}; its message is above.`;
}
