/**
 * `claude-relay state get|set|append|list|delete` and `claude-relay claims`: the shared state and the file
 * claims of a room, for scripts. JSON out (the hub's result, one line), JSON in (values are JSON text, or
 * `-` for stdin). Exit codes like `send`: 0 done, 1 failed (hub unreachable, E_CONFLICT, a bound), 2 bad
 * arguments (a value that is not JSON, a malformed key).
 *
 * State writes go out once: a write whose answer is lost (the connection dropped) is not sent again, and
 * fails with E_TIMEOUT ("may have been applied"), so a script's own compare-and-set loop stays correct.
 */
import { HubClient } from "../mcp-client/hub-client.js";
import { ErrorCode, RelayError } from "../server/errors.js";
import type { ParamsOf, RequestType, ResultOf } from "../server/protocol.js";
import { UserError } from "../sessions/cli-errors.js";
import { type ConnectArgs, resolveSetup } from "./connect.js";

export type StateAction = "get" | "set" | "append" | "list" | "delete";

export interface StateArgs extends ConnectArgs {
	action: StateAction;
	/** get/set/append/delete: the key; list: the prefix. */
	key?: string | undefined;
	/** set/append: JSON text, or "-" for stdin. */
	value?: string | undefined;
	/** set/append: take the value as a plain string, not JSON. */
	string: boolean;
	expect?: number | undefined;
	maxItems?: number | undefined;
	limit?: number | undefined;
	after?: string | undefined;
	timeout: number;
}

async function readStdin(): Promise<string> {
	const chunks: Buffer[] = [];
	for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
	return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

/** The JSON value of a set/append argument, or a UserError (exit 2) that says how to write it. */
export async function parseValue(raw: string | undefined, asString: boolean): Promise<unknown> {
	if (raw === undefined) throw new UserError("Give the value as JSON ('{\"a\":1}', 42, '\"text\"'), or - to read it from stdin.", 2);
	const text = raw === "-" ? await readStdin() : raw;
	if (asString) return text;
	try {
		return JSON.parse(text);
	} catch {
		throw new UserError(`The value is not JSON: ${JSON.stringify(text.slice(0, 60))}. Quote a string as JSON ('"text"') or pass --string.`, 2);
	}
}

/** One request on one bounded connection (as `send` does: an observer when this ID's secret is stored). */
async function once<T extends RequestType>(args: StateArgs, type: T, params: ParamsOf<T>): Promise<ResultOf<T>> {
	const setup = resolveSetup(args, { client: "claude-relay-state", stableFallback: true });
	const timeoutMs = Math.max(1, args.timeout) * 1000;
	const attempt = async (observer: boolean) => {
		const client = new HubClient({
			// A one-shot: it needs no list of peers in its hello answer.
			helloPeers: 0,
			url: setup.url,
			session: setup.id,
			room: setup.room,
			token: setup.token,
			meta: setup.meta,
			secrets: setup.secrets,
			observer,
			reconnect: false,
			keepaliveMs: 0,
			requestTimeoutMs: timeoutMs,
			connectTimeoutMs: Math.min(timeoutMs, 5_000),
		});
		try {
			await client.waitReady(timeoutMs);
			return await client.request(type, params);
		} finally {
			await client.close({ bye: true, timeoutMs: 1_000 });
		}
	};
	const observer = setup.secrets.load(setup.room, setup.id) !== undefined;
	try {
		return await attempt(observer);
	} catch (err) {
		// The hub no longer knows this ID (a new database): claim it afresh.
		if (observer && err instanceof RelayError && err.code === ErrorCode.NOT_REGISTERED) return attempt(false);
		throw err;
	}
}

function requireKey(args: StateArgs): string {
	if (!args.key) throw new UserError(`state ${args.action} needs a key.`, 2);
	return args.key;
}

export async function runState(args: StateArgs): Promise<void> {
	try {
		let result: unknown;
		switch (args.action) {
			case "get":
				result = await once(args, "state_get", { key: requireKey(args) });
				break;
			case "set": {
				const key = requireKey(args);
				const value = await parseValue(args.value, args.string);
				result = await once(args, "state_set", { key, value, ...(args.expect !== undefined ? { expectedVersion: args.expect } : {}) });
				break;
			}
			case "append": {
				const key = requireKey(args);
				const item = await parseValue(args.value, args.string);
				result = await once(args, "state_append", { key, item, ...(args.maxItems !== undefined ? { maxItems: args.maxItems } : {}) });
				break;
			}
			case "list":
				result = await once(args, "state_list", {
					...(args.key !== undefined ? { prefix: args.key } : {}),
					...(args.after !== undefined ? { after: args.after } : {}),
					...(args.limit !== undefined ? { limit: args.limit } : {}),
				});
				break;
			case "delete":
				result = await once(args, "state_delete", { key: requireKey(args), ...(args.expect !== undefined ? { expectedVersion: args.expect } : {}) });
				break;
		}
		process.stdout.write(`${JSON.stringify(result)}\n`);
	} catch (err) {
		throw report(err);
	}
}

/** Prints the failure as JSON on stdout (scripts read one stream) and returns the UserError to exit with. */
export function report(err: unknown): UserError {
	let code: string;
	let message: string;
	let details: unknown;
	let exitCode = 1;
	if (err instanceof UserError) {
		code = err.exitCode === 2 ? "E_USAGE" : "E_FAILED";
		message = err.message;
		exitCode = err.exitCode;
	} else if (err instanceof RelayError) {
		code = err.code;
		message = err.message;
		details = err.details;
		if (err.code === ErrorCode.BAD_KEY || err.code === ErrorCode.BAD_ID || err.code === ErrorCode.BAD_FRAME || err.code === ErrorCode.BAD_PATH) exitCode = 2;
	} else {
		code = "E_FAILED";
		message = err instanceof Error ? err.message : String(err);
	}
	process.stdout.write(`${JSON.stringify({ error: { code, message, ...(details !== undefined ? { details } : {}) } })}\n`);
	return new UserError(`${code}: ${message}`, exitCode);
}
