/**
 * Service templates (launchd/*.plist, launchd/*.service), render.ts, and `claude-relay launchd
 * install|uninstall|status` against fake launchctl/systemctl programs on PATH, with HOME in a temp dir.
 * RELAY_PLATFORM=darwin runs the macOS path here on Linux.
 */
import { spawnSync } from "node:child_process";
import {
	chmodSync,
	existsSync,
	mkdirSync,
	mkdtempSync,
	readFileSync,
	realpathSync,
	rmSync,
	writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type PlistValue, parse } from "plist";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
	PLACEHOLDERS,
	placeholdersOf,
	render,
	type TemplateValues,
} from "../launchd/render.js";
import { tunnelArgs } from "../launchd/ssh.js";
import { minimalEnv } from "./fixtures/env.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist", "cli.js");
const TEMPLATES = join(ROOT, "launchd");
const UID = process.getuid?.() ?? 0;
/** The fakes are shell scripts run with PATH=<their directory>: they call tr by its full path. */
const TR = ["/usr/bin/tr", "/bin/tr"].find((p) => existsSync(p)) ?? "tr";

beforeAll(() => {
	if (!existsSync(CLI))
		throw new Error(
			`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`,
		);
});

let tmp: string;
let home: string;
let bin: string;
let calls: string;

beforeEach(() => {
	tmp = mkdtempSync(join(tmpdir(), "relay-launchd-"));
	home = join(tmp, "home");
	bin = join(tmp, "bin");
	calls = join(tmp, "calls.log");
	mkdirSync(home);
	mkdirSync(bin);
});

afterEach(() => {
	rmSync(tmp, { recursive: true, force: true });
});

type Dict = Record<string, PlistValue>;

function template(name: string): string {
	return readFileSync(join(TEMPLATES, name), "utf8");
}

/** Values with characters XML and systemd care about, so escaping is exercised. */
const VALUES = {
	NODE: "/opt/node & co/bin/node",
	CLI: "/Users/o'brien/<relay>/dist/cli.js",
	HOME: "/Users/o'brien",
	RELAY_HOME: "/Users/o'brien/.claude-relay",
	PATH: "/opt/node/bin:/usr/bin:/bin",
	PORT: 9999,
	REMOTE_PORT: 8888,
	LOG_DIR: "/Users/o'brien/.claude-relay/logs",
	SSH: "/usr/local/bin/autossh",
	SSH_TARGET: "me@hub.example",
} satisfies TemplateValues;

/**
 * A fake program: appends its arguments (tab-separated) as one line to calls.log; exits with
 * $FAKE_EXIT_<first argument> (default 0) and prints $FAKE_OUT_<first argument> when set.
 */
function fake(name: string): void {
	writeFileSync(
		join(bin, name),
		`#!/bin/sh
line="${name}"
for a in "$@"; do line="$line	$a"; done
printf '%s\\n' "$line" >> "$FAKE_CALLS"
sub=$(printf '%s' "$1" | ${TR} -c 'A-Za-z0-9\\n' '_')
eval "out=\\\${FAKE_OUT_$sub:-}; code=\\\${FAKE_EXIT_$sub:-0}"
[ -n "$out" ] && printf '%s\\n' "$out"
[ "$code" = 0 ] || echo "$name: failed on purpose" >&2
exit "$code"
`,
	);
	chmodSync(join(bin, name), 0o755);
}

function invocations(): string[][] {
	return existsSync(calls)
		? readFileSync(calls, "utf8")
				.split("\n")
				.filter(Boolean)
				.map((l) => l.split("\t"))
		: [];
}

/**
 * PATH is the fakes' directory and nothing else: the ssh, autossh, launchctl and systemctl the CLI finds are
 * the ones a test put there, never the machine's own (an installed autossh would otherwise win over a fake ssh).
 */
function cli(args: string[], env: Record<string, string> = {}) {
	return spawnSync(process.execPath, [CLI, "launchd", ...args], {
		env: minimalEnv({
			PATH: bin,
			HOME: home,
			// The default, $HOME/.claude-relay (HOME is a temp dir): the tests check what install derives from it.
			RELAY_HOME: undefined,
			FAKE_CALLS: calls,
			...env,
		}),
		encoding: "utf8",
	});
}

