/**
 * `claude-relay launchd install|uninstall|status`: the hub (or an SSH tunnel to a hub elsewhere) as a service
 * that starts at login and restarts when it dies. macOS: a LaunchAgent in ~/Library/LaunchAgents, loaded with
 * launchctl. Linux: a systemd user unit in ~/.config/systemd/user, enabled with systemctl --user.
 *
 * The files are rendered from the templates next to this module with the real paths of this machine (node,
 * dist/cli.js, HOME, RELAY_HOME, logs): nothing to edit by hand. Every external command goes through
 * exec.ts, so tests replace launchctl and systemctl by fakes on PATH; RELAY_PLATFORM=darwin|linux picks the
 * platform (tests run the macOS path on Linux).
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { paths, relayHome } from "../server/paths.js";
import { UserError } from "../sessions/cli-errors.js";
import { exec } from "./exec.js";
import { formatOf, render, type TemplateValues } from "./render.js";
import { checkPort, checkSshTarget, findSshProgram } from "./ssh.js";

export type ServicePlatform = "darwin" | "linux";
export type ServiceKind = "hub" | "tunnel" | "autowake";
export const SERVICE_KINDS: readonly ServiceKind[] = ["hub", "tunnel", "autowake"];

interface ServiceSpec {
	kind: ServiceKind;
	/** launchd label or systemd unit name. */
	name: string;
	/** Template file in launchd/, also the installed file's name. */
	template: string;
}

export const SERVICES: Record<
	ServicePlatform,
	Record<ServiceKind, ServiceSpec>
> = {
	darwin: {
		hub: {
			kind: "hub",
			name: "com.claude-relay",
			template: "com.claude-relay.plist",
		},
		tunnel: {
			kind: "tunnel",
			name: "com.claude-relay-tunnel",
			template: "com.claude-relay-tunnel.plist",
		},
		autowake: {
			kind: "autowake",
			name: "com.claude-relay-autowake",
			template: "com.claude-relay-autowake.plist",
		},
	},
	linux: {
		hub: {
			kind: "hub",
			name: "claude-relay.service",
			template: "claude-relay.service",
		},
		tunnel: {
			kind: "tunnel",
			name: "claude-relay-tunnel.service",
			template: "claude-relay-tunnel.service",
		},
		autowake: {
			kind: "autowake",
			name: "claude-relay-autowake.service",
			template: "claude-relay-autowake.service",
		},
	},
};

/** darwin or linux: RELAY_PLATFORM when set, else this machine's. */
export function servicePlatform(
	env: NodeJS.ProcessEnv = process.env,
): ServicePlatform {
	const p = env.RELAY_PLATFORM?.trim() || process.platform;
	if (p === "darwin" || p === "linux") return p;
	throw new UserError(
		`services are supported on macOS (launchd) and Linux (systemd), not on ${p}`,
	);
}

/** The directory of the package: the nearest parent of this module with claude-relay's package.json. */
function packageRoot(): string {
	let dir = dirname(fileURLToPath(import.meta.url));
	for (;;) {
		const manifest = join(dir, "package.json");
		if (existsSync(manifest)) {
			try {
				if (
					(JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown })
						.name === "claude-relay"
				)
					return dir;
			} catch {
				// not ours; keep looking
			}
		}
		const parent = dirname(dir);
		if (parent === dir)
			throw new UserError(
				"cannot find the claude-relay package directory (its package.json)",
			);
		dir = parent;
	}
}

/** The real path of dist/cli.js: what the services run. */
export function cliPath(root = packageRoot()): string {
	const cli = join(root, "dist", "cli.js");
	if (!existsSync(cli))
		throw new UserError(
			`${cli} does not exist; run \`npm run build\` in ${root} first`,
		);
	return realpathSync(cli);
}

function serviceDir(platform: ServicePlatform, env: NodeJS.ProcessEnv): string {
	const home = homedir();
	if (platform === "darwin") return join(home, "Library", "LaunchAgents");
	const xdg = env.XDG_CONFIG_HOME?.trim();
	return join(
		xdg && isAbsolute(xdg) ? xdg : join(home, ".config"),
		"systemd",
		"user",
	);
}

/** PATH for a service: node's directory first, then the usual system directories (not the caller's PATH). */
function servicePath(platform: ServicePlatform): string {
	const dirs = [dirname(process.execPath)];
	if (platform === "darwin") dirs.push("/opt/homebrew/bin");
	dirs.push("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin");
	return [...new Set(dirs)].join(delimiter);
}

export interface InstallOptions {
	/** user@host: install the tunnel to that machine instead of the hub. */
	tunnel?: string;
	port: number;
	/** The hub's port on the tunnel's far side (default: port). */
	remotePort?: number;
	/** Use plain ssh in the tunnel even when autossh is installed. */
	forceSsh?: boolean;
	/** Install the autowake daemon (on the hub's port) instead of the hub. */
	autowake?: boolean;
	dryRun: boolean;
}

