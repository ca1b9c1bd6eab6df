/**
 * Claude Code: what `claude-relay install` always did (claude/install.ts: `claude mcp add relay -s user`
 * or ./.mcp.json, and the hooks in settings.json; claude/doctor.ts: `claude mcp get relay`, the hooks, the
 * plugin), behind the Harness interface. The only harness with channels and hooks.
 */
import { claudeDoctor } from "../claude/doctor.js";
import { runInstall, runUninstall } from "../claude/install.js";
import type { Harness } from "./harness.js";

export const claude: Harness = {
	name: "claude",
	client: "claude-code",
	title: "Claude Code",
	install: (opts) =>
		runInstall({
			scope: opts.claude?.scope ?? "user",
			url: opts.url,
			room: opts.room,
			id: opts.id,
			guard: opts.claude?.guard,
			blockGit: opts.claude?.blockGit,
			dryRun: opts.dryRun,
			...(opts.env ? { env: opts.env } : {}),
			...(opts.cwd ? { cwd: opts.cwd } : {}),
			...(opts.print ? { print: opts.print } : {}),
		}),
	uninstall: (opts) =>
		runUninstall({
			scope: opts.claude?.scope ?? "user",
			dryRun: opts.dryRun,
			...(opts.env ? { env: opts.env } : {}),
			...(opts.cwd ? { cwd: opts.cwd } : {}),
			...(opts.print ? { print: opts.print } : {}),
		}),
	registeredEnv: claudeDoctor.registeredEnv,
	doctor: claudeDoctor.doctor,
};
