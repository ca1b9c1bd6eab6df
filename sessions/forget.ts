/**
 * `claude-relay sessions forget ID`: asks the hub to forget a session now (the `forget` request, on a
 * connection that claims no ID). Authorized by the ID's secret from $RELAY_HOME/secrets, or by the hub token
 * (RELAY_TOKEN, --token-file, $RELAY_HOME/token). The local secret file is kept: the same secret may serve
 * this ID on another hub, and claiming the ID here again simply adopts it.
 */
import WebSocket from "ws";
import { unreachableHint } from "../mcp-client/hub-client.js";
import { parseHubUrls } from "../mcp-client/hub-urls.js";
import { loadToken } from "../mcp-client/options.js";
import { FileSecretStore } from "../mcp-client/secrets.js";
import { paths, relayHome } from "../server/paths.js";
import { checkName, type ResultOf } from "../server/protocol.js";
import { UserError } from "./cli-errors.js";

export interface ForgetOptions {
	id: string;
	url: string;
	room: string;
	force: boolean;
	json: boolean;
	tokenFile?: string | undefined;
	timeoutMs?: number;
	env?: NodeJS.ProcessEnv;
}

/** Exit code 0: forgotten; 1: refused or failed (the reason is printed); 2: invalid arguments. */
export async function runForget(opts: ForgetOptions): Promise<number> {
	const env = opts.env ?? process.env;
	for (const [value, what] of [
		[opts.id, "session ID"],
		[opts.room, "room name"],
	] as const) {
		const check = checkName(value, what);
		if (!check.ok) throw new UserError(`${check.reason}.`, 2);
	}
	const parsed = parseHubUrls(opts.url, "--url or RELAY_URL");
	if (!parsed.ok) throw new UserError(parsed.problem, 2);
	const home = relayHome(env);
	let token: string | undefined;
	try {
		token = loadToken(opts.tokenFile?.trim() || env.RELAY_TOKEN_FILE?.trim() || undefined, env, home);
	} catch (err) {
		throw new UserError((err as Error).message, 1);
	}
	const secret = new FileSecretStore(paths.secrets(home)).load(opts.room, opts.id);
	const frame = {
		type: "forget",
		id: "forget-1",
		session: opts.id,
		room: opts.room,
		...(secret ? { secret } : {}),
		...(token ? { token } : {}),
		...(opts.force ? { force: true } : {}),
	};
	// Several hubs sharing one store: the first that can be reached answers for all of them.
	let answer: Answer | undefined;
	for (const [i, url] of parsed.urls.entries()) {
		try {
			answer = await request(url, frame, opts.timeoutMs ?? 10_000);
			break;
		} catch (err) {
			if (!(err instanceof UnreachableError) || i === parsed.urls.length - 1) throw err;
		}
	}
	if (!answer) throw new UserError("No hub answered.", 1);
	if (answer.type === "error") {
		const hint =
			answer.code === "E_FORBIDDEN" && !secret && !token
				? ` (no secret for ${opts.id} in room ${opts.room} under ${paths.secrets(home)}, and no hub token)`
				: answer.code === "E_SESSION_ONLINE"
					? " Add --force to close it and forget it anyway."
					: "";
		throw new UserError(`${answer.code}: ${answer.message}${hint}`, 1);
	}
	const r = answer.result;
	if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
	else {
		const what = r.existed ? `Forgot ${r.session} in room ${r.room}` : `${r.session} was never claimed in room ${r.room}; dropped the mail queued for it`;
		const mail = r.pending === 0 ? "no unread messages" : `${r.pending} unread message${r.pending === 1 ? "" : "s"} dropped`;
		const closed = r.closed ? `; closed ${r.closed} connection${r.closed === 1 ? "" : "s"} that held it` : "";
		process.stdout.write(`${what}: ${mail}${closed}.\n`);
	}
	return 0;
}

type Answer = { type: "result"; result: ResultOf<"forget"> } | { type: "error"; code: string; message: string };

/** The hub could not be reached at all (the next listed one may be). */
class UnreachableError extends UserError {
	constructor(message: string) {
		super(message, 1);
	}
}

/** One request on a fresh connection, bounded; no hello (forget needs none). */
function request(url: string, frame: Record<string, unknown>, timeoutMs: number): Promise<Answer> {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
		const fail = (err: UserError) => {
			clearTimeout(timer);
			ws.terminate();
			reject(err);
		};
		const timer = setTimeout(() => fail(new UserError(`The hub at ${url} did not answer within ${Math.round(timeoutMs / 1000)} s.`, 1)), timeoutMs);
		ws.on("unexpected-response", (_req, res) =>
			fail(
				new UserError(
					res.statusCode === 401
						? "The hub refused the token (RELAY_TOKEN / --token-file); use the token the hub was started with."
						: `The hub answered HTTP ${res.statusCode} instead of accepting the connection.`,
					1,
				),
			),
		);
		ws.on("error", (err) => fail(new UnreachableError(`${unreachableHint(url)} (${err.message})`)));
		ws.on("open", () => ws.send(JSON.stringify(frame)));
		ws.on("message", (data) => {
			let f: { type?: string; id?: unknown; result?: unknown; code?: string; message?: string };
			try {
				f = JSON.parse(String(data));
			} catch {
				return;
			}
			if (f.id !== frame.id || (f.type !== "result" && f.type !== "error")) return;
			clearTimeout(timer);
			ws.close(1000, "done");
			resolve(
				f.type === "result"
					? { type: "result", result: f.result as ResultOf<"forget"> }
					: { type: "error", code: String(f.code), message: String(f.message) },
			);
		});
		// After an answer this changes nothing (the promise is settled); before one, it is the answer.
		ws.on("close", (code, reason) =>
			fail(
				new UserError(
					code === 4001
						? "The hub refused the token (RELAY_TOKEN / --token-file); use the token the hub was started with."
						: `The hub closed the connection before answering (${code}${reason.length ? ` ${reason}` : ""}).`,
					1,
				),
			),
		);
	});
}
