/**
 * The bridge's pieces on their own: session ID order, flags and environment, the local hold, secrets on
 * disk, and the compact text. The end-to-end behaviour is in bridge.test.ts.
 */
import { spawnSync } from "node:child_process";
import {
	linkSync,
	lstatSync,
	mkdirSync,
	readdirSync,
	readFileSync,
	statSync,
	symlinkSync,
	writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
	BODY_LIMIT,
	PREVIEW_CHARS,
	present,
	RESULT_BUDGET,
} from "../mcp-client/format.js";
import { Framing } from "../mcp-client/framing.js";
import {
	fallbackId,
	gitBranch,
	resolveIdentity,
} from "../mcp-client/identity.js";
import { BridgeContext } from "../mcp-client/context.js";
import { LocalInbox } from "../mcp-client/inbox.js";
import type { BridgeLog } from "../mcp-client/log.js";
import { resolveConfig, UsageError } from "../mcp-client/options.js";
import { FileSecretStore } from "../mcp-client/secrets.js";
import { checkName, type Message, newIdempotencyKey } from "../server/protocol.js";
import { tempDir } from "./fixtures/hub.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
	while (cleanups.length) cleanups.pop()?.();
});
function dir(): string {
	const t = tempDir("relay-units-");
	cleanups.push(t.cleanup);
	return t.dir;
}

/** A log that drops everything (BridgeContext needs one). */
function silentBridgeLog(): BridgeLog {
	const drop = () => undefined;
	return { trace: drop, debug: drop, info: drop, warn: drop, error: drop, fatal: drop, file: "/dev/null", attach: async () => undefined, flush: drop };
}

let seq = 0;
const msg = (over: Partial<Message> = {}): Message => {
	seq++;
	return {
		id: `m-${seq}-aaaaaa`,
		seq,
		room: "default",
		from: "A",
		to: "B",
		body: `body ${seq}`,
		replyTo: null,
		sentAt: Date.now(),
		...over,
	};
};

describe("session ID order", () => {
	const env = {
		CLAUDE_RELAY_SESSION_ID: "FromAlias",
		RELAY_CLIENT_ID: "FromEnv",
	};
	it("prefers CLAUDE_RELAY_SESSION_ID, then --client-id, then RELAY_CLIENT_ID, then hostname-pid", () => {
		expect(resolveIdentity({ env, clientIdFlag: "FromFlag" })).toEqual({
			id: "FromAlias",
			source: "CLAUDE_RELAY_SESSION_ID",
		});
		expect(
			resolveIdentity({
				env: { RELAY_CLIENT_ID: "FromEnv" },
				clientIdFlag: "FromFlag",
			}),
		).toEqual({ id: "FromFlag", source: "--client-id" });
		expect(resolveIdentity({ env: { RELAY_CLIENT_ID: "FromEnv" } })).toEqual({
			id: "FromEnv",
			source: "RELAY_CLIENT_ID",
		});
		expect(resolveIdentity({ env: {}, host: "laptop.local", pid: 42 })).toEqual(
			{ id: "laptop-42", source: "hostname-pid" },
		);
		// Blank values count as unset.
		expect(
			resolveIdentity({
				env: { CLAUDE_RELAY_SESSION_ID: "  " },
				clientIdFlag: "FromFlag",
			}).source,
		).toBe("--client-id");
	});

	it("refuses an invalid ID from the source that won, naming it and the fix, instead of falling through", () => {
		const r = resolveIdentity({
			env: { CLAUDE_RELAY_SESSION_ID: "../etc", RELAY_CLIENT_ID: "Fine" },
		});
		expect(r.source).toBe("CLAUDE_RELAY_SESSION_ID");
		expect(r.problem?.code).toBe("E_BAD_ID");
		expect(r.problem?.message).toMatch(
			/CLAUDE_RELAY_SESSION_ID.*path separator.*claude-session/,
		);
		expect(
			resolveIdentity({ env: { RELAY_CLIENT_ID: "system" } }).problem?.message,
		).toMatch(/reserved/);
	});

	it("makes a valid fallback ID out of any hostname", () => {
		for (const host of [
			"laptop",
			"my.host.example.com",
			"123-box",
			"weird_host name!",
			"",
			"-.-",
			"x".repeat(100),
		]) {
			const id = fallbackId(host, 987654);
			expect(checkName(id)).toEqual({ ok: true });
			expect(id.endsWith("-987654")).toBe(true);
		}
		expect(fallbackId("123-box", 1)).toBe("h123-box-1");
	});
});

