/**
 * Runs one hook and exits. Every path ends here: the hook's own exit code (0, or 2 for a wake) when it
 * worked, and 0 with nothing on stdout or stderr for everything else (not bridged, hub unreachable, a bug),
 * logged to $RELAY_HOME/logs/hooks.log. A deadline bounds the whole run (5 s; wake: its --timeout + 5 s;
 * guard: 3 s).
 *
 * `runHookCli(argv)` parses the arguments with node:util (no yargs), for a fast path in scripts/cli.ts:
 * Claude Code runs the prompt hook before every prompt, so its start-up time is the user's wait.
 */
import { parseArgs } from "node:util";
import { relayHome } from "../../server/paths.js";
import { HOOK_EVENTS, type HookEvent, WAKE_DEFAULT_SECONDS } from "./constants.js";
import { HOOK_DEADLINE_MS, type HookOptions, hookLog, readHookInput, resolveHookContext } from "./hook-common.js";

/** The guard runs before every edit: its whole run is bounded tighter than the other hooks'. */
const GUARD_DEADLINE_MS = 3_000;

export async function runHook(event: HookEvent, opts: HookOptions, env: NodeJS.ProcessEnv = process.env): Promise<never> {
	const timeoutSeconds = opts.timeout !== undefined && Number.isFinite(opts.timeout) && opts.timeout >= 0 ? opts.timeout : WAKE_DEFAULT_SECONDS;
	const bound = event === "wake" ? (timeoutSeconds + 5) * 1000 : event === "guard" ? GUARD_DEADLINE_MS : HOOK_DEADLINE_MS;
	let guardMode: import("../claims-check.js").GuardMode | undefined;
	if (event === "guard") {
		guardMode = (await import("../claims-check.js")).guardMode(opts.guard, env);
		// Off: nothing to check, nothing to read.
		if (guardMode === "off") process.exit(0);
	}
	const deadline = setTimeout(() => {
		hookLog(relayHome(env))("warn", `hook ${event}: deadline reached; exiting without output`);
		process.exit(0);
	}, bound);
	let code = 0;
	try {
		const input = await readHookInput();
		if (event === "block-git") {
			// Asks nothing of the hub: the command line and the daemon's turn marker decide.
			const { blockGitAnswer, daemonTurn } = await import("./hook-block-git.js");
			const answer = blockGitAnswer(input, daemonTurn(relayHome(env), opts, env));
			clearTimeout(deadline);
			if (answer) process.stdout.write(`${answer}\n`, () => process.exit(0));
			else process.exit(0);
			return await new Promise<never>(() => undefined);
		}
		if (event === "prompt" && typeof input.prompt === "string") {
			// A prompt that is not the autowake nudge ends the turn the daemon started (a person took over). On
			// its own: whatever goes wrong here must not cost the prompt hook its work.
			try {
				const [{ clearTurn, readTurn }, { hookSession }] = await Promise.all([import("../autowake/state.js"), import("./hook-block-git.js")]);
				const { session, room } = hookSession(opts, env);
				const turn = session ? readTurn(relayHome(env), room, session) : undefined;
				if (session && turn && input.prompt.trim() !== turn.nudge) clearTurn(relayHome(env), room, session);
			} catch (err) {
				hookLog(relayHome(env))("warn", `hook prompt: cannot end the autowake turn: ${(err as Error).message}`);
			}
		}
		const resolved = resolveHookContext(opts, input, env);
		if (!resolved.ok) {
			if (env.RELAY_HOOK_DEBUG) hookLog(relayHome(env))("info", `hook ${event}: silent`, { reason: resolved.reason });
			process.exit(0);
		}
		const { ctx } = resolved;
		if (event === "prompt") code = await (await import("./hook-prompt.js")).runPromptHook(ctx);
		else if (event === "stop") code = await (await import("./hook-stop.js")).runStopHook(ctx);
		else if (event === "guard") code = await (await import("./hook-guard.js")).runGuardHook(ctx, guardMode ?? "ask");
		else code = await (await import("./hook-wake.js")).runWakeHook(ctx, { timeoutSeconds });
	} catch (err) {
		hookLog(relayHome(env))("warn", `hook ${event}: ${(err as Error).message ?? String(err)}`, { code: (err as { code?: string }).code });
		code = 0;
	}
	clearTimeout(deadline);
	process.exit(code === 2 ? 2 : 0);
}

/** `claude-relay hook <event> [--url U] [--room R] [--id X] [--timeout S]`, parsed without yargs. */
export async function runHookCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<never> {
	let event: HookEvent | undefined;
	const opts: HookOptions = {};
	try {
		const { values, positionals } = parseArgs({
			args: argv,
			options: { url: { type: "string" }, room: { type: "string" }, id: { type: "string" }, timeout: { type: "string" }, guard: { type: "string" } },
			allowPositionals: true,
			strict: true,
		});
		const name = positionals[0];
		if (positionals.length === 1 && (HOOK_EVENTS as readonly string[]).includes(name ?? "")) event = name as HookEvent;
		if (values.url) opts.url = values.url;
		if (values.room) opts.room = values.room;
		if (values.id) opts.id = values.id;
		if (values.timeout !== undefined) opts.timeout = Number(values.timeout);
		if (values.guard !== undefined) opts.guard = values.guard;
	} catch {
		event = undefined;
	}
	if (!event) {
		// A broken hook line in settings.json must not break the session either: say it in the log only.
		hookLog(relayHome(env))("error", `hook: cannot run ${JSON.stringify(argv)}; expected hook prompt|stop|wake|guard|block-git [--url U] [--room R] [--id X] [--timeout S] [--guard MODE]`);
		process.exit(0);
	}
	return runHook(event, opts, env);
}
