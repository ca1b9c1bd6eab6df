/**
 * Finds the git commands that change or publish history (`git commit`, `git push`, `git reset --hard`) in a
 * shell command line, for the block-git hook. The line is tokenized with shell-quote (quotes, escapes,
 * operators), then split into simple commands at `&&`, `||`, `;`, `|`, `&`, newlines, `(`/`)`, `$(…)` and
 * backticks; in each, leading variable assignments (`FOO=1 git push`) and wrappers (env, sudo, command,
 * exec, nohup, time, nice, timeout, xargs, …) are skipped, `sh|bash|zsh -c '…'` and `eval …` are read
 * recursively (3 levels), and git's own options before the subcommand (`-C dir`, `-c k=v`, `--git-dir=…`,
 * `--no-pager`, …) are skipped.
 *
 * What it cannot catch (documented in the README): a git alias (`git ci`, or one set with `-c alias.…`,
 * which is refused outright), a command name in a variable or built at run time (`$G push`: refused when
 * `push`/`commit` follows, since that cannot be read), shell functions and aliases, scripts or programs
 * that run git themselves (`make release`, `npm version`, `gh pr merge`), git plumbing that moves refs
 * (`update-ref`, `commit-tree`), and other tools with their own history (hg, jj).
 */
import { parse } from "shell-quote";

export interface GitFinding {
	/** "commit", "push", "reset --hard", or why the line cannot be read safely. */
	what: string;
	/** The simple command it was found in, as words. */
	command: string;
}

const WRAPPERS = new Set(["env", "sudo", "doas", "command", "builtin", "exec", "nohup", "time", "nice", "ionice", "timeout", "stdbuf", "xargs", "chronic", "unbuffer"]);
/** Wrapper options that take the next word as their value. */
const WRAPPER_ARGS: Record<string, ReadonlySet<string>> = {
	sudo: new Set(["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"]),
	env: new Set(["-u", "-C", "-S"]),
	nice: new Set(["-n"]),
	ionice: new Set(["-c", "-n"]),
	xargs: new Set(["-I", "-L", "-n", "-P", "-s", "-d", "-E", "-a"]),
	stdbuf: new Set(["-i", "-o", "-e"]),
};
const SHELLS = new Set(["sh", "bash", "zsh", "dash", "ksh", "ash", "fish"]);
/** git options before the subcommand that take the next word as their value. */
const GIT_ARGS = new Set(["-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env", "--super-prefix", "--exec-path", "--list-cmds", "--attr-source"]);
const MAX_DEPTH = 3;
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

const base = (word: string) => word.slice(word.lastIndexOf("/") + 1).replace(/\.exe$/i, "");

/** Simple commands (as word lists) of one shell line. */
function simpleCommands(line: string): string[][] {
	let tokens: ReturnType<typeof parse>;
	try {
		// Variables stay as written ($G), so that a command name in one is seen as unknown, not as "".
		tokens = parse(line, (name) => `$${name}`);
	} catch {
		return [["<unreadable>"]];
	}
	const out: string[][] = [];
	let current: string[] = [];
	const cut = () => {
		if (current.length > 0) out.push(current);
		current = [];
	};
	for (const t of tokens) {
		if (typeof t !== "string") {
			if ("op" in t) cut();
			continue; // comments; globs come as { op: "glob", pattern } and count as a cut, harmlessly
		}
		let word = t;
		if (word.startsWith("`")) {
			cut();
			word = word.slice(1);
		}
		const ends = word.endsWith("`");
		if (ends) word = word.slice(0, -1);
		if (word === "$") continue; // the `$` of `$(`; the `(` cuts
		if (word) current.push(word);
		if (ends) cut();
	}
	cut();
	return out;
}

function inspect(words: string[], depth: number, found: GitFinding[]): void {
	let i = 0;
	const at = () => words[i] ?? "";
	// Assignments and wrappers, in any order and number.
	for (;;) {
		if (ASSIGNMENT.test(at())) {
			i++;
			continue;
		}
		const w = base(at());
		if (!WRAPPERS.has(w)) break;
		i++;
		const takes = WRAPPER_ARGS[w];
		if (w === "timeout") {
			while (at().startsWith("-")) i++;
			i++; // the duration
			continue;
		}
		while (at().startsWith("-") || ASSIGNMENT.test(at())) {
			const opt = at();
			i++;
			if (takes?.has(opt)) i++;
		}
	}
	const program = at();
	const rest = words.slice(i + 1);
	const shown = words.join(" ");
	if (program === "<unreadable>") {
		found.push({ what: "a command line that cannot be read", command: shown });
		return;
	}
	const name = base(program);
	if ((SHELLS.has(name) || name === "eval") && depth < MAX_DEPTH) {
		const script = name === "eval" ? rest.join(" ") : rest[rest.findIndex((w) => /^-[a-z]*c[a-z]*$/.test(w)) + 1];
		if (script !== undefined && (name === "eval" || rest.some((w) => /^-[a-z]*c[a-z]*$/.test(w)))) for (const line of script.split(/\r?\n/)) for (const c of simpleCommands(line)) inspect(c, depth + 1, found);
		return;
	}
	if (program.startsWith("$")) {
		// The program is whatever a variable holds: unknowable here. Refuse only what would be git's verbs.
		if (rest.some((w) => w === "commit" || w === "push") || (rest.includes("reset") && rest.includes("--hard")))
			found.push({ what: `a command in a variable (${program}) with git's words`, command: shown });
		return;
	}
	if (name !== "git") return;
	let j = 0;
	while (j < rest.length && (rest[j] ?? "").startsWith("-")) {
		const opt = rest[j] ?? "";
		if (opt === "-c" && /^alias\./i.test(rest[j + 1] ?? "")) {
			found.push({ what: "an inline git alias (-c alias.…)", command: shown });
			return;
		}
		j += GIT_ARGS.has(opt) ? 2 : 1;
	}
	const sub = rest[j];
	const args = rest.slice(j + 1);
	if (sub === "commit" || sub === "push") found.push({ what: sub, command: shown });
	else if (sub === "reset" && args.includes("--hard")) found.push({ what: "reset --hard", command: shown });
}

/** Every history-changing git command in `line` (empty: none found). */
export function findGitWrites(line: string): GitFinding[] {
	const found: GitFinding[] = [];
	for (const part of line.split(/\r?\n/)) for (const c of simpleCommands(part)) inspect(c, 0, found);
	return found;
}