describe("render", () => {
	it("fills in and XML-escapes values so the plist parses back to them", () => {
		const out = render(
			"<plist><dict><key>a</key><string>{{NODE}}</string><key>b</key><string>{{CLI}}</string></dict></plist>",
			VALUES,
			"plist",
		);
		expect(parse(out)).toEqual({ a: VALUES.NODE, b: VALUES.CLI });
	});

	it("refuses unknown placeholders, missing values, unknown value names and line breaks", () => {
		expect(() => render("{{NOPE}}", VALUES, "plist")).toThrow(
			/unknown placeholder \{\{NOPE\}\}/,
		);
		expect(() => render("{{NODE}} {{PORT}}", { NODE: "/n" }, "plist")).toThrow(
			/no value for \{\{PORT\}\}/,
		);
		expect(() =>
			render("{{NODE}}", { NODE: "/n", BOGUS: "x" } as TemplateValues, "plist"),
		).toThrow(/BOGUS/);
		expect(() => render("{{NODE}}", { NODE: "/n\n<evil/>" }, "plist")).toThrow(
			/line break/,
		);
		expect(() => render("{{NODE}", { NODE: "/n" }, "plist")).toThrow(
			/malformed placeholder/,
		);
	});

	it("escapes % for systemd and refuses characters that would change a unit's meaning", () => {
		expect(
			render('ExecStart="{{NODE}}"', { NODE: "/opt/100%/node" }, "systemd"),
		).toBe('ExecStart="/opt/100%%/node"');
		expect(() =>
			render('ExecStart="{{NODE}}"', { NODE: "/opt/$HOME/node" }, "systemd"),
		).toThrow(/cannot contain '\$'/);
		expect(() =>
			render('ExecStart="{{NODE}}"', { NODE: '/opt/"q"/node' }, "systemd"),
		).toThrow(/cannot contain '"'/);
	});

	it("every template uses only known placeholders", () => {
		for (const name of [
			"com.claude-relay.plist",
			"com.claude-relay-tunnel.plist",
			"claude-relay.service",
			"claude-relay-tunnel.service",
			"com.claude-relay-autowake.plist",
			"claude-relay-autowake.service",
		]) {
			for (const p of placeholdersOf(template(name)))
				expect(PLACEHOLDERS).toContain(p);
		}
	});
});

describe("plist templates", () => {
	it("the hub plist runs node on the CLI's hub with the port, logs, RELAY_HOME and PATH", () => {
		const file = join(tmp, "com.claude-relay.plist");
		writeFileSync(
			file,
			render(template("com.claude-relay.plist"), VALUES, "plist"),
		);
		const p = parse(readFileSync(file, "utf8")) as Dict;
		expect(p.Label).toBe("com.claude-relay");
		expect(p.ProgramArguments).toEqual([
			VALUES.NODE,
			VALUES.CLI,
			"hub",
			"--port",
			"9999",
		]);
		expect(p.RunAtLoad).toBe(true);
		expect(p.KeepAlive).toBe(true);
		expect(p.StandardOutPath).toBe(`${VALUES.LOG_DIR}/hub.log`);
		expect(p.StandardErrorPath).toBe(`${VALUES.LOG_DIR}/hub.err.log`);
		expect(p.EnvironmentVariables).toMatchObject({
			RELAY_HOME: VALUES.RELAY_HOME,
			PATH: VALUES.PATH,
			HOME: VALUES.HOME,
		});
	});

	it("the tunnel plist runs the tunnel's ssh arguments, kept alive, with autossh's monitor off", () => {
		const file = join(tmp, "com.claude-relay-tunnel.plist");
		writeFileSync(
			file,
			render(template("com.claude-relay-tunnel.plist"), VALUES, "plist"),
		);
		const p = parse(readFileSync(file, "utf8")) as Dict;
		expect(p.Label).toBe("com.claude-relay-tunnel");
		const args = p.ProgramArguments as string[];
		expect(args[0]).toBe(VALUES.SSH);
		expect(args).toContain("9999:localhost:8888");
		expect(args.at(-1)).toBe("me@hub.example");
		// The same options as `claude-relay tunnel`, plus BatchMode (nobody can answer a prompt).
		const withoutBatch = args
			.slice(1)
			.filter(
				(a, i, all) => a !== "BatchMode=yes" && all[i + 1] !== "BatchMode=yes",
			);
		expect(withoutBatch).toEqual(
			tunnelArgs("ssh", 9999, 8888, "me@hub.example"),
		);
		expect(args).toContain("BatchMode=yes");
		expect(p.KeepAlive).toBe(true);
		expect(p.RunAtLoad).toBe(true);
		expect(p.EnvironmentVariables).toMatchObject({
			AUTOSSH_PORT: "0",
			PATH: VALUES.PATH,
		});
		expect(p.StandardErrorPath).toBe(`${VALUES.LOG_DIR}/tunnel.err.log`);
	});

	it("the systemd units run the same commands", () => {
		const values = {
			...VALUES,
			NODE: "/opt/node/bin/node",
			CLI: "/srv/relay/dist/cli.js",
			HOME: "/home/me",
		};
		const values2 = {
			...values,
			RELAY_HOME: "/home/me/.claude-relay",
			LOG_DIR: "/home/me/.claude-relay/logs",
		};
		const hub = render(template("claude-relay.service"), values2, "systemd");
		expect(hub).toContain(
			'ExecStart="/opt/node/bin/node" "/srv/relay/dist/cli.js" hub --port 9999\n',
		);
		expect(hub).toContain('Environment="RELAY_HOME=/home/me/.claude-relay"\n');
		expect(hub).toContain("Restart=always\n");
		expect(hub).toContain(
			"StandardOutput=append:/home/me/.claude-relay/logs/hub.log\n",
		);
		const tunnel = render(
			template("claude-relay-tunnel.service"),
			values2,
			"systemd",
		);
		expect(tunnel).toContain(
			'ExecStart="/usr/local/bin/autossh" -N -o ServerAliveInterval=30 -o ServerAliveCountMax=3 -o ExitOnForwardFailure=yes -o BatchMode=yes -L "9999:localhost:8888" "me@hub.example"\n',
		);
		expect(tunnel).toContain('Environment="AUTOSSH_PORT=0"\n');
	});
});

