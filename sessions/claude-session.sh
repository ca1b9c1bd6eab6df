# claude-relay shell helpers, for bash and zsh. Add to ~/.bashrc or ~/.zshrc:
#
#     source /path/to/claude-relay/sessions/claude-session.sh
#
# Then, in a terminal, before starting Claude Code:
#
#     claude-session CC-1     # validates CC-1, records it in the sessions registry, and only then
#                             # exports CLAUDE_RELAY_SESSION_ID=CC-1 in this shell
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

# claude-session <ID>: register this terminal's session ID, then export it for Claude Code to inherit.
function claude-session {
	if [ "$#" -ne 1 ]; then
		printf '%s\n' "usage: claude-session <ID>    e.g. claude-session CC-1" >&2
		return 2
	fi
	# `--` keeps an ID such as "--help" from being read as an option; the CLI then refuses it.
	__claude_relay_cli register --pid "$$" --cwd="$PWD" -- "$1" >/dev/null || return $?
	export CLAUDE_RELAY_SESSION_ID="$1"
	printf '%s\n' "✓ Registered: CLAUDE_RELAY_SESSION_ID=$1"
}

# claude-sessions [options]: list the registered sessions (same options as `claude-relay sessions`).
function claude-sessions {
	__claude_relay_cli sessions "$@"
}