interface Step {
	describe: string;
	/** Runs the step; resolves to an error message when it failed (undefined: success). */
	run: () => Promise<string | undefined>;
	/** Failure does not stop the plan (unloading what may not be loaded). */
	optional?: boolean;
}

/** One printable line for a command: arguments quoted only when they need it. */
export function displayCommand(
	program: string,
	args: readonly string[],
): string {
	const q = (a: string) =>
		/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`;
	return [program, ...args].map(q).join(" ");
}

function command(
	program: string,
	args: string[],
	opts: { optional?: boolean; fallback?: [string, string[]] } = {},
): Step {
	return {
		describe:
			displayCommand(program, args) +
			(opts.fallback ? `  (else: ${displayCommand(...opts.fallback)})` : ""),
		optional: opts.optional,
		run: async () => {
			const first = await exec(program, args);
			if (first.code === 0) return undefined;
			if (opts.fallback) {
				const second = await exec(...opts.fallback);
				if (second.code === 0) return undefined;
				return `${displayCommand(...opts.fallback)} failed (exit ${second.code}): ${(second.stderr || first.stderr).trim()}`;
			}
			return `${displayCommand(program, args)} failed (exit ${first.code}): ${first.stderr.trim()}`;
		},
	};
}

async function runSteps(steps: Step[], dryRun: boolean): Promise<void> {
	for (const step of steps) {
		if (dryRun) {
			process.stdout.write(`would run: ${step.describe}\n`);
			continue;
		}
		const failure = await step.run();
		if (failure && !step.optional) throw new UserError(failure);
	}
}

function uid(): number {
	return process.getuid?.() ?? 0;
}

/** Renders the service file for this machine. */
export function renderService(
	platform: ServicePlatform,
	kind: ServiceKind,
	opts: InstallOptions,
): string {
	const spec = SERVICES[platform][kind];
	const values: TemplateValues = {
		NODE: process.execPath,
		CLI: cliPath(),
		HOME: homedir(),
		RELAY_HOME: resolve(relayHome()),
		LOG_DIR: resolve(paths.logs()),
		PATH: servicePath(platform),
		PORT: opts.port,
	};
	if (kind === "tunnel") {
		const target = opts.tunnel ?? "";
		checkSshTarget(target);
		const program = findSshProgram(opts.forceSsh);
		if (!program)
			throw new UserError(
				"neither autossh nor ssh is on PATH; install OpenSSH (and autossh for reconnects)",
			);
		values.SSH = program.path;
		values.SSH_TARGET = target;
		// The far end is the hub's default port unless --remote-port says otherwise: --port is this end only.
		values.REMOTE_PORT = opts.remotePort ?? 9999;
	}
	const template = readFileSync(
		join(packageRoot(), "launchd", spec.template),
		"utf8",
	);
	return render(template, values, formatOf(spec.template));
}

export async function install(
	opts: InstallOptions,
	env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
	const platform = servicePlatform(env);
	if (opts.tunnel !== undefined && opts.autowake) throw new UserError("--tunnel and --autowake install two services: run the install once for each", 2);
	const kind: ServiceKind = opts.tunnel !== undefined ? "tunnel" : opts.autowake ? "autowake" : "hub";
	checkPort(opts.port, "--port");
	if (opts.remotePort !== undefined)
		checkPort(opts.remotePort, "--remote-port");
	const spec = SERVICES[platform][kind];
	const content = renderService(platform, kind, opts);
	const dir = serviceDir(platform, env);
	const file = join(dir, spec.template);
	const existed = existsSync(file);

	const write: Step = {
		describe: `write ${file}`,
		run: async () => {
			await mkdir(dir, { recursive: true });
			await mkdir(resolve(paths.logs()), { recursive: true, mode: 0o700 });
			await writeFile(file, content, { mode: 0o644 });
			return undefined;
		},
	};
	const steps: Step[] = [];
	if (platform === "darwin") {
		const domain = `gui/${uid()}`;
		// Unload a previous copy first, or bootstrap refuses ("service already loaded").
		if (existed)
			steps.push(
				command("launchctl", ["bootout", `${domain}/${spec.name}`], {
					optional: true,
				}),
			);
		steps.push(write);
		steps.push(
			command("launchctl", ["bootstrap", domain, file], {
				fallback: ["launchctl", ["load", "-w", file]],
			}),
		);
	} else {
		steps.push(write);
		steps.push(command("systemctl", ["--user", "daemon-reload"]));
		steps.push(command("systemctl", ["--user", "enable", "--now", spec.name]));
		// enable --now leaves a running old copy alone: restart it on the new file.
		if (existed)
			steps.push(command("systemctl", ["--user", "restart", spec.name]));
	}

	if (opts.dryRun) {
		process.stdout.write(
			`would write ${file}:\n${content}${content.endsWith("\n") ? "" : "\n"}`,
		);
		await runSteps(
			steps.filter((s) => s !== write),
			true,
		);
		return;
	}
	try {
		await runSteps(steps, false);
	} catch (err) {
		if (platform === "linux" && err instanceof UserError)
			throw new UserError(
				`${err.message}\n  The unit is written to ${file}; if systemd has no user instance here (containers, some ssh logins), start the ${kind} another way.`,
			);
		throw err;
	}
	process.stdout.write(`Installed ${spec.name} (${file})\n`);
	process.stdout.write(`Logs: ${resolve(paths.logs())}\n`);
	process.stdout.write(
		`It runs ${process.execPath}; run this install again after changing Node versions or moving the package.\n`,
	);
	if (platform === "linux")
		process.stdout.write(
			'To keep it running after you log out: loginctl enable-linger "$USER"\n',
		);
	if (kind === "tunnel")
		process.stdout.write(
			`Tunnel: localhost:${opts.port} -> ${opts.tunnel} port ${opts.remotePort ?? 9999}${opts.remotePort === undefined ? " (the hub's default; --remote-port for another)" : ""}\n`,
		);
	if (kind === "tunnel" && opts.port !== 9999)
		process.stdout.write(`Bridges on this machine connect to ws://localhost:${opts.port}: give them RELAY_URL=ws://localhost:${opts.port} (or --url)\n`);
	if (kind === "tunnel")
		process.stdout.write(
			`The service cannot answer prompts: if it keeps failing, run \`claude-relay tunnel ${opts.tunnel}\` once in a terminal (host key, key passphrase).\n`,
		);
}