describe("launchd install on macOS (fake launchctl)", () => {
	const env = { RELAY_PLATFORM: "darwin" };
	const agents = () => join(home, "Library", "LaunchAgents");

	it("writes the hub plist with this machine's real paths and bootstraps it", () => {
		fake("launchctl");
		const r = cli(["install"], env);
		expect(r.stderr).toBe("");
		expect(r.status).toBe(0);
		const file = join(agents(), "com.claude-relay.plist");
		const p = parse(readFileSync(file, "utf8")) as Dict;
		expect(p.ProgramArguments).toEqual([
			process.execPath,
			realpathSync(CLI),
			"hub",
			"--port",
			"9999",
		]);
		expect(p.EnvironmentVariables).toMatchObject({
			RELAY_HOME: join(home, ".claude-relay"),
			HOME: home,
		});
		expect(p.StandardOutPath).toBe(
			join(home, ".claude-relay", "logs", "hub.log"),
		);
		expect(existsSync(join(home, ".claude-relay", "logs"))).toBe(true);
		expect(invocations()).toEqual([
			["launchctl", "bootstrap", `gui/${UID}`, file],
		]);
		expect(r.stdout).toContain(`Installed com.claude-relay (${file})`);
	});

	it("install --autowake writes a LaunchAgent that runs the daemon", () => {
		fake("launchctl");
		expect(cli(["install", "--autowake"], env).status).toBe(0);
		const file = join(agents(), "com.claude-relay-autowake.plist");
		const p = parse(readFileSync(file, "utf8")) as Dict;
		expect(p.Label).toBe("com.claude-relay-autowake");
		expect(p.ProgramArguments).toEqual([process.execPath, realpathSync(CLI), "autowake", "run", "--url", "ws://localhost:9999"]);
		expect(invocations()).toEqual([["launchctl", "bootstrap", `gui/${UID}`, file]]);
	});

	it("reinstalling unloads the old copy first and takes the new port", () => {
		fake("launchctl");
		expect(cli(["install"], env).status).toBe(0);
		const r = cli(["install", "--port", "8888"], env);
		expect(r.status).toBe(0);
		const file = join(agents(), "com.claude-relay.plist");
		expect(
			(parse(readFileSync(file, "utf8")) as Dict).ProgramArguments,
		).toContain("8888");
		expect(invocations().slice(1)).toEqual([
			["launchctl", "bootout", `gui/${UID}/com.claude-relay`],
			["launchctl", "bootstrap", `gui/${UID}`, file],
		]);
	});

	it("falls back to launchctl load -w when bootstrap fails, and fails clearly when both do", () => {
		fake("launchctl");
		const file = join(agents(), "com.claude-relay.plist");
		expect(cli(["install"], { ...env, FAKE_EXIT_bootstrap: "5" }).status).toBe(
			0,
		);
		expect(invocations()).toEqual([
			["launchctl", "bootstrap", `gui/${UID}`, file],
			["launchctl", "load", "-w", file],
		]);

		const r = cli(["install"], {
			...env,
			FAKE_EXIT_bootstrap: "5",
			FAKE_EXIT_load: "1",
		});
		expect(r.status).toBe(1);
		expect(r.stderr).toMatch(
			/^claude-relay launchd install: launchctl load -w .* failed \(exit 1\)/,
		);
		expect(r.stderr).not.toMatch(/\n\s+at /);
	});

	it("installs a tunnel to user@host with the ssh found on PATH", () => {
		fake("launchctl");
		fake("ssh");
		const r = cli(
			[
				"install",
				"--tunnel",
				"me@hub-host",
				"--port",
				"19999",
				"--remote-port",
				"9999",
			],
			env,
		);
		expect(r.status).toBe(0);
		const file = join(agents(), "com.claude-relay-tunnel.plist");
		const p = parse(readFileSync(file, "utf8")) as Dict;
		const args = p.ProgramArguments as string[];
		expect(args[0]).toBe(join(bin, "ssh"));
		expect(args).toContain("19999:localhost:9999");
		expect(args.at(-1)).toBe("me@hub-host");
		expect(existsSync(join(agents(), "com.claude-relay.plist"))).toBe(false);
		expect(invocations()).toEqual([
			["launchctl", "bootstrap", `gui/${UID}`, file],
		]);
	});

	it("refuses a tunnel target that ssh would read as an option", () => {
		fake("launchctl");
		fake("ssh");
		const r = cli(["install", "--tunnel=-oProxyCommand=touch /tmp/x"], env);
		expect(r.status).toBe(2);
		expect(r.stderr).toMatch(/the target must be user@host, not an option/);
		expect(existsSync(agents())).toBe(false);
		expect(invocations()).toEqual([]);
	});

	it("--dry-run prints the plist and the commands, and changes nothing", () => {
		fake("launchctl");
		const r = cli(["install", "--dry-run"], env);
		expect(r.status).toBe(0);
		const file = join(agents(), "com.claude-relay.plist");
		expect(r.stdout).toContain(`would write ${file}:`);
		expect(r.stdout).toContain("<string>com.claude-relay</string>");
		expect(r.stdout).toContain(
			`would run: launchctl bootstrap gui/${UID} ${file}`,
		);
		expect(existsSync(file)).toBe(false);
		expect(invocations()).toEqual([]);
	});

	it("status reads launchctl print; uninstall boots out and removes the files", () => {
		fake("launchctl");
		fake("ssh");
		expect(cli(["install"], env).status).toBe(0);
		const t = cli(["install", "--tunnel", "me@hub-host", "--port", "19999"], env);
		expect(t.status).toBe(0);
		// --port is the local end only: the hub's end stays 9999, and install says so.
		const tunnelArgv = (parse(readFileSync(join(agents(), "com.claude-relay-tunnel.plist"), "utf8")) as Dict).ProgramArguments as string[];
		expect(tunnelArgv).toContain("19999:localhost:9999");
		expect(t.stdout).toContain("Tunnel: localhost:19999 -> me@hub-host port 9999 (the hub's default; --remote-port for another)");
		expect(t.stdout).toContain("give them RELAY_URL=ws://localhost:19999");

		const s = cli(["status"], {
			...env,
			FAKE_OUT_print: "\tstate = running\n\tpid = 4242",
		});
		expect(s.status).toBe(0);
		expect(s.stdout).toMatch(
			/^hub\s+com\.claude-relay\s+installed\s+running \(pid 4242\)/m,
		);
		expect(s.stdout).toMatch(
			/^tunnel\s+com\.claude-relay-tunnel\s+installed\s+running/m,
		);

		const before = invocations().length;
		const u = cli(["uninstall"], env);
		expect(u.status).toBe(0);
		expect(invocations().slice(before)).toEqual([
			["launchctl", "bootout", `gui/${UID}/com.claude-relay`],
			["launchctl", "bootout", `gui/${UID}/com.claude-relay-tunnel`],
		]);
		expect(existsSync(join(agents(), "com.claude-relay.plist"))).toBe(false);
		expect(existsSync(join(agents(), "com.claude-relay-tunnel.plist"))).toBe(
			false,
		);

		const none = cli(["status"], { ...env, FAKE_EXIT_print: "113" });
		expect(none.stdout).toMatch(
			/^hub\s+com\.claude-relay\s+not installed\s+not loaded/m,
		);
	});
});

