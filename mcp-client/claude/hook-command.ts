/**
 * `claude-relay hook <prompt|stop|wake>`: the Claude Code hooks (installed by `claude-relay install` or the
 * plugin's hooks/hooks.json). They read Claude Code's hook JSON on stdin and answer on stdout; they are
 * silent and exit 0 whenever the session is not bridged or the hub cannot be reached. Implementation:
 * hook-main.ts and hook-<event>.ts.
 */
import type { CommandModule } from "yargs";
import { HOOK_EVENTS, type HookEvent, WAKE_DEFAULT_SECONDS } from "./constants.js";

interface HookArgs {
	event: HookEvent;
	url?: string;
	room?: string;
	id?: string;
	timeout: number;
	guard?: string;
}

export const hookCommand: CommandModule<object, HookArgs> = {
	command: "hook <event>",
	describe: "Run a Claude Code hook: prompt (UserPromptSubmit), stop (Stop), wake (asyncRewake), guard (PreToolUse: claimed files), block-git (PreToolUse on Bash)",
	builder: (y) =>
		y
			.positional("event", {
				choices: HOOK_EVENTS,
				describe:
					"prompt: unread messages become context (and are marked read); stop: block the stop while mail waits; wake: wait in the background and wake an idle session; guard: before Edit/Write/MultiEdit/NotebookEdit, answer for files other sessions claimed; block-git: refuse git commit/push/reset --hard in turns the autowake daemon started",
				demandOption: true,
			})
			.option("url", { type: "string", describe: "Hub URL; several: comma-separated (default: $RELAY_URL or ws://localhost:9999)" })
			.option("room", { type: "string", describe: "Room (default: $RELAY_ROOM or default)" })
			.option("id", {
				type: "string",
				describe: "Session ID, beating CLAUDE_RELAY_SESSION_ID (install --id writes it, as it registers the bridge with -e CLAUDE_RELAY_SESSION_ID)",
			})
			.option("timeout", { type: "number", default: WAKE_DEFAULT_SECONDS, describe: "wake: seconds to wait before giving up silently" })
			.option("guard", {
				type: "string",
				choices: ["deny", "ask", "warn", "off"],
				describe: "guard: deny the edit, ask the user, only warn the model, or off [default: $RELAY_GUARD, else ask]",
			})
			.example("echo '{}' | CLAUDE_RELAY_SESSION_ID=CC-1 $0 hook prompt", "Print CC-1's unread messages as UserPromptSubmit context")
			.example(
				`echo '{"tool_name":"Edit","tool_input":{"file_path":"src/auth/token.ts"},"cwd":"'$PWD'"}' | CLAUDE_RELAY_SESSION_ID=CC-2 $0 hook guard --guard deny`,
				"Would CC-2's edit of src/auth/token.ts be denied?",
			)
			.epilogue(
				"Session ID: --id, else CLAUDE_RELAY_SESSION_ID (exported by `claude-session CC-1` before `claude`), else RELAY_CLIENT_ID; " +
					"with none, or no stored secret for it, the hook does nothing. Logs: $RELAY_HOME/logs/hooks.log.",
			) as never,
	handler: async (argv) => {
		let runHook: typeof import("./hook-main.js").runHook;
		try {
			({ runHook } = await import("./hook-main.js"));
		} catch {
			// A half-rebuilt dist/ (or a broken install) must not break the Claude session: stay silent.
			process.exit(0);
		}
		await runHook(argv.event, { url: argv.url, room: argv.room, id: argv.id, timeout: argv.timeout, guard: argv.guard });
	},
};
