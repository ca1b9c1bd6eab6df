/**
 * Claude Code's files as claude-relay touches them, and the pure logic of adding and removing our hooks.
 *
 * - settings.json: `$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json`. Hooks live there
 *   (`mcpServers` written there is ignored by current Claude Code: the bridge is registered with
 *   `claude mcp add`, or in `.mcp.json` for a project).
 * - the global config Claude Code keeps its user-scope MCP servers in: `$CLAUDE_CONFIG_DIR/.claude.json`,
 *   else `~/.claude.json` (read only, to tell whether the bridge is registered already).
 *
 * Our hook entries are the ones whose command runs `<claude-relay|…/cli.js> hook <prompt|stop|wake|guard>`
 * (`isRelayHookCommand`): install replaces them in place, uninstall removes exactly them, and nothing else in
 * the file is touched (other keys, other hooks, their order, the file's indentation).
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { WAKE_DEFAULT_SECONDS } from "./constants.js";

export type HookKind = "prompt" | "stop" | "wake" | "guard" | "block-git";
export type HookEventName = "UserPromptSubmit" | "Stop" | "SessionStart" | "PreToolUse";

export interface HookSpec {
	kind: HookKind;
	event: HookEventName;
	matcher?: string;
	/** Claude Code's own bound on the hook, seconds. */
	timeout: number;
	asyncRewake?: boolean;
}

/**
 * The hooks claude-relay installs. The wake hook hangs on Stop (the moment a session goes idle: every turn
 * ends with one) and on SessionStart for new and resumed sessions (idle before the first prompt); with
 * `asyncRewake` Claude Code runs it in the background and wakes the model when it exits with code 2. Its
 * timeout leaves room for the hook's own bound (600 s) so that the hook, not Claude Code, ends the wait.
 * The guard hangs on PreToolUse for the tools that write files, and answers for files other sessions claimed.
 */
export const HOOK_SPECS: readonly HookSpec[] = [
	{ kind: "prompt", event: "UserPromptSubmit", timeout: 10 },
	{ kind: "stop", event: "Stop", timeout: 10 },
	{ kind: "wake", event: "Stop", timeout: WAKE_DEFAULT_SECONDS + 60, asyncRewake: true },
	{ kind: "wake", event: "SessionStart", matcher: "startup|resume", timeout: WAKE_DEFAULT_SECONDS + 60, asyncRewake: true },
	// The edit guard answers within its own 3 s bound; Claude Code's 10 s is only the backstop.
	{ kind: "guard", event: "PreToolUse", matcher: "Edit|Write|MultiEdit|NotebookEdit", timeout: 10 },
];

/**
 * Hooks installed only when asked (`install --block-git`), kept by a later install that does not mention
 * them, removed by `--no-block-git` or uninstall. New optional hooks are one more entry here.
 */
export const OPTIONAL_HOOK_SPECS = {
	"block-git": { kind: "block-git", event: "PreToolUse", matcher: "Bash", timeout: 10 },
} as const satisfies Record<string, HookSpec>;
export type OptionalHook = keyof typeof OPTIONAL_HOOK_SPECS;

/** The hooks to install: the default ones, and the optional ones wanted (true) or already there (undefined). */
export function wantedHookSpecs(settings: JsonObject, optional: Partial<Record<OptionalHook, boolean>> = {}): HookSpec[] {
	const present = new Set(allRelayHookKinds(settings));
	const extra = (Object.keys(OPTIONAL_HOOK_SPECS) as OptionalHook[]).filter((k) => optional[k] ?? present.has(k)).map((k) => OPTIONAL_HOOK_SPECS[k]);
	return [...HOOK_SPECS, ...extra];
}

/** Every kind of our hooks a settings object has, wherever it is. */
function allRelayHookKinds(settings: JsonObject): HookKind[] {
	const out: HookKind[] = [];
	const hooks = isObject(settings.hooks) ? settings.hooks : {};
	for (const groups of Object.values(hooks)) {
		if (!Array.isArray(groups)) continue;
		for (const g of groups) {
			if (!isObject(g) || !Array.isArray(g.hooks)) continue;
			for (const e of g.hooks) {
				const kind = isObject(e) ? relayHookKind(e.command) : undefined;
				if (kind) out.push(kind);
			}
		}
	}
	return out;
}