describe("launchd install on Linux (fake systemctl)", () => {
	const env = { RELAY_PLATFORM: "linux" };
	const unitDir = () => join(home, ".config", "systemd", "user");

	it("writes the user unit and runs daemon-reload and enable --now", () => {
		fake("systemctl");
		const r = cli(["install"], env);
		expect(r.stderr).toBe("");
		expect(r.status).toBe(0);
		const unit = readFileSync(join(unitDir(), "claude-relay.service"), "utf8");
		expect(unit).toContain(
			`ExecStart="${process.execPath}" "${realpathSync(CLI)}" hub --port 9999\n`,
		);
		expect(unit).toContain(
			`Environment="RELAY_HOME=${join(home, ".claude-relay")}"\n`,
		);
		expect(invocations()).toEqual([
			["systemctl", "--user", "daemon-reload"],
			["systemctl", "--user", "enable", "--now", "claude-relay.service"],
		]);
		expect(r.stdout).toContain("loginctl enable-linger");
	});

	it("restarts on reinstall, honours XDG_CONFIG_HOME, and uninstall disables and removes", () => {
		fake("systemctl");
		const xdg = join(tmp, "xdg");
		const e = { ...env, XDG_CONFIG_HOME: xdg };
		expect(cli(["install"], e).status).toBe(0);
		expect(cli(["install"], e).status).toBe(0);
		const file = join(xdg, "systemd", "user", "claude-relay.service");
		expect(existsSync(file)).toBe(true);
		expect(invocations().at(-1)).toEqual([
			"systemctl",
			"--user",
			"restart",
			"claude-relay.service",
		]);

		const before = invocations().length;
		expect(cli(["uninstall", "hub"], e).status).toBe(0);
		expect(invocations().slice(before)).toEqual([
			["systemctl", "--user", "disable", "--now", "claude-relay.service"],
			["systemctl", "--user", "daemon-reload"],
		]);
		expect(existsSync(file)).toBe(false);
	});

	it("reports a systemctl failure in one message that says where the unit is", () => {
		fake("systemctl");
		const r = cli(["install"], { ...env, FAKE_EXIT___user: "1" });
		expect(r.status).toBe(1);
		expect(r.stderr).toMatch(
			/^claude-relay launchd install: systemctl --user daemon-reload failed \(exit 1\)/,
		);
		expect(r.stderr).toContain(
			`The unit is written to ${join(unitDir(), "claude-relay.service")}`,
		);
		expect(r.stderr).not.toMatch(/\n\s+at /);
	});

	it("install --autowake writes the autowake unit, on the hub's port, and uninstall autowake removes only it", () => {
		fake("systemctl");
		expect(cli(["install"], env).status).toBe(0);
		const r = cli(["install", "--autowake", "--port", "8888"], env);
		expect(r.stderr).toBe("");
		expect(r.status).toBe(0);
		const unit = readFileSync(join(unitDir(), "claude-relay-autowake.service"), "utf8");
		expect(unit).toContain(`ExecStart="${process.execPath}" "${realpathSync(CLI)}" autowake run --url ws://localhost:8888\n`);
		expect(unit).toContain(`StandardOutput=append:${join(home, ".claude-relay", "logs")}/autowake.log\n`);
		expect(invocations()).toContainEqual(["systemctl", "--user", "enable", "--now", "claude-relay-autowake.service"]);
		expect(cli(["uninstall", "autowake"], env).status).toBe(0);
		expect(existsSync(join(unitDir(), "claude-relay-autowake.service"))).toBe(false);
		expect(existsSync(join(unitDir(), "claude-relay.service"))).toBe(true);
		expect(cli(["install", "--autowake", "--tunnel", "me@host"], env).status).toBe(2);
	});

	it("status asks systemctl is-active", () => {
		fake("systemctl");
		const r = cli(["status"], { ...env, FAKE_OUT___user: "active" });
		expect(r.status).toBe(0);
		expect(r.stdout).toMatch(
			/^hub\s+claude-relay\.service\s+not installed\s+active/m,
		);
		expect(invocations()).toContainEqual([
			"systemctl",
			"--user",
			"is-active",
			"claude-relay.service",
		]);
	});
});

it("refuses platforms without launchd or systemd", () => {
	const r = cli(["status"], { RELAY_PLATFORM: "win32" });
	expect(r.status).toBe(1);
	expect(r.stderr.trim()).toBe(
		"claude-relay launchd status: services are supported on macOS (launchd) and Linux (systemd), not on win32",
	);
});
