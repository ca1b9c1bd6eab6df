/**
 * `claude-relay send <to> <message...>`: one message from a script, then exit (`to`: a session ID, `*`,
 * `#topic`, or several IDs as `A,B`). Connects once (no
 * reconnect, every step bounded), says hello, sends, prints one line and exits 0; on failure prints the
 * error's sentence and exits 1 (2 for arguments that can never work: a malformed recipient, an empty message).
 *
 * When this ID's secret is already stored (the usual case after the first run, and for `send` run from a
 * Claude session's own shell, whose bridge holds the ID), it attaches as an observer: it then never
 * contests or displaces a live holder of the ID and causes no joined/left noise in the room.
 */
import { HubClient } from "../mcp-client/hub-client.js";
import { ErrorCode, RelayError } from "../server/errors.js";
import { MESSAGE_ID_HINT, MESSAGE_ID_PATTERN, parseTarget, type ResultOf } from "../server/protocol.js";
import { terminalSafeJson } from "../server/sanitize.js";
import { UserError } from "../sessions/cli-errors.js";
import { type ConnectSetup, describeIdSource, resolveSetup } from "./connect.js";
import { formatSendOutcome, formatWarnings } from "./format.js";

export interface SendArgs {
	to: string;
	/** The words of the message, or ["-"] to read it from stdin. */
	message: string[];
	from?: string | undefined;
	url?: string | undefined;
	room?: string | undefined;
	tokenFile?: string | undefined;
	replyTo?: string | undefined;
	json: boolean;
	/** Bound on connecting and on the answer, seconds. */
	timeout: number;
}

async function readStdin(): Promise<string> {
	if (process.stdin.isTTY) process.stderr.write("reading the message from stdin; end it with Ctrl-D\n");
	const chunks: Buffer[] = [];
	for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
	// One trailing newline is how `echo` and heredocs end text; it is not part of the message.
	return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

/** One connection, one send. Rejects with a RelayError whose message is the sentence to show. */
export async function sendOnce(
	setup: ConnectSetup,
	to: string,
	body: string,
	opts: { replyTo?: string | undefined; timeoutMs: number; observer: boolean },
): Promise<ResultOf<"send">> {
	const client = new HubClient({
		// A one-shot: it needs no list of peers in its hello answer.
		helloPeers: 0,
		url: setup.url,
		session: setup.id,
		room: setup.room,
		token: setup.token,
		home: setup.home,
		meta: setup.meta,
		secrets: setup.secrets,
		observer: opts.observer,
		reconnect: false,
		keepaliveMs: 0,
		requestTimeoutMs: opts.timeoutMs,
		connectTimeoutMs: Math.min(opts.timeoutMs, 5_000),
	});
	try {
		await client.waitReady(opts.timeoutMs);
		// A body over the hub's limit is refused by the client at once (E_TOO_LARGE), never sent.
		return await client.send(to, body, opts.replyTo ? { replyTo: opts.replyTo } : {});
	} finally {
		await client.close({ bye: true, timeoutMs: 1_000 });
	}
}

export async function runSend(args: SendArgs): Promise<void> {
	try {
		const setup = resolveSetup({ id: args.from, url: args.url, room: args.room, tokenFile: args.tokenFile }, { client: "claude-relay-send", stableFallback: true });
		const to = args.to.trim();
		const target = parseTarget(to);
		if (!target.ok) throw new UserError(`${target.reason}; give a session ID, * for everyone in the room, #topic for its subscribers, or several IDs (A,B).`, 2);
		const words = args.message.map(String);
		const body = words.length === 1 && words[0] === "-" ? await readStdin() : words.join(" ");
		if (!body.trim()) throw new UserError("The message is empty: give it as arguments, or - to read it from stdin.", 2);
		if (args.replyTo !== undefined && !MESSAGE_ID_PATTERN.test(args.replyTo))
			throw new UserError(`--reply-to ${JSON.stringify(args.replyTo)} ${MESSAGE_ID_HINT}.`, 2);

		const timeoutMs = Math.max(1, args.timeout) * 1000;
		const observer = setup.secrets.load(setup.room, setup.id) !== undefined;
		let result: ResultOf<"send">;
		try {
			result = await sendOnce(setup, target.normalized, body, { replyTo: args.replyTo, timeoutMs, observer });
		} catch (err) {
			// The hub no longer knows this ID (a new database): claim it afresh.
			if (!(observer && err instanceof RelayError && err.code === ErrorCode.NOT_REGISTERED)) throw err;
			result = await sendOnce(setup, target.normalized, body, { replyTo: args.replyTo, timeoutMs, observer: false });
		}

		if (args.json) process.stdout.write(`${terminalSafeJson(JSON.stringify(result))}\n`);
		else {
			process.stdout.write(`${formatSendOutcome(result)}\n`);
			for (const w of formatWarnings(result)) process.stderr.write(`${w}\n`);
		}
	} catch (err) {
		const failure = explain(err, args);
		if (args.json) process.stdout.write(`${terminalSafeJson(JSON.stringify({ error: { code: failure.code, message: failure.message } }))}\n`);
		throw failure.error;
	}
}

/** Turns any failure into a UserError with one line a person can act on. */
function explain(err: unknown, args: SendArgs): { code: string; message: string; error: UserError } {
	if (err instanceof UserError) return { code: err.exitCode === 2 ? "E_USAGE" : "E_FAILED", message: err.message, error: err };
	if (err instanceof RelayError) {
		let message = err.message;
		if (err.code === ErrorCode.ID_TAKEN) {
			let source = "";
			try {
				source = describeIdSource(resolveSetup({ id: args.from, url: args.url, room: args.room, tokenFile: args.tokenFile }, { client: "claude-relay-send", stableFallback: true }));
			} catch {
				// setup succeeded before, so this does not happen; the hint is optional anyway
			}
			message += source ? ` (${source}; send as another: --from <ID>)` : " Send as another: --from <ID>.";
		}
		const exitCode = err.code === ErrorCode.BAD_TARGET || err.code === ErrorCode.BAD_ID ? 2 : 1;
		return { code: err.code, message, error: new UserError(message, exitCode) };
	}
	const message = err instanceof Error ? err.message : String(err);
	return { code: "E_FAILED", message, error: new UserError(message, 1) };
}