export interface UninstallOptions {
	which: ServiceKind | "all";
	dryRun: boolean;
}

export async function uninstall(
	opts: UninstallOptions,
	env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
	const platform = servicePlatform(env);
	const dir = serviceDir(platform, env);
	const kinds: ServiceKind[] = opts.which === "all" ? [...SERVICE_KINDS] : [opts.which];
	const installed = kinds
		.map((k) => SERVICES[platform][k])
		.filter((s) => existsSync(join(dir, s.template)));
	if (installed.length === 0) {
		process.stdout.write(
			`Nothing to uninstall: no claude-relay service file in ${dir}\n`,
		);
		return;
	}
	const steps: Step[] = [];
	for (const spec of installed) {
		const file = join(dir, spec.template);
		if (platform === "darwin")
			steps.push(
				command("launchctl", ["bootout", `gui/${uid()}/${spec.name}`], {
					optional: true,
					fallback: ["launchctl", ["unload", "-w", file]],
				}),
			);
		else
			steps.push(
				command("systemctl", ["--user", "disable", "--now", spec.name], {
					optional: true,
				}),
			);
		steps.push({
			describe: `remove ${file}`,
			run: async () => {
				await rm(file, { force: true });
				return undefined;
			},
		});
	}
	if (platform === "linux")
		steps.push(
			command("systemctl", ["--user", "daemon-reload"], { optional: true }),
		);
	await runSteps(steps, opts.dryRun);
	if (!opts.dryRun)
		for (const spec of installed)
			process.stdout.write(`Uninstalled ${spec.name}\n`);
}

export interface ServiceStatus {
	kind: ServiceKind;
	name: string;
	file: string;
	installed: boolean;
	/** launchd: "running", "loaded" or "not loaded"; systemd: the answer of is-active (active, failed, ...). */
	state: string;
	pid?: number;
}

export async function status(
	env: NodeJS.ProcessEnv = process.env,
): Promise<ServiceStatus[]> {
	const platform = servicePlatform(env);
	const dir = serviceDir(platform, env);
	const out: ServiceStatus[] = [];
	for (const kind of SERVICE_KINDS) {
		const spec = SERVICES[platform][kind];
		const file = join(dir, spec.template);
		const entry: ServiceStatus = {
			kind,
			name: spec.name,
			file,
			installed: existsSync(file),
			state: "not loaded",
		};
		if (platform === "darwin") {
			const r = await exec("launchctl", ["print", `gui/${uid()}/${spec.name}`]);
			if (r.code === 0) {
				entry.state = /\bstate = running\b/.test(r.stdout)
					? "running"
					: "loaded";
				const pid = r.stdout.match(/\bpid = (\d+)/);
				if (pid?.[1]) entry.pid = Number(pid[1]);
			}
		} else {
			const r = await exec("systemctl", ["--user", "is-active", spec.name]);
			entry.state =
				r.stdout.trim() ||
				(r.code === 127 ? "unknown (no systemctl)" : "inactive");
			if (entry.state === "active") {
				const p = await exec("systemctl", [
					"--user",
					"show",
					"--property=MainPID",
					"--value",
					spec.name,
				]);
				const pid = Number(p.stdout.trim());
				if (p.code === 0 && pid > 0) entry.pid = pid;
			}
		}
		out.push(entry);
	}
	return out;
}

export function renderStatus(rows: ServiceStatus[]): string {
	return `${rows
		.map((r) => {
			const state = r.pid ? `${r.state} (pid ${r.pid})` : r.state;
			return `${r.kind.padEnd(9)}${r.name.padEnd(32)}${(r.installed ? "installed" : "not installed").padEnd(15)}${state.padEnd(22)}${r.installed ? r.file : ""}`.trimEnd();
		})
		.join("\n")}\n`;
}
