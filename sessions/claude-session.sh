# claude-relay shell helpers, for bash and zsh. Add to ~/.bashrc or ~/.zshrc:
#
#     source /path/to/claude-relay/sessions/claude-session.sh
#
# Then, in a terminal, before starting Claude Code:
#
#     claude-session CC-1     # validates CC-1, records it in the sessions registry, and only then
#                             # exports CLAUDE_RELAY_SESSION_ID=CC-1 in this shell
#     claude-session CX-1 --harness codex    # the same, before `codex` (or --harness gemini, `gemini`)
#     claude-sessions         # lists the registered sessions (claude-relay sessions)
#
# The commands run `claude-relay` when it is on PATH, otherwise `node <this repository>/dist/cli.js`.
# Values typed by the user are only ever passed as quoted arguments: nothing here evaluates them.

# The repository this file belongs to, found from the file's own path (bash: BASH_SOURCE; zsh: %x).
if [ -n "${ZSH_VERSION:-}" ]; then
	__claude_relay_self="${(%):-%x}"
elif [ -n "${BASH_VERSION:-}" ]; then
	__claude_relay_self="${BASH_SOURCE[0]}"
else
	__claude_relay_self=""
fi
__claude_relay_repo=""
if [ -n "$__claude_relay_self" ]; then
	__claude_relay_repo="$(CDPATH='' cd -- "$(dirname -- "$__claude_relay_self")/.." >/dev/null 2>&1 && pwd -P)"
fi
unset __claude_relay_self

# The original project defined these names as aliases; an alias would break the definitions below.
unalias claude-session claude-sessions >/dev/null 2>&1

# Runs the claude-relay CLI with the given arguments.
__claude_relay_cli() {
	if command -v claude-relay >/dev/null 2>&1; then
		command claude-relay "$@"
	elif [ -n "$__claude_relay_repo" ] && [ -f "$__claude_relay_repo/dist/cli.js" ]; then
		command node "$__claude_relay_repo/dist/cli.js" "$@"
	else
		printf '%s\n' "claude-relay: the claude-relay command is not on PATH and ${__claude_relay_repo:-the repository}/dist/cli.js does not exist; run 'npm run build' in the repository (or install the package)" >&2
		return 127
	fi
}

# claude-session <ID> [--harness claude|codex|gemini]: register this terminal's session ID, then export it
# for the agent CLI started next in this shell to inherit. Every harness's bridge reads the same variable
# (Codex passes it on because `claude-relay install --for codex` lists it in env_vars); --harness only
# checks that the bridge is registered with that CLI (a note otherwise) and says what to start.
function claude-session {
	local __id="" __harness="" __extra=0
	while [ "$#" -gt 0 ]; do
		case "$1" in
		--harness)
			if [ "$#" -lt 2 ]; then
				printf '%s\n' "claude-session: --harness needs a value: claude, codex or gemini" >&2
				return 2
			fi
			__harness="$2"
			shift 2
			;;
		--harness=*)
			__harness="${1#--harness=}"
			shift
			;;
		*)
			if [ -z "$__id" ] && [ "$__extra" -eq 0 ]; then __id="$1"; else __extra=1; fi
			shift
			;;
		esac
	done
	if [ -z "$__id" ] || [ "$__extra" -ne 0 ]; then
		printf '%s\n' "usage: claude-session <ID> [--harness claude|codex|gemini]    e.g. claude-session CC-1, claude-session CX-1 --harness codex" >&2
		return 2
	fi
	# `--` keeps an ID such as "--help" from being read as an option; the CLI then refuses it. The CLI also
	# refuses an unknown harness (exit 2), before anything is exported.
	if [ -n "$__harness" ]; then
		__claude_relay_cli register --pid "$$" --cwd="$PWD" --harness="$__harness" -- "$__id" >/dev/null || return $?
	else
		__claude_relay_cli register --pid "$$" --cwd="$PWD" -- "$__id" >/dev/null || return $?
	fi
	export CLAUDE_RELAY_SESSION_ID="$__id"
	case "$__harness" in
	"" | claude) printf '%s\n' "✓ Registered: CLAUDE_RELAY_SESSION_ID=$__id" ;;
	*) printf '%s\n' "✓ Registered: CLAUDE_RELAY_SESSION_ID=$__id (start $__harness in this terminal)" ;;
	esac
}

# claude-sessions [options]: list the registered sessions (same options as `claude-relay sessions`).
function claude-sessions {
	__claude_relay_cli sessions "$@"
}