describe("flags and environment", () => {
	it("uses defaults, then environment, then flags", () => {
		const home = dir();
		const base = resolveConfig([], {
			RELAY_HOME: home,
			CLAUDE_RELAY_SESSION_ID: "A",
		});
		expect(base).toMatchObject({
			url: "ws://localhost:9999",
			room: "default",
			token: undefined,
			home,
			logLevel: "info",
			problem: undefined,
		});
		const env = resolveConfig([], {
			RELAY_HOME: home,
			CLAUDE_RELAY_SESSION_ID: "A",
			RELAY_URL: "ws://hub:1",
			RELAY_ROOM: "team",
			RELAY_TOKEN: "t".repeat(20),
		});
		expect(env).toMatchObject({
			url: "ws://hub:1",
			room: "team",
			token: "t".repeat(20),
		});
		const flags = resolveConfig(
			["--relay-url=ws://other:2", "--room", "solo"],
			{
				RELAY_HOME: home,
				CLAUDE_RELAY_SESSION_ID: "A",
				RELAY_URL: "ws://hub:1",
			},
		);
		expect(flags).toMatchObject({ url: "ws://other:2", room: "solo" });
		expect(
			resolveConfig([], { RELAY_HOME: home, CLAUDE_CODE_SESSION_ID: "abc-123" })
				.claudeSessionId,
		).toBe("abc-123");
	});

	it("reads the token from --token-file before RELAY_TOKEN, and from $RELAY_HOME/token as a last resort", () => {
		const home = dir();
		const file = join(home, "my-token");
		writeFileSync(file, "from-file-0123456789\n");
		expect(
			resolveConfig(["--token-file", file], {
				RELAY_HOME: home,
				RELAY_TOKEN: "from-env",
			}).token,
		).toBe("from-file-0123456789");
		expect(
			resolveConfig([], { RELAY_HOME: home, RELAY_TOKEN_FILE: file }).token,
		).toBe("from-file-0123456789");
		expect(
			resolveConfig([], { RELAY_HOME: home, RELAY_TOKEN: "from-env" }).token,
		).toBe("from-env");
		writeFileSync(join(home, "token"), "default-file-token\n");
		expect(resolveConfig([], { RELAY_HOME: home }).token).toBe(
			"default-file-token",
		);
	});

	it("turns a bad configuration into a problem the tools report, and a bad command line into a UsageError", () => {
		const home = dir();
		const missing = resolveConfig(["--token-file", join(home, "nope")], {
			RELAY_HOME: home,
			CLAUDE_RELAY_SESSION_ID: "A",
		});
		expect(missing.problem?.code).toBe("E_AUTH");
		expect(missing.problem?.message).toMatch(
			/Cannot read the hub token file .*nope/,
		);
		expect(
			resolveConfig([], { RELAY_HOME: home, RELAY_URL: "http://x" }).problem
				?.message,
		).toMatch(/not a ws:\/\/ or wss:\/\/ URL/);
		expect(
			resolveConfig(["--room", "a b"], { RELAY_HOME: home }).problem?.code,
		).toBe("E_BAD_ID");
		expect(() => resolveConfig(["--nope"], { RELAY_HOME: home })).toThrow(
			UsageError,
		);
		expect(() => resolveConfig(["stray"], { RELAY_HOME: home })).toThrow(
			/claude-relay mcp --help/,
		);
	});
});