export interface ClaudePaths {
	configDir: string;
	settings: string;
	/** Where `claude mcp add -s user` keeps servers. */
	globalConfig: string;
}

export function claudePaths(env: NodeJS.ProcessEnv = process.env): ClaudePaths {
	const fromEnv = env.CLAUDE_CONFIG_DIR?.trim();
	const home = env.HOME?.trim() || homedir();
	const configDir = fromEnv || join(home, ".claude");
	return {
		configDir,
		settings: join(configDir, "settings.json"),
		globalConfig: fromEnv ? join(fromEnv, ".claude.json") : join(home, ".claude.json"),
	};
}

/** Quotes a word for sh/bash only when it needs it. */
export function shellQuote(word: string): string {
	return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Extra words on every hook command: what install was told (--url, --room, --id), so hooks match the bridge;
 * and --guard MODE on the guard's command only.
 */
export interface HookArgs {
	url?: string;
	room?: string;
	id?: string;
	guard?: string;
}

export function hookArgWords(args: HookArgs, kind?: HookKind): string[] {
	const words: string[] = [];
	if (args.url) words.push("--url", args.url);
	if (args.room) words.push("--room", args.room);
	if (args.id) words.push("--id", args.id);
	if (args.guard && kind === "guard") words.push("--guard", args.guard);
	return words;
}

/** The command line of one hook: `<prefix> hook <kind> [args]`, where prefix runs the CLI (already quoted). */
export function hookCommandLine(prefix: string, kind: HookKind, args: HookArgs = {}): string {
	return [prefix, "hook", kind, ...hookArgWords(args, kind).map(shellQuote)].join(" ");
}

export interface HookEntry {
	type: "command";
	command: string;
	timeout: number;
	asyncRewake?: boolean;
}

export function hookEntry(spec: HookSpec, prefix: string, args: HookArgs = {}): HookEntry {
	const entry: HookEntry = { type: "command", command: hookCommandLine(prefix, spec.kind, args), timeout: spec.timeout };
	if (spec.asyncRewake) entry.asyncRewake = true;
	return entry;
}

/** The `hooks` object for settings.json or a plugin's hooks/hooks.json: one matcher group per hook. */
export function hooksObject(prefix: string, args: HookArgs = {}): Record<string, Array<{ matcher?: string; hooks: HookEntry[] }>> {
	const out: Record<string, Array<{ matcher?: string; hooks: HookEntry[] }>> = {};
	for (const spec of HOOK_SPECS) {
		// matcher first when present, as people write it
		const group: { matcher?: string; hooks: HookEntry[] } = spec.matcher
			? { matcher: spec.matcher, hooks: [hookEntry(spec, prefix, args)] }
			: { hooks: [hookEntry(spec, prefix, args)] };
		const list = out[spec.event] ?? [];
		list.push(group);
		out[spec.event] = list;
	}
	return out;
}

const RELAY_HOOK = /(?:^|[\s/'"])(?:claude-relay|cli\.js)['"]?\s+hook\s+(prompt|stop|wake|guard|block-git)(?=\s|$)/;

/** The kind of one of our hook commands, or undefined for anybody else's. */
export function relayHookKind(command: unknown): HookKind | undefined {
	if (typeof command !== "string") return undefined;
	return RELAY_HOOK.exec(command)?.[1] as HookKind | undefined;
}

export class SettingsError extends Error {
	override name = "SettingsError";
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

export function jsonEqual(a: unknown, b: unknown): boolean {
	if (a === b) return true;
	if (Array.isArray(a) || Array.isArray(b)) {
		if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
		return a.every((x, i) => jsonEqual(x, b[i]));
	}
	if (isObject(a) && isObject(b)) {
		const ka = Object.keys(a);
		const kb = Object.keys(b);
		if (ka.length !== kb.length) return false;
		return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
	}
	return false;
}

/** Parses a settings file's text: empty means {}; anything but a JSON object is refused. */
export function parseSettings(text: string | undefined, file: string): JsonObject {
	if (text === undefined || text.trim() === "") return {};
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch (err) {
		throw new SettingsError(`${file} is not valid JSON (${(err as Error).message}); fix it by hand first. Nothing was changed.`);
	}
	if (!isObject(value)) throw new SettingsError(`${file} does not hold a JSON object; fix it by hand first. Nothing was changed.`);
	return value;
}

/** Serialises like the original: same indentation (default two spaces), trailing newline kept. */
export function serializeLike(value: unknown, original: string | undefined): string {
	let indent: string | number = 2;
	const m = original ? /^\{\r?\n([ \t]+)\S/.exec(original) : null;
	if (m?.[1]) indent = m[1];
	const eol = original && !original.endsWith("\n") ? "" : "\n";
	return `${JSON.stringify(value, null, indent)}${eol}`;
}

interface Group {
	matcher?: Json;
	hooks?: Json;
	[key: string]: Json | undefined;
}

function checkHooksShape(settings: JsonObject, file: string): JsonObject | undefined {
	const hooks = settings.hooks;
	if (hooks === undefined) return undefined;
	if (!isObject(hooks)) throw new SettingsError(`"hooks" in ${file} is not an object; fix it by hand first. Nothing was changed.`);
	for (const [event, groups] of Object.entries(hooks)) {
		if (!Array.isArray(groups)) throw new SettingsError(`"hooks.${event}" in ${file} is not an array; fix it by hand first. Nothing was changed.`);
	}
	return hooks;
}

/**
 * Returns `settings` with exactly our hooks (HOOK_SPECS, with `prefix` and `args`): an entry of ours already
 * in place is updated where it is, duplicates and stale ones of ours are removed, missing ones are appended
 * as their own matcher group. Other entries and keys keep their content and order. Does not modify its input.
 */
export function mergeRelayHooks(
	settings: JsonObject,
	prefix: string,
	args: HookArgs,
	file = "settings.json",
	specs: readonly HookSpec[] = HOOK_SPECS,
): JsonObject {
	const out = structuredClone(settings);
	checkHooksShape(out, file);
	const hooks: JsonObject = isObject(out.hooks) ? out.hooks : {};
	const wanted = new Map<string, HookSpec>(specs.map((s) => [`${s.event}/${s.kind}`, s]));
	const placed = new Set<string>();

	for (const [event, groupsJson] of Object.entries(hooks)) {
		const groups = groupsJson as Json[];
		const keptGroups: Json[] = [];
		for (const groupJson of groups) {
			if (!isObject(groupJson) || !Array.isArray(groupJson.hooks)) {
				keptGroups.push(groupJson);
				continue;
			}
			const group = groupJson as Group & { hooks: Json[] };
			const before = group.hooks.length;
			const entries: Json[] = [];
			for (const entry of group.hooks) {
				const kind = isObject(entry) ? relayHookKind(entry.command) : undefined;
				if (!kind) {
					entries.push(entry);
					continue;
				}
				const key = `${event}/${kind}`;
				const spec = wanted.get(key);
				if (!spec || placed.has(key)) continue; // stale or duplicate: drop
				placed.add(key);
				entries.push(hookEntry(spec, prefix, args) as unknown as Json);
				if (spec.matcher !== undefined && group.hooks.length === 1 && group.matcher !== spec.matcher) group.matcher = spec.matcher;
			}
			group.hooks = entries;
			if (entries.length > 0 || before === 0) keptGroups.push(group as Json);
		}
		hooks[event] = keptGroups;
	}
	for (const spec of specs) {
		const key = `${spec.event}/${spec.kind}`;
		if (placed.has(key)) continue;
		const group: JsonObject = {};
		if (spec.matcher) group.matcher = spec.matcher;
		group.hooks = [hookEntry(spec, prefix, args) as unknown as Json];
		const list = (hooks[spec.event] as Json[] | undefined) ?? [];
		list.push(group);
		hooks[spec.event] = list;
	}
	out.hooks = hooks;
	return out;
}

/**
 * Returns `settings` without any hook entry of ours. A matcher group, an event's array or the `hooks` object
 * that this leaves empty is removed; ones that were empty before are left alone. Does not modify its input.
 */
export function removeRelayHooks(settings: JsonObject, file = "settings.json"): JsonObject {
	const out = structuredClone(settings);
	const hooks = checkHooksShape(out, file);
	if (!hooks) return out;
	let hooksChanged = false;
	for (const [event, groupsJson] of Object.entries(hooks)) {
		const groups = groupsJson as Json[];
		let eventChanged = false;
		const keptGroups: Json[] = [];
		for (const groupJson of groups) {
			if (!isObject(groupJson) || !Array.isArray(groupJson.hooks)) {
				keptGroups.push(groupJson);
				continue;
			}
			const entries = groupJson.hooks.filter((e) => !(isObject(e) && relayHookKind(e.command)));
			if (entries.length === groupJson.hooks.length) {
				keptGroups.push(groupJson);
				continue;
			}
			eventChanged = true;
			if (entries.length > 0) keptGroups.push({ ...groupJson, hooks: entries });
		}
		if (!eventChanged) continue;
		hooksChanged = true;
		if (keptGroups.length > 0) hooks[event] = keptGroups;
		else delete hooks[event];
	}
	if (hooksChanged && Object.keys(hooks).length === 0) delete out.hooks;
	return out;
}

/** Which of our hooks `settings` has: per spec, the command found (or undefined). */
export function findRelayHooks(settings: JsonObject): Array<{ spec: HookSpec; command: string | undefined }> {
	const hooks = isObject(settings.hooks) ? settings.hooks : {};
	return HOOK_SPECS.map((spec) => {
		const groups = hooks[spec.event];
		let command: string | undefined;
		if (Array.isArray(groups)) {
			for (const g of groups) {
				if (!isObject(g) || !Array.isArray(g.hooks)) continue;
				for (const e of g.hooks) {
					if (isObject(e) && relayHookKind(e.command) === spec.kind && typeof e.command === "string") command ??= e.command;
				}
			}
		}
		return { spec, command };
	});
}

// ----- a readable diff for --dry-run ------------------------------------------------------------------------

/** A line diff of two small texts (LCS), as `  `, `- `, `+ ` lines with `context` lines around changes. */
export function lineDiff(before: string, after: string, context = 3): string[] {
	const a = before === "" ? [] : before.replace(/\n$/, "").split("\n");
	const b = after === "" ? [] : after.replace(/\n$/, "").split("\n");
	const n = a.length;
	const m = b.length;
	const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
	for (let i = n - 1; i >= 0; i--) {
		for (let j = m - 1; j >= 0; j--) {
			const row = lcs[i] as number[];
			row[j] = a[i] === b[j] ? (lcs[i + 1]?.[j + 1] ?? 0) + 1 : Math.max(lcs[i + 1]?.[j] ?? 0, row[j + 1] ?? 0);
		}
	}
	const ops: Array<[" " | "-" | "+", string]> = [];
	let i = 0;
	let j = 0;
	while (i < n || j < m) {
		if (i < n && j < m && a[i] === b[j]) {
			ops.push([" ", a[i] as string]);
			i++;
			j++;
		} else if (i < n && (j >= m || (lcs[i + 1]?.[j] ?? 0) >= (lcs[i]?.[j + 1] ?? 0))) {
			ops.push(["-", a[i] as string]);
			i++;
		} else {
			ops.push(["+", b[j] as string]);
			j++;
		}
	}
	const keep = ops.map(() => false);
	ops.forEach(([op], k) => {
		if (op === " ") return;
		for (let d = Math.max(0, k - context); d <= Math.min(ops.length - 1, k + context); d++) keep[d] = true;
	});
	const out: string[] = [];
	let skipped = false;
	ops.forEach(([op, line], k) => {
		if (!keep[k]) {
			skipped = true;
			return;
		}
		if (skipped && out.length > 0) out.push("  …");
		skipped = false;
		out.push(`${op === " " ? " " : op} ${line}`);
	});
	return out;
}