describe("local hold", () => {
	it("holds pushes oldest first, never twice, and never one already handed to the model", () => {
		const inbox = new LocalInbox();
		const [m1, m2, m3] = [msg(), msg({ from: "C" }), msg()];
		expect(inbox.add(m3)).toBe(true);
		expect(inbox.add(m1)).toBe(true);
		expect(inbox.add(m1)).toBe(false);
		expect(inbox.add(m2)).toBe(true);
		expect(inbox.list().map((m) => m.id)).toEqual([m1.id, m2.id, m3.id]);
		expect(inbox.list(5, "C").map((m) => m.id)).toEqual([m2.id]);

		expect(inbox.markHanded([m1])).toEqual([m1.id]);
		expect(inbox.size).toBe(2);
		expect(inbox.add(m1)).toBe(false);
		expect(inbox.wasHanded(m1.id)).toBe(true);
		expect(inbox.pendingAcks()).toEqual([m1.id]);
		inbox.acked([m1.id]);
		expect(inbox.unsentAcks).toBe(0);
		inbox.reack(m1.id);
		expect(inbox.pendingAcks()).toEqual([m1.id]);
	});

	it("acks what a tool handed over only once its reply is written; a reply never written hands nothing over", () => {
		const inbox = new LocalInbox();
		const [m1, m2] = [msg(), msg()];
		inbox.add(m1);
		inbox.add(m2);
		inbox.markHanded([m1, m2], true);
		// Handed: no tool shows them again, but the hub hears nothing yet (an ack is its `seen`).
		expect(inbox.taken(m1.id)).toBe(true);
		expect(inbox.pendingAcks()).toEqual([]);
		expect(inbox.unsentAcks).toBe(2);
		// A re-delivery meanwhile does not send the ack early either.
		inbox.reack(m1.id);
		expect(inbox.pendingAcks()).toEqual([]);
		inbox.shown([m1.id]);
		expect(inbox.pendingAcks()).toEqual([m1.id]);
		// The other call was cancelled: its message is unread again, and no ack is ever sent for it.
		inbox.unhand([m2.id]);
		expect(inbox.taken(m2.id)).toBe(false);
		expect(inbox.wasHanded(m2.id)).toBe(false);
		inbox.shown([m2.id]);
		expect(inbox.pendingAcks()).toEqual([m1.id]);
	});

	it("afterReply resolves when the reply to that request is written, false when the call is cancelled first", async () => {
		const ctx = new BridgeContext(resolveConfig([], { CLAUDE_RELAY_SESSION_ID: "Unit", RELAY_HOME: dir() }), silentBridgeLog());
		// Without main.ts reporting replies, there is nothing to wait for.
		await expect(ctx.afterReply({ requestId: 1, signal: new AbortController().signal })).resolves.toBe(true);
		ctx.reportReplies();
		let written: boolean | undefined;
		void ctx.afterReply({ requestId: 7, signal: new AbortController().signal }).then((w) => {
			written = w;
		});
		ctx.replyWritten(8);
		await new Promise((r) => setTimeout(r, 10));
		expect(written).toBeUndefined();
		ctx.replyWritten(7);
		await new Promise((r) => setTimeout(r, 0));
		expect(written).toBe(true);
		const cancel = new AbortController();
		const cancelled = ctx.afterReply({ requestId: 9, signal: cancel.signal });
		cancel.abort();
		await expect(cancelled).resolves.toBe(false);
		ctx.replyWritten(9); // a late report for a cancelled call changes nothing
	});

	it("is bounded by count and bytes, counting what it could not hold", () => {
		const inbox = new LocalInbox({ maxMessages: 2, maxBytes: 1_000 });
		expect(inbox.add(msg())).toBe(true);
		expect(inbox.add(msg({ body: "x".repeat(600) }))).toBe(false);
		expect(inbox.add(msg())).toBe(true);
		expect(inbox.add(msg())).toBe(false);
		expect(inbox.size).toBe(2);
		expect(inbox.dropped).toBe(2);
	});

	it("forgets held messages the hub no longer has unacked, judged by an unfiltered peek", () => {
		const inbox = new LocalInbox();
		const [old, kept, later] = [msg(), msg(), msg()];
		for (const m of [old, kept, later]) inbox.add(m);
		const before = inbox.heldIds();
		inbox.reconcile(before, [kept]);
		expect(inbox.list().map((m) => m.id)).toEqual([kept.id, later.id]);
		inbox.reconcile(inbox.heldIds(), []);
		expect(inbox.size).toBe(0);
	});

	it("wakes listeners and bumps its version on each new message only", () => {
		const inbox = new LocalInbox();
		const seen: string[] = [];
		const off = inbox.onAdd((m) => seen.push(m.id));
		const m = msg();
		inbox.add(m);
		inbox.add(m);
		expect(seen).toEqual([m.id]);
		expect(inbox.version).toBe(1);
		off();
		inbox.add(msg());
		expect(seen).toHaveLength(1);
	});
});

describe("secrets on disk", () => {
	it("writes <room>.<id>.secret with mode 0600 in a 0700 directory, atomically, and reads it back", () => {
		const root = dir();
		const store = new FileSecretStore(join(root, "secrets"));
		expect(store.load("default", "A")).toBeUndefined();
		store.save("default", "A", "s3cret");
		const file = join(root, "secrets", "default.A.secret");
		expect(readFileSync(file, "utf8")).toBe("s3cret\n");
		expect(statSync(file).mode & 0o777).toBe(0o600);
		expect(statSync(join(root, "secrets")).mode & 0o777).toBe(0o700);
		expect(readdirSync(join(root, "secrets"))).toEqual(["default.A.secret"]);
		expect(
			new FileSecretStore(join(root, "secrets")).load("default", "A"),
		).toBe("s3cret");
		store.save("default", "A", "rotated");
		expect(
			new FileSecretStore(join(root, "secrets")).load("default", "A"),
		).toBe("rotated");
	});

	it("tightens a secret file others can read, and keeps a secret it cannot write in memory", () => {
		const root = dir();
		const secrets = join(root, "secrets");
		mkdirSync(secrets, { mode: 0o700 });
		writeFileSync(join(secrets, "default.B.secret"), "open\n", { mode: 0o644 });
		const warnings: string[] = [];
		const log = {
			warn: (_: object, m: string) => warnings.push(m),
			error: (_: object, m: string) => warnings.push(m),
		};
		expect(new FileSecretStore(secrets, log).load("default", "B")).toBe("open");
		expect(statSync(join(secrets, "default.B.secret")).mode & 0o777).toBe(
			0o600,
		);
		expect(warnings[0]).toMatch(/mode 0600/);

		const blocked = join(root, "a-file");
		writeFileSync(blocked, "");
		const store = new FileSecretStore(join(blocked, "secrets"), log);
		store.save("default", "C", "kept");
		expect(store.load("default", "C")).toBe("kept");
		expect(warnings.at(-1)).toMatch(/E_ID_TAKEN/);
	});

	const recording = () => {
		const warnings: string[] = [];
		return {
			warnings,
			log: {
				warn: (_: object, m: string) => warnings.push(m),
				error: (_: object, m: string) => warnings.push(m),
			},
		};
	};

	it("refuses a secret file that is a symbolic link: neither reads nor chmods its target", () => {
		const root = dir();
		const secrets = join(root, "secrets");
		mkdirSync(secrets, { mode: 0o700 });
		const target = join(root, "system-file");
		writeFileSync(target, "not-a-secret\n", { mode: 0o644 });
		const link = join(secrets, "default.A.secret");
		symlinkSync(target, link);
		const { warnings, log } = recording();
		expect(new FileSecretStore(secrets, log).load("default", "A")).toBeUndefined();
		expect(statSync(target).mode & 0o777).toBe(0o644);
		expect(warnings).toEqual([
			expect.stringMatching(/^refusing the secret file .*default\.A\.secret: it is a symbolic link, which claude-relay does not follow; delete it/),
		]);
		// Saving replaces the link itself; the target is never written through.
		const store = new FileSecretStore(secrets, log);
		store.save("default", "A", "fresh");
		expect(readFileSync(target, "utf8")).toBe("not-a-secret\n");
		expect(lstatSync(link).isSymbolicLink()).toBe(false);
		expect(new FileSecretStore(secrets).load("default", "A")).toBe("fresh");
	});

	it("refuses a hard-linked secret and a FIFO, and a secrets directory that is a symbolic link", () => {
		const root = dir();
		const secrets = join(root, "secrets");
		mkdirSync(secrets, { mode: 0o700 });
		const other = join(root, "other-file");
		writeFileSync(other, "shared\n", { mode: 0o644 });
		linkSync(other, join(secrets, "default.H.secret"));
		const { warnings, log } = recording();
		expect(new FileSecretStore(secrets, log).load("default", "H")).toBeUndefined();
		expect(statSync(other).mode & 0o777).toBe(0o644);
		expect(warnings.at(-1)).toMatch(/other hard links/);

		const fifo = spawnSync("mkfifo", [join(secrets, "default.F.secret")]);
		if (fifo.status === 0) {
			// Would block forever on open without O_NONBLOCK.
			expect(new FileSecretStore(secrets, log).load("default", "F")).toBeUndefined();
			expect(warnings.at(-1)).toMatch(/not a regular file/);
		}

		const elsewhere = join(root, "elsewhere");
		mkdirSync(elsewhere, { mode: 0o755 });
		writeFileSync(join(elsewhere, "default.L.secret"), "linked\n", { mode: 0o644 });
		const linkedDir = join(root, "linked-secrets");
		symlinkSync(elsewhere, linkedDir);
		const store = new FileSecretStore(linkedDir, log);
		expect(store.load("default", "L")).toBeUndefined();
		expect(warnings.at(-1)).toMatch(/secrets directory .* is a symbolic link/);
		expect(statSync(join(elsewhere, "default.L.secret")).mode & 0o777).toBe(0o644);
		store.save("default", "M", "kept-in-memory");
		expect(store.load("default", "M")).toBe("kept-in-memory");
		expect(statSync(elsewhere).mode & 0o777).toBe(0o755);
		expect(readdirSync(elsewhere)).toEqual(["default.L.secret"]);
		expect(warnings.at(-1)).toMatch(/symbolic link.*E_ID_TAKEN/);
	});
});

describe("tool text", () => {
	it("frames each message with its seq, sender, recipient, time, id and reply, under one nonce per result", () => {
		const m = msg({
			seq: 7,
			id: "m-7-abcdef",
			from: "CC-1",
			to: "CC-2",
			body: "hi\nthere",
			replyTo: "m-3-defghi",
			sentAt: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
		});
		const { note, blocks } = present([m, msg()], new Framing("n0nce12345"));
		expect(blocks[0]).toBe(
			'<relay-message nonce="n0nce12345" id="m-7-abcdef" seq="7" from="CC-1" to="CC-2" sent="2026-01-02T03:04:05Z" reply_to="m-3-defghi" thread="m-7-abcdef">\nhi\nthere\n</relay-message nonce="n0nce12345">',
		);
		expect(blocks[1]).toMatch(/^<relay-message nonce="n0nce12345" /);
		expect(note).toContain('<relay-message nonce="n0nce12345" …> and </relay-message nonce="n0nce12345">');
	});

	it("cuts long bodies with a relay_get hint and keeps a whole page within its budget", () => {
		const long = msg({ body: "z".repeat(BODY_LIMIT + 10) });
		const one = present([long]).blocks[0] ?? "";
		expect(one).toContain(`chars="0-${BODY_LIMIT}/${BODY_LIMIT + 10}"`);
		expect(one.endsWith(`… [10 more chars: relay_get {"id":"${long.id}","offset":${BODY_LIMIT}}]`)).toBe(true);
		const page = Array.from({ length: 10 }, () =>
			msg({ body: "y".repeat(BODY_LIMIT) }),
		);
		const { blocks, shown } = present(page);
		const bodyChars = shown.reduce((n, m) => n + m.body.length, 0);
		expect(bodyChars).toBeLessThanOrEqual(
			RESULT_BUDGET + PREVIEW_CHARS * page.length,
		);
		expect(shown.at(-1)).toMatchObject({
			truncated: true,
			bodyChars: BODY_LIMIT,
		});
		expect(shown.at(-1)?.body.length).toBe(PREVIEW_CHARS);
		expect(blocks.at(-1)).toContain("relay_get");
		expect(shown[0]).toMatchObject({ truncated: false });
	});
});

describe("git branch", () => {
	it("reads the branch from .git/HEAD, a worktree's gitdir file, or a detached commit", () => {
		const root = dir();
		mkdirSync(join(root, ".git"));
		writeFileSync(join(root, ".git", "HEAD"), "ref: refs/heads/feature/x\n");
		mkdirSync(join(root, "sub", "deeper"), { recursive: true });
		expect(gitBranch(join(root, "sub", "deeper"))).toBe("feature/x");

		const wt = dir();
		mkdirSync(join(wt, "gitdir"));
		writeFileSync(
			join(wt, "gitdir", "HEAD"),
			"0123456789abcdef0123456789abcdef01234567\n",
		);
		mkdirSync(join(wt, "checkout"));
		writeFileSync(
			join(wt, "checkout", ".git"),
			`gitdir: ${join(wt, "gitdir")}\n`,
		);
		expect(gitBranch(join(wt, "checkout"))).toBe("0123456789ab");
	});
});

describe("idempotency keys", () => {
	it("are UUIDv7s, unique, and sort in the order they were made (the hub's key index stays append-only)", () => {
		const keys = Array.from({ length: 5_000 }, () => newIdempotencyKey());
		for (const k of keys) expect(k).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
		expect(new Set(keys).size).toBe(keys.length);
		expect([...keys].sort()).toEqual(keys);
	});
});
