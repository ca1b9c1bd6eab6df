/**
 * The behaviour every Store backend must have. test/store.test.ts runs it against each backend; a new
 * backend (Redis, Postgres, ...) gets a line there and must pass all of it unchanged.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Hub } from "../server/hub.js";
import type { Message, StateChangedPush } from "../server/protocol.js";
import { connectClient } from "./fixtures/hub.js";
import type {
	AppendInput,
	AppendResult,
	ClaimInput,
	ClaimLimits,
	RenameInput,
	SessionRecord,
	StateLimits,
	StateRecord,
	Store,
} from "../server/store/store.js";

export type MakeStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

/**
 * A direct message by default (recipients = [to]); a list `a,b` goes to each; a broadcast has no recipients
 * unless given; a topic (`#t`) is resolved by the store from its subscribers.
 */
function input(fields: Partial<AppendInput> & Pick<AppendInput, "room" | "from" | "to">): AppendInput {
	const topic = fields.to.startsWith("#") ? fields.to.slice(1) : undefined;
	return {
		body: `${fields.from} to ${fields.to}`,
		replyTo: null,
		key: null,
		recipients: fields.to === "*" || topic !== undefined ? [] : fields.to.split(","),
		sentAt: 1_000,
		...(topic !== undefined ? { topic } : {}),
		...fields,
	};
}

function session(room: string, name: string, over: Partial<SessionRecord> = {}): SessionRecord {
	return {
		room,
		session: name,
		secretHash: `hash-of-${name}`,
		meta: { host: "box", cwd: "/src", pid: 42, branch: "main", client: "bridge", version: "1.0.0" },
		firstSeen: 100,
		lastSeen: 100,
		ephemeral: false,
		...over,
	};
}

const seqs = (page: { messages: { seq: number }[] }) => page.messages.map((m) => m.seq);

const LIMITS: StateLimits = { maxValueBytes: 64 * 1024, maxKeys: 10_000, maxRoomBytes: 64 * 1024 * 1024 };
const CLAIM_LIMITS: ClaimLimits = { maxPerSession: 256, maxPerRepo: 4096 };

export function storeSuite(name: string, makeStore: MakeStore): void {
	describe(`Store: ${name}`, () => {
		let store: Store;
		let cleanup: () => Promise<void>;

		beforeEach(async () => {
			({ store, cleanup } = await makeStore());
			await store.open();
		});
		afterEach(async () => {
			await store.close();
			await cleanup();
		});

		const send = (fields: Parameters<typeof input>[0]): Promise<AppendResult> => store.append(input(fields));
		/** n direct messages from `from` to `to`, awaited one by one; returns their seqs. */
		const sendMany = async (n: number, fields: Parameters<typeof input>[0]): Promise<number[]> => {
			const out: number[] = [];
			for (let i = 0; i < n; i++) out.push((await send({ ...fields, body: `#${i}` })).message.seq);
			return out;
		};

		describe("sessions", () => {
			it("createSession creates once and refuses a second claim without changing anything", async () => {
				const first = session("r", "alice");
				expect(await store.createSession(first)).toBe(true);
				expect(await store.getSession("r", "alice")).toEqual(first);

				const second = session("r", "alice", { secretHash: "other", meta: { host: "evil" }, firstSeen: 999 });
				expect(await store.createSession(second)).toBe(false);
				expect(await store.getSession("r", "alice")).toEqual(first);
			});

			it("createSession calls made together: the first of each ID creates, and each is readable as soon as it is asked", async () => {
				expect(await store.createSession(session("r", "old", { secretHash: "stored" }))).toBe(true);
				const calls = Array.from({ length: 50 }, (_, i) => store.createSession(session("r", i === 0 ? "old" : `s${i % 20}`, { secretHash: `h${i}` })));
				const [old, s3, nobody] = await Promise.all([store.getSession("r", "old"), store.getSession("r", "s3"), store.getSession("r", "nobody")]);
				expect(old?.secretHash).toBe("stored");
				expect(s3?.secretHash).toBe("h3");
				expect(nobody).toBeNull();
				expect(await Promise.all(calls)).toEqual(Array.from({ length: 50 }, (_, i) => i > 0 && i <= 20));
				expect((await store.getSession("r", "s0"))?.secretHash).toBe("h20");
				expect((await store.getSession("r", "s19"))?.secretHash).toBe("h19");
				expect(await store.countSessions("r")).toBe(21);
			});

			it("the same ID in another room is another session", async () => {
				expect(await store.createSession(session("r", "alice"))).toBe(true);
				expect(await store.getSession("other", "alice")).toBeNull();
				expect(await store.createSession(session("other", "alice", { secretHash: "h2" }))).toBe(true);
				expect((await store.getSession("other", "alice"))?.secretHash).toBe("h2");
				expect((await store.getSession("r", "alice"))?.secretHash).toBe("hash-of-alice");
			});

			it("getSession of an unknown ID is null", async () => {
				expect(await store.getSession("r", "nobody-here")).toBeNull();
			});

			it("touchSession updates meta and lastSeen only, and ignores unknown sessions", async () => {
				await store.createSession(session("r", "alice"));
				await store.touchSession("r", "alice", { host: "laptop", claudeSessionId: "abc" }, 500);
				expect(await store.getSession("r", "alice")).toEqual({
					...session("r", "alice"),
					meta: { host: "laptop", claudeSessionId: "abc" },
					lastSeen: 500,
				});
				await store.touchSession("r", "ghost", { host: "x" }, 500);
				expect(await store.getSession("r", "ghost")).toBeNull();
			});

			it("listSessions lists one room, ordered by ID", async () => {
				await store.createSession(session("r", "carol"));
				await store.createSession(session("r", "alice"));
				await store.createSession(session("other", "bob"));
				const list = await store.listSessions("r");
				expect(list.map((s) => s.session)).toEqual(["alice", "carol"]);
				expect(list[0]).toEqual(session("r", "alice"));
				expect(await store.listSessions("empty")).toEqual([]);
			});

			it("keeps whether a session is ephemeral, as decided at its first claim", async () => {
				await store.createSession(session("r", "host-4242", { ephemeral: true }));
				await store.createSession(session("r", "alice"));
				expect((await store.getSession("r", "host-4242"))?.ephemeral).toBe(true);
				expect((await store.getSession("r", "alice"))?.ephemeral).toBe(false);
				await store.touchSession("r", "host-4242", { host: "x" }, 200);
				expect(await store.getSession("r", "host-4242")).toEqual(session("r", "host-4242", { ephemeral: true, meta: { host: "x" }, lastSeen: 200 }));
				expect((await store.listSessions("r")).map((s) => [s.session, s.ephemeral])).toEqual([
					["alice", false],
					["host-4242", true],
				]);
			});

			it("listSessions pages in ID order from a cursor, and countSessions counts the room", async () => {
				const ids = ["a1", "B2", "a10", "b", "Z", "a2", "c-3", "a_1"];
				for (const id of ids) await store.createSession(session("r", id));
				await store.createSession(session("other", "a0"));
				const order = [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
				const pages: string[][] = [];
				let after: string | undefined;
				for (;;) {
					const page = await store.listSessions("r", { limit: 3, ...(after !== undefined ? { after } : {}) });
					if (page.length === 0) break;
					pages.push(page.map((p) => p.session));
					after = page.at(-1)?.session;
				}
				expect(pages.map((p) => p.length)).toEqual([3, 3, 2]);
				expect(pages.flat()).toEqual(order);
				expect((await store.listSessions("r", { limit: 100, after: "a2" })).map((p) => p.session)).toEqual(order.slice(order.indexOf("a2") + 1));
				expect(await store.listSessions("r", { limit: 0 })).toEqual([]);
				// An `after` that is not itself an ID still starts right after where it would sort.
				expect((await store.listSessions("r", { limit: 2, after: "a" })).map((p) => p.session)).toEqual(["a1", "a10"]);
				expect(await store.countSessions("r")).toBe(ids.length);
				expect(await store.countSessions("other")).toBe(1);
				expect(await store.countSessions("empty")).toBe(0);
			});

			it("returned records are copies", async () => {
				await store.createSession(session("r", "alice"));
				const got = await store.getSession("r", "alice");
				if (!got) throw new Error("missing");
				got.meta.host = "mutated";
				expect((await store.getSession("r", "alice"))?.meta.host).toBe("box");
			});
		});

		describe("forgetSession", () => {
			it("deletes the record, its unacked deliveries and its lost counter, and nothing of anyone else", async () => {
				await store.createSession(session("r", "alice"));
				await store.createSession(session("r", "bob"));
				await store.createSession(session("r", "carol"));
				await send({ room: "r", from: "alice", to: "bob", sentAt: 1 });
				await store.applyRetention({ olderThan: 2 }); // bob: lost 1
				const bc = await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "carol"] });
				const dm = await send({ room: "r", from: "alice", to: "bob" });
				const fromBob = await send({ room: "r", from: "bob", to: "carol" });
				await send({ room: "other", from: "alice", to: "bob" });

				expect(await store.forgetSession("r", "bob")).toEqual({ session: true, pending: 2 });
				expect(await store.getSession("r", "bob")).toBeNull();
				expect(await store.countPending("r", "bob")).toBe(0);
				expect(await store.takeLost("r", "bob")).toBe(0);
				expect((await store.listSessions("r")).map((s) => s.session)).toEqual(["alice", "carol"]);
				expect(await store.countSessions("r")).toBe(2);
				// Others keep their deliveries of the same broadcast, other rooms are another bob, history stays.
				expect(seqs(await store.pending("r", "carol", { limit: 10 }))).toEqual([bc.message.seq, fromBob.message.seq]);
				expect(await store.countPending("other", "bob")).toBe(1);
				expect(seqs(await store.history("r", { viewer: "alice", limit: 10 }))).toEqual([bc.message.seq, dm.message.seq]);
				expect(await store.stats()).toEqual({ messages: 4, sessions: 2, pendingDeliveries: 3 });
			});

			it("a forgotten ID can be claimed again, from nothing", async () => {
				await store.createSession(session("r", "bob"));
				await send({ room: "r", from: "alice", to: "bob" });
				await store.forgetSession("r", "bob");
				const fresh = session("r", "bob", { secretHash: "new-hash", firstSeen: 900, lastSeen: 900 });
				expect(await store.createSession(fresh)).toBe(true);
				expect(await store.getSession("r", "bob")).toEqual(fresh);
				expect(await store.countPending("r", "bob")).toBe(0);
				const next = await send({ room: "r", from: "alice", to: "bob" });
				expect(seqs(await store.pending("r", "bob", { limit: 10 }))).toEqual([next.message.seq]);
			});

			it("drops the mail queued for an ID nobody ever claimed", async () => {
				await send({ room: "r", from: "alice", to: "typo" });
				await send({ room: "r", from: "alice", to: "typo" });
				expect(await store.forgetSession("r", "typo")).toEqual({ session: false, pending: 2 });
				expect(await store.countPending("r", "typo")).toBe(0);
				expect((await store.stats()).pendingDeliveries).toBe(0);
				expect(await store.forgetSession("r", "typo")).toEqual({ session: false, pending: 0 });
			});

			it("with seenBefore, forgets only a record last seen before it", async () => {
				await store.createSession(session("r", "bob", { lastSeen: 100 }));
				await send({ room: "r", from: "alice", to: "bob" });
				await send({ room: "r", from: "alice", to: "ghost" });
				expect(await store.forgetSession("r", "bob", { seenBefore: 100 })).toEqual({ session: false, pending: 0 });
				expect(await store.getSession("r", "bob")).not.toBeNull();
				expect(await store.countPending("r", "bob")).toBe(1);
				// No record: nothing is dropped, not even queued mail.
				expect(await store.forgetSession("r", "ghost", { seenBefore: 1_000 })).toEqual({ session: false, pending: 0 });
				expect(await store.countPending("r", "ghost")).toBe(1);
				expect(await store.forgetSession("r", "bob", { seenBefore: 101 })).toEqual({ session: true, pending: 1 });
				expect(await store.getSession("r", "bob")).toBeNull();
			});

			it("retention counts nothing lost for a forgotten recipient", async () => {
				await store.createSession(session("r", "bob"));
				await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "carol"], sentAt: 1 });
				await store.forgetSession("r", "bob");
				expect(await store.applyRetention({ olderThan: 2 })).toEqual({ deletedMessages: 1, lostDeliveries: 1 });
				expect(await store.takeLost("r", "bob")).toBe(0);
				expect(await store.takeLost("r", "carol")).toBe(1);
			});

			it("a retried broadcast still answers with the audience it was stored with", async () => {
				await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "carol"], key: "k" });
				await store.forgetSession("r", "bob");
				const again = await send({ room: "r", from: "alice", to: "*", recipients: ["carol"], key: "k" });
				expect(again.duplicate).toBe(true);
				expect([...again.recipients].sort()).toEqual(["bob", "carol"]);
			});
		});

		describe("renameSession", () => {
			const rename = (from: string, to: string, over: Partial<RenameInput> = {}) =>
				store.renameSession({ room: "r", from, to, secretHash: `hash-of-${to}`, meta: { host: "box", client: "renamed" }, now: 700, ...over });

			it("moves the record, the unread mail (in seq order, with what waited for the new ID) and the lost counter", async () => {
				await store.createSession(session("r", "cc1", { firstSeen: 50, ephemeral: true }));
				await store.createSession(session("r", "bob"));
				const early = await send({ room: "r", from: "bob", to: "cc1", sentAt: 1 });
				await store.applyRetention({ olderThan: 2 }); // cc1: lost 1
				const a = await send({ room: "r", from: "bob", to: "cc1" });
				const queued = await send({ room: "r", from: "bob", to: "api1" }); // mail for a name nobody claimed yet
				const bc = await send({ room: "r", from: "bob", to: "*", recipients: ["cc1", "api1"] });
				const read = await send({ room: "r", from: "bob", to: "cc1" });
				await store.ack("r", "cc1", [read.message.id]);
				await send({ room: "other", from: "bob", to: "cc1" });

				// cc1 had two unread (a, bc); api1 had bc already, so one delivery moved and the two of bc are one.
				expect(await rename("cc1", "api1")).toEqual({ renamed: true, existed: false, moved: 1 });
				expect(await store.getSession("r", "cc1")).toBeNull();
				expect(await store.getSession("r", "api1")).toEqual({
					room: "r",
					session: "api1",
					secretHash: "hash-of-api1",
					meta: { host: "box", client: "renamed" },
					firstSeen: 50,
					lastSeen: 700,
					ephemeral: false,
				});
				expect(await store.countPending("r", "cc1")).toBe(0);
				expect(seqs(await store.pending("r", "api1", { limit: 10 }))).toEqual([a.message.seq, queued.message.seq, bc.message.seq]);
				expect(await store.takeLost("r", "api1")).toBe(1);
				expect(await store.takeLost("r", "cc1")).toBe(0);
				expect((await store.listSessions("r")).map((s) => s.session)).toEqual(["api1", "bob"]);
				expect(await store.countSessions("r")).toBe(2);
				// Another room's cc1 is another session; the log is not rewritten.
				expect(await store.countPending("other", "cc1")).toBe(1);
				expect((await store.getMessage("r", a.message.id, "api1"))?.to).toBe("cc1");
				expect(await store.getMessage("r", read.message.id, "api1")).toBeNull();
				expect(early.message.seq).toBeLessThan(a.message.seq);
				expect(await store.stats()).toEqual({ messages: 5, sessions: 2, pendingDeliveries: 4 });
				// Acks, takes and retention work on the moved deliveries under the new ID.
				expect(await store.ack("r", "api1", [a.message.id])).toBe(1);
				expect(seqs(await store.takePending("r", "api1", { limit: 1 }))).toEqual([queued.message.seq]);
				expect(await store.applyRetention({ maxPerRoom: 0 })).toEqual({ deletedMessages: 5, lostDeliveries: 2 });
				expect(await store.countPending("r", "api1")).toBe(0);
				expect(await store.takeLost("r", "api1")).toBe(1);
			});

			it("an existing target keeps its secret and firstSeen; a missing source or the same ID changes nothing", async () => {
				await store.createSession(session("r", "cc1"));
				await store.createSession(session("r", "api1", { secretHash: "theirs", firstSeen: 10, ephemeral: true }));
				const m = await send({ room: "r", from: "bob", to: "cc1" });
				expect(await rename("cc1", "api1")).toEqual({ renamed: true, existed: true, moved: 1 });
				expect(await store.getSession("r", "api1")).toEqual({
					...session("r", "api1", { secretHash: "theirs", firstSeen: 10 }),
					meta: { host: "box", client: "renamed" },
					lastSeen: 700,
				});
				expect(seqs(await store.pending("r", "api1", { limit: 10 }))).toEqual([m.message.seq]);
				expect(await rename("ghost", "x1")).toEqual({ renamed: false, existed: false, moved: 0 });
				expect(await store.getSession("r", "x1")).toBeNull();
				expect(await rename("api1", "api1")).toEqual({ renamed: false, existed: false, moved: 0 });
				expect(await store.countSessions("r")).toBe(1);
				// A renamed session is named: retention's stale scan sees it among the named ones.
				expect(await store.staleSessions({ namedBefore: 701, ephemeralBefore: 701, limit: 10 })).toEqual([
					{ room: "r", session: "api1", ephemeral: false, lastSeen: 700 },
				]);
			});

			it("a renamed ID can be claimed again from nothing, and mail sent to it later queues for a never-claimed ID", async () => {
				await store.createSession(session("r", "cc1"));
				await rename("cc1", "api1");
				const later = await send({ room: "r", from: "bob", to: "cc1" });
				expect(await store.countPending("r", "api1")).toBe(0);
				expect(seqs(await store.pending("r", "cc1", { limit: 10 }))).toEqual([later.message.seq]);
				expect(await store.createSession(session("r", "cc1", { secretHash: "fresh" }))).toBe(true);
			});
		});

		describe("append", () => {
			it("assigns strictly increasing seqs across rooms and short unique ids", async () => {
				const results = [
					await send({ room: "a", from: "alice", to: "bob" }),
					await send({ room: "b", from: "carol", to: "dave" }),
					await send({ room: "a", from: "bob", to: "*", recipients: ["alice"] }),
					await send({ room: "b", from: "dave", to: "carol" }),
				];
				const all = results.map((r) => r.message);
				for (let i = 1; i < all.length; i++) expect(all[i]?.seq).toBeGreaterThan(all[i - 1]?.seq ?? Infinity);
				for (const m of all) expect(m.id).toMatch(new RegExp(`^m-${m.seq}-[a-z0-9]{6}$`));
				expect(new Set(all.map((m) => m.id)).size).toBe(all.length);
				expect(results.every((r) => r.duplicate === false)).toBe(true);
			});

			it("stores the input fields and returns the recipients", async () => {
				// (thread: a message that replies to nothing here is in the thread of what it names)
				const r = await send({
					room: "r",
					from: "alice",
					to: "bob",
					body: "hello\nworld ✓",
					replyTo: "m-1-abcdef",
					sentAt: 1_234_567,
				});
				expect(r.message).toEqual({
					id: r.message.id,
					seq: r.message.seq,
					room: "r",
					from: "alice",
					to: "bob",
					body: "hello\nworld ✓",
					replyTo: "m-1-abcdef",
					thread: "m-1-abcdef",
					sentAt: 1_234_567,
				});
				expect(r.recipients).toEqual(["bob"]);
				expect(await store.getMessage("r", r.message.id, "bob")).toEqual(r.message);
			});

			it("marks a message human only when the hub says so, and every read keeps the mark (and only that one)", async () => {
				const person = await send({ room: "r", from: "Operator", to: "bob", body: "from a person", human: true, key: "k1" });
				const agent = await send({ room: "r", from: "alice", to: "bob", body: "from an agent" });
				const broadcast = await send({ room: "r", from: "Operator", to: "*", recipients: ["bob", "carol"], human: true });
				expect(person.message).toEqual({ ...person.message, human: true });
				expect(person.message.human).toBe(true);
				expect(broadcast.message.human).toBe(true);
				// No `human` key at all on an agent's message, not even false: the field means "a person wrote it".
				expect(Object.keys(agent.message)).not.toContain("human");
				const reads = [
					(await store.pending("r", "bob", { limit: 10 })).messages,
					(await store.history("r", { viewer: "bob", limit: 10 })).messages,
				];
				for (const messages of reads) {
					expect(messages.map((m) => [m.body, m.human])).toEqual([
						["from a person", true],
						["from an agent", undefined],
						[broadcast.message.body, true],
					]);
					expect(Object.keys(messages[1] ?? {})).not.toContain("human");
				}
				expect(await store.getMessage("r", person.message.id, "bob")).toEqual(person.message);
				expect(await store.getMessage("r", agent.message.id, "bob")).toEqual(agent.message);
				// A retry with the same key answers the stored message, mark included.
				const retried = await send({ room: "r", from: "Operator", to: "bob", body: "from a person", human: true, key: "k1" });
				expect(retried).toMatchObject({ duplicate: true, message: person.message });
				expect((await store.takePending("r", "carol", { limit: 10 })).messages).toEqual([broadcast.message]);
			});

			it("writes one unacked delivery per recipient, none for the sender", async () => {
				await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "carol"] });
				expect(await store.countPending("r", "bob")).toBe(1);
				expect(await store.countPending("r", "carol")).toBe(1);
				expect(await store.countPending("r", "alice")).toBe(0);
				expect((await store.stats()).pendingDeliveries).toBe(2);
			});

			it("queues for an ID that has no session record", async () => {
				await store.createSession(session("r", "alice"));
				await send({ room: "r", from: "alice", to: "never-seen" });
				expect(await store.getSession("r", "never-seen")).toBeNull();
				const page = await store.pending("r", "never-seen", { limit: 10 });
				expect(page.messages.map((m) => m.from)).toEqual(["alice"]);
			});

			it("a recipient listed twice gets one delivery", async () => {
				const r = await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "bob", "carol"] });
				expect([...r.recipients].sort()).toEqual(["bob", "carol"]);
				expect(await store.countPending("r", "bob")).toBe(1);
			});

			it("a broadcast with no recipients is stored and delivered to no one", async () => {
				const r = await send({ room: "r", from: "alice", to: "*" });
				expect(r.recipients).toEqual([]);
				expect((await store.stats()).messages).toBe(1);
				expect((await store.stats()).pendingDeliveries).toBe(0);
			});

			it("the same (room, from, key) returns the earlier message and writes nothing", async () => {
				const first = await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "carol"], key: "k1" });
				const again = await send({
					room: "r",
					from: "alice",
					to: "dave",
					body: "different",
					recipients: ["dave"],
					key: "k1",
					sentAt: 5_000,
				});
				expect(again.duplicate).toBe(true);
				expect(again.message).toEqual(first.message);
				expect([...again.recipients].sort()).toEqual(["bob", "carol"]);
				expect(await store.stats()).toEqual({ messages: 1, sessions: 0, pendingDeliveries: 2 });
				expect(await store.countPending("r", "dave")).toBe(0);
			});

			it("keys are scoped by sender and room; null keys never match", async () => {
				const a = await send({ room: "r", from: "alice", to: "bob", key: "k" });
				const b = await send({ room: "r", from: "carol", to: "bob", key: "k" });
				const c = await send({ room: "other", from: "alice", to: "bob", key: "k" });
				const d = await send({ room: "r", from: "alice", to: "bob" });
				const e = await send({ room: "r", from: "alice", to: "bob" });
				const all = [a, b, c, d, e];
				expect(all.map((x) => x.duplicate)).toEqual([false, false, false, false, false]);
				expect(new Set(all.map((x) => x.message.id)).size).toBe(5);
				expect(await store.countPending("r", "bob")).toBe(4);
			});

			it("idempotency holds between appends issued together", async () => {
				const [one, two] = await Promise.all([
					send({ room: "r", from: "alice", to: "bob", key: "same" }),
					send({ room: "r", from: "alice", to: "bob", key: "same" }),
				]);
				expect(one?.duplicate).toBe(false);
				expect(two?.duplicate).toBe(true);
				expect(two?.message).toEqual(one?.message);
				expect(await store.countPending("r", "bob")).toBe(1);
			});

			it("appends issued together get increasing seqs in call order", async () => {
				const results = await Promise.all(
					Array.from({ length: 50 }, (_, i) => send({ room: "r", from: "alice", to: "bob", body: `${i}` })),
				);
				const got = results.map((r) => r.message.seq);
				expect(got).toEqual([...got].sort((x, y) => x - y));
				expect(new Set(got).size).toBe(50);
				const page = await store.pending("r", "bob", { limit: 100 });
				expect(page.messages.map((m) => m.body)).toEqual(results.map((_, i) => `${i}`));
			});

			it("never reuses a seq, even after retention deleted every message", async () => {
				const before = (await send({ room: "r", from: "alice", to: "bob" })).message.seq;
				await store.applyRetention({ maxPerRoom: 0 });
				expect((await store.stats()).messages).toBe(0);
				const after = (await send({ room: "r", from: "alice", to: "bob" })).message.seq;
				expect(after).toBeGreaterThan(before);
			});
		});

		describe("pending, takePending, ack", () => {
			it("pages through the inbox in seq order without skipping", async () => {
				const sent = await sendMany(25, { room: "r", from: "alice", to: "bob" });
				const pages = [
					await store.takePending("r", "bob", { limit: 10 }),
					await store.takePending("r", "bob", { limit: 10 }),
					await store.takePending("r", "bob", { limit: 10 }),
				];
				expect(pages.map((p) => p.messages.length)).toEqual([10, 10, 5]);
				expect(pages.map((p) => p.remaining)).toEqual([15, 5, 0]);
				expect(pages.flatMap(seqs)).toEqual(sent);
				expect(await store.takePending("r", "bob", { limit: 10 })).toEqual({ messages: [], remaining: 0 });
			});

			it("pending does not ack", async () => {
				await sendMany(3, { room: "r", from: "alice", to: "bob" });
				const one = await store.pending("r", "bob", { limit: 2 });
				const two = await store.pending("r", "bob", { limit: 2 });
				expect(two).toEqual(one);
				expect(one.remaining).toBe(1);
				expect(await store.countPending("r", "bob")).toBe(3);
			});

			it("takePending acks exactly the returned messages", async () => {
				const sent = await sendMany(5, { room: "r", from: "alice", to: "bob" });
				const page = await store.takePending("r", "bob", { limit: 2 });
				expect(seqs(page)).toEqual(sent.slice(0, 2));
				expect(await store.countPending("r", "bob")).toBe(3);
				expect(seqs(await store.pending("r", "bob", { limit: 10 }))).toEqual(sent.slice(2));
			});

			it("afterSeq skips deliveries up to the cursor; remaining counts only after the page", async () => {
				const sent = await sendMany(6, { room: "r", from: "alice", to: "bob" });
				const page = await store.pending("r", "bob", { afterSeq: sent[1], limit: 2 });
				expect(seqs(page)).toEqual(sent.slice(2, 4));
				expect(page.remaining).toBe(2);
			});

			it("from filters by sender, also in remaining, and takePending leaves the others", async () => {
				await send({ room: "r", from: "alice", to: "bob" });
				await send({ room: "r", from: "carol", to: "bob" });
				await send({ room: "r", from: "alice", to: "bob" });
				await send({ room: "r", from: "alice", to: "bob" });
				const page = await store.takePending("r", "bob", { from: "alice", limit: 2 });
				expect(page.messages.map((m) => m.from)).toEqual(["alice", "alice"]);
				expect(page.remaining).toBe(1);
				expect(await store.countPending("r", "bob")).toBe(2);
				const rest = await store.pending("r", "bob", { limit: 10 });
				expect(rest.messages.map((m) => m.from)).toEqual(["carol", "alice"]);
			});

			it("inboxes are per room", async () => {
				await send({ room: "a", from: "alice", to: "bob" });
				await send({ room: "b", from: "alice", to: "bob" });
				await send({ room: "b", from: "alice", to: "bob" });
				expect(await store.countPending("a", "bob")).toBe(1);
				const page = await store.takePending("b", "bob", { limit: 10 });
				expect(page.messages.every((m) => m.room === "b")).toBe(true);
				expect(page.messages).toHaveLength(2);
				expect(await store.countPending("a", "bob")).toBe(1);
			});

			it("ack counts only changes and ignores unknown, repeated, foreign and other-room ids", async () => {
				const toBob = (await send({ room: "r", from: "alice", to: "bob" })).message;
				const toBob2 = (await send({ room: "r", from: "alice", to: "bob" })).message;
				const toCarol = (await send({ room: "r", from: "alice", to: "carol" })).message;
				const elsewhere = (await send({ room: "other", from: "alice", to: "bob" })).message;

				expect(await store.ack("r", "bob", [toBob.id, "m-999-zzzzzz", toCarol.id, elsewhere.id, toBob.id])).toBe(1);
				expect(await store.ack("r", "bob", [toBob.id])).toBe(0);
				expect(await store.countPending("r", "bob")).toBe(1);
				expect(await store.countPending("r", "carol")).toBe(1);
				expect(await store.countPending("other", "bob")).toBe(1);
				expect(await store.ack("r", "bob", [toBob2.id])).toBe(1);
				expect(await store.ack("r", "bob", [])).toBe(0);
			});

			it("one recipient's ack leaves the others' deliveries of a broadcast", async () => {
				const m = (await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "carol"] })).message;
				expect(await store.ack("r", "bob", [m.id])).toBe(1);
				expect(await store.countPending("r", "bob")).toBe(0);
				expect(seqs(await store.pending("r", "carol", { limit: 5 }))).toEqual([m.seq]);
				expect((await store.stats()).pendingDeliveries).toBe(1);
			});

			it("countPending is zero for unknown recipients", async () => {
				expect(await store.countPending("r", "nobody-here")).toBe(0);
			});
		});

		describe("forged and malformed ids", () => {
			it("an id with the right seq but another tail neither reads nor acks anything", async () => {
				const m = (await send({ room: "r", from: "alice", to: "bob" })).message;
				const forged = m.id.replace(/-[a-z0-9]{6}$/, (t) => (t === "-aaaaaa" ? "-bbbbbb" : "-aaaaaa"));
				for (const id of [forged, `m-${m.seq}`, "m--1-abcdef", "../etc/passwd", "", `${m.id}x`]) {
					expect(await store.getMessage("r", id, "bob"), id).toBeNull();
					expect(await store.ack("r", "bob", [id]), id).toBe(0);
				}
				expect(await store.countPending("r", "bob")).toBe(1);
				expect(await store.ack("r", "bob", [m.id])).toBe(1);
			});
		});

		describe("getMessage", () => {
			it("shows a direct message to its sender and recipient only", async () => {
				const m = (await send({ room: "r", from: "alice", to: "bob" })).message;
				expect(await store.getMessage("r", m.id, "alice")).toEqual(m);
				expect(await store.getMessage("r", m.id, "bob")).toEqual(m);
				expect(await store.getMessage("r", m.id, "carol")).toBeNull();
			});

			it("shows a broadcast to anyone in its room, recipient or not", async () => {
				const m = (await send({ room: "r", from: "alice", to: "*", recipients: ["bob"] })).message;
				expect(await store.getMessage("r", m.id, "latecomer")).toEqual(m);
			});

			it("is null in the wrong room and for unknown ids", async () => {
				const m = (await send({ room: "r", from: "alice", to: "*", recipients: ["bob"] })).message;
				expect(await store.getMessage("other", m.id, "bob")).toBeNull();
				expect(await store.getMessage("r", "m-12345-abcdef", "bob")).toBeNull();
			});
		});

		describe("history", () => {
			it("without `with`: broadcasts and the viewer's own conversations, not others' DMs or other rooms", async () => {
				const b1 = await send({ room: "r", from: "bob", to: "*" });
				const out = await send({ room: "r", from: "alice", to: "bob" });
				const inn = await send({ room: "r", from: "carol", to: "alice" });
				await send({ room: "r", from: "bob", to: "carol" });
				await send({ room: "other", from: "bob", to: "alice" });
				await send({ room: "other", from: "bob", to: "*" });
				const b2 = await send({ room: "r", from: "alice", to: "*" });

				const page = await store.history("r", { viewer: "alice", limit: 50 });
				expect(page.messages).toEqual([b1, out, inn, b2].map((r) => r.message));
				expect(page.hasMore).toBe(false);
			});

			it("with `with`: only direct messages between the two, both directions", async () => {
				await send({ room: "r", from: "bob", to: "*" });
				const a = await send({ room: "r", from: "alice", to: "bob" });
				await send({ room: "r", from: "alice", to: "carol" });
				const b = await send({ room: "r", from: "bob", to: "alice" });
				await send({ room: "r", from: "bob", to: "carol" });
				await send({ room: "other", from: "bob", to: "alice" });

				const page = await store.history("r", { viewer: "alice", with: "bob", limit: 50 });
				expect(page.messages).toEqual([a.message, b.message]);
			});

			it("pages a conversation in both directions, interleaved in seq order", async () => {
				const sent: number[] = [];
				for (let i = 0; i < 6; i++) {
					const [from, to] = i % 3 === 0 ? ["bob", "alice"] : ["alice", "bob"];
					sent.push((await send({ room: "r", from, to })).message.seq);
					await send({ room: "r", from: "alice", to: "carol" }); // noise between them
				}
				const newest = await store.history("r", { viewer: "alice", with: "bob", limit: 4 });
				expect(seqs(newest)).toEqual(sent.slice(2));
				expect(newest.hasMore).toBe(true);
				const older = await store.history("r", { viewer: "alice", with: "bob", limit: 4, before: sent[2] });
				expect(seqs(older)).toEqual(sent.slice(0, 2));
				expect(older.hasMore).toBe(false);
				const forward = await store.history("r", { viewer: "bob", with: "alice", limit: 3, after: sent[0] });
				expect(seqs(forward)).toEqual(sent.slice(1, 4));
				expect(forward.hasMore).toBe(true);
			});

			it("no cursor: the newest `limit`, oldest first, hasMore when older ones exist", async () => {
				const sent = await sendMany(10, { room: "r", from: "alice", to: "*" });
				const page = await store.history("r", { viewer: "bob", limit: 3 });
				expect(seqs(page)).toEqual(sent.slice(7));
				expect(page.hasMore).toBe(true);
			});

			it("before pages backwards to the start", async () => {
				const sent = await sendMany(7, { room: "r", from: "alice", to: "*" });
				const p1 = await store.history("r", { viewer: "bob", limit: 3, before: sent[5] });
				expect(seqs(p1)).toEqual(sent.slice(2, 5));
				expect(p1.hasMore).toBe(true);
				const p2 = await store.history("r", { viewer: "bob", limit: 3, before: sent[2] });
				expect(seqs(p2)).toEqual(sent.slice(0, 2));
				expect(p2.hasMore).toBe(false);
			});

			it("after pages forwards, oldest first", async () => {
				const sent = await sendMany(7, { room: "r", from: "alice", to: "*" });
				const p1 = await store.history("r", { viewer: "bob", limit: 3, after: sent[0] });
				expect(seqs(p1)).toEqual(sent.slice(1, 4));
				expect(p1.hasMore).toBe(true);
				const p2 = await store.history("r", { viewer: "bob", limit: 3, after: sent[3] });
				expect(seqs(p2)).toEqual(sent.slice(4, 7));
				expect(p2.hasMore).toBe(false);
				const p3 = await store.history("r", { viewer: "bob", limit: 3, after: sent[6] });
				expect(p3).toEqual({ messages: [], hasMore: false });
			});

			it("hasMore is false when exactly `limit` match", async () => {
				await sendMany(3, { room: "r", from: "alice", to: "*" });
				const page = await store.history("r", { viewer: "bob", limit: 3 });
				expect(page.messages).toHaveLength(3);
				expect(page.hasMore).toBe(false);
			});

			it("an empty room has no history", async () => {
				expect(await store.history("nowhere", { viewer: "bob", limit: 10 })).toEqual({
					messages: [],
					hasMore: false,
				});
			});
		});

		describe("oldestSeq", () => {
			it("is the oldest retained seq of the room, or null", async () => {
				expect(await store.oldestSeq("r")).toBeNull();
				await send({ room: "other", from: "alice", to: "bob" });
				const sent = await sendMany(3, { room: "r", from: "alice", to: "bob" });
				expect(await store.oldestSeq("r")).toBe(sent[0]);
				await store.applyRetention({ maxPerRoom: 2 });
				expect(await store.oldestSeq("r")).toBe(sent[1]);
			});
		});

		describe("prunedThrough", () => {
			it("is 0 until retention deletes, then the highest seq it deleted in that room", async () => {
				const sent = await sendMany(4, { room: "r", from: "alice", to: "bob" });
				const other = await send({ room: "q", from: "alice", to: "bob" });
				expect(await store.prunedThrough("r")).toBe(0);
				await store.applyRetention({ maxPerRoom: 1 });
				expect(await store.prunedThrough("r")).toBe(sent[2]);
				expect(await store.prunedThrough("q")).toBe(0);
				expect(other.message.room).toBe("q");
				// It never goes down, even when later retention deletes nothing.
				await store.applyRetention({ maxPerRoom: 10 });
				expect(await store.prunedThrough("r")).toBe(sent[2]);
			});

			it("follows age-based deletion too", async () => {
				const old = await send({ room: "r", from: "alice", to: "bob", sentAt: 10 });
				await send({ room: "r", from: "alice", to: "bob", sentAt: 1000 });
				await store.applyRetention({ olderThan: 500 });
				expect(await store.prunedThrough("r")).toBe(old.message.seq);
			});
		});

		describe("retention", () => {
			it("deletes messages sent before olderThan and counts unacked deliveries as lost", async () => {
				const old1 = await send({ room: "r", from: "alice", to: "bob", sentAt: 100 });
				await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "carol"], sentAt: 150 });
				const edge = await send({ room: "r", from: "alice", to: "bob", sentAt: 200 });
				const fresh = await send({ room: "r", from: "alice", to: "bob", sentAt: 300 });
				await store.ack("r", "bob", [old1.message.id]);

				const result = await store.applyRetention({ olderThan: 200 });
				expect(result).toEqual({ deletedMessages: 2, lostDeliveries: 2 });
				expect(await store.getMessage("r", old1.message.id, "alice")).toBeNull();
				expect(seqs(await store.pending("r", "bob", { limit: 10 }))).toEqual([edge.message.seq, fresh.message.seq]);
				expect(await store.countPending("r", "carol")).toBe(0);
				expect(await store.takeLost("r", "bob")).toBe(1);
				expect(await store.takeLost("r", "carol")).toBe(1);
				expect(await store.takeLost("r", "bob")).toBe(0);
				expect(await store.stats()).toEqual({ messages: 2, sessions: 0, pendingDeliveries: 2 });
			});

			it("keeps the newest maxPerRoom of each room", async () => {
				const a = await sendMany(5, { room: "a", from: "alice", to: "bob" });
				const b = await sendMany(2, { room: "b", from: "alice", to: "bob" });
				const result = await store.applyRetention({ maxPerRoom: 3 });
				expect(result).toEqual({ deletedMessages: 2, lostDeliveries: 2 });
				expect(seqs(await store.history("a", { viewer: "bob", limit: 10 }))).toEqual(a.slice(2));
				expect(seqs(await store.history("b", { viewer: "bob", limit: 10 }))).toEqual(b);
				expect(await store.takeLost("a", "bob")).toBe(2);
				expect(await store.takeLost("b", "bob")).toBe(0);
			});

			it("applies age first, then the cap over what is left", async () => {
				const sent = [
					await send({ room: "r", from: "alice", to: "*", sentAt: 100 }),
					await send({ room: "r", from: "alice", to: "*", sentAt: 500 }),
					await send({ room: "r", from: "alice", to: "*", sentAt: 600 }),
					await send({ room: "r", from: "alice", to: "*", sentAt: 50 }), // newest seq, but old
					await send({ room: "r", from: "alice", to: "*", sentAt: 700 }),
				].map((r) => r.message.seq);
				const result = await store.applyRetention({ olderThan: 200, maxPerRoom: 2 });
				expect(result.deletedMessages).toBe(3);
				expect(seqs(await store.history("r", { viewer: "bob", limit: 10 }))).toEqual([sent[2], sent[4]]);
			});

			it("counts lost per room and session, also for recipients without a session record", async () => {
				await store.createSession(session("a", "bob"));
				await send({ room: "a", from: "alice", to: "bob", sentAt: 1 });
				await send({ room: "a", from: "alice", to: "ghost", sentAt: 1 });
				await send({ room: "b", from: "alice", to: "bob", sentAt: 1 });
				await send({ room: "b", from: "alice", to: "bob", sentAt: 1 });
				expect(await store.applyRetention({ olderThan: 2 })).toEqual({ deletedMessages: 4, lostDeliveries: 4 });
				expect(await store.takeLost("a", "bob")).toBe(1);
				expect(await store.takeLost("a", "ghost")).toBe(1);
				expect(await store.takeLost("b", "bob")).toBe(2);
			});

			it("lost counters accumulate across runs until taken", async () => {
				await send({ room: "r", from: "alice", to: "bob", sentAt: 1 });
				await store.applyRetention({ olderThan: 2 });
				await send({ room: "r", from: "alice", to: "bob", sentAt: 1 });
				await store.applyRetention({ olderThan: 2 });
				expect(await store.takeLost("r", "bob")).toBe(2);
				expect(await store.takeLost("r", "bob")).toBe(0);
			});

			it("forgets the idempotency keys of deleted messages", async () => {
				const first = await send({ room: "r", from: "alice", to: "bob", key: "k", sentAt: 1 });
				await store.applyRetention({ olderThan: 2 });
				const again = await send({ room: "r", from: "alice", to: "bob", key: "k", sentAt: 3 });
				expect(again.duplicate).toBe(false);
				expect(again.message.id).not.toBe(first.message.id);
			});

			it("staleSessions: each kind before its own cutoff, oldest first, bounded, and touch or forget takes one out", async () => {
				await store.createSession(session("r", "old", { lastSeen: 10 }));
				await store.createSession(session("r", "older", { lastSeen: 5 }));
				await store.createSession(session("other", "old", { lastSeen: 20 }));
				await store.createSession(session("r", "recent", { lastSeen: 500 }));
				await store.createSession(session("r", "eph-1", { lastSeen: 300, ephemeral: true }));
				await store.createSession(session("r", "eph-2", { lastSeen: 900, ephemeral: true }));
				const ids = (rows: { room: string; session: string }[]) => rows.map((r) => `${r.room}/${r.session}`);

				expect(await store.staleSessions({ namedBefore: 100, limit: 10 })).toEqual([
					{ room: "r", session: "older", ephemeral: false, lastSeen: 5 },
					{ room: "r", session: "old", ephemeral: false, lastSeen: 10 },
					{ room: "other", session: "old", ephemeral: false, lastSeen: 20 },
				]);
				expect(ids(await store.staleSessions({ ephemeralBefore: 400, limit: 10 }))).toEqual(["r/eph-1"]);
				expect(ids(await store.staleSessions({ namedBefore: 100, ephemeralBefore: 400, limit: 10 }))).toEqual([
					"r/older",
					"r/old",
					"other/old",
					"r/eph-1",
				]);
				expect(ids(await store.staleSessions({ namedBefore: 100, ephemeralBefore: 400, limit: 2 }))).toEqual(["r/older", "r/old"]);
				expect(await store.staleSessions({ limit: 10 })).toEqual([]);
				expect(await store.staleSessions({ namedBefore: 1_000_000, ephemeralBefore: 1_000_000, limit: 0 })).toEqual([]);

				await store.touchSession("r", "older", {}, 600);
				await store.forgetSession("other", "old");
				await store.touchSession("r", "eph-1", {}, 950);
				expect(ids(await store.staleSessions({ namedBefore: 100, ephemeralBefore: 400, limit: 10 }))).toEqual(["r/old"]);
				expect(ids(await store.staleSessions({ namedBefore: 1_000, ephemeralBefore: 1_000, limit: 10 }))).toEqual([
					"r/old",
					"r/recent",
					"r/older",
					"r/eph-2",
					"r/eph-1",
				]);
			});

			it("an empty policy deletes nothing", async () => {
				await sendMany(3, { room: "r", from: "alice", to: "bob" });
				expect(await store.applyRetention({})).toEqual({ deletedMessages: 0, lostDeliveries: 0 });
				expect((await store.stats()).messages).toBe(3);
			});
		});

		describe("state", () => {
			const st = () => store.state;
			const set = (key: string, value: unknown, over: { expectedVersion?: number; by?: string; at?: number; room?: string; limits?: StateLimits } = {}) =>
				st().set({
					room: over.room ?? "r",
					key,
					valueJson: JSON.stringify(value),
					items: Array.isArray(value) ? value.length : -1,
					...(over.expectedVersion !== undefined ? { expectedVersion: over.expectedVersion } : {}),
					updatedBy: over.by ?? "alice",
					updatedAt: over.at ?? 1_000,
					limits: over.limits ?? LIMITS,
				});
			const append = (key: string, item: unknown, over: { maxItems?: number; by?: string; limits?: StateLimits; room?: string } = {}) =>
				st().append({
					room: over.room ?? "r",
					key,
					itemJson: JSON.stringify(item),
					...(over.maxItems !== undefined ? { maxItems: over.maxItems } : {}),
					updatedBy: over.by ?? "alice",
					updatedAt: 2_000,
					limits: over.limits ?? LIMITS,
				});
			const del = (key: string, expectedVersion?: number) =>
				st().delete({ room: "r", key, ...(expectedVersion !== undefined ? { expectedVersion } : {}), updatedBy: "bob", updatedAt: 3_000 });
			const value = async (key: string, room = "r") => {
				const r = await st().get(room, key);
				return r ? JSON.parse(r.valueJson) : undefined;
			};

			it("get of a missing key is null; set creates version 1 with writer, time and size", async () => {
				expect(await st().get("r", "tasks")).toBeNull();
				const out = await set("tasks", { todo: ["a"], n: 1, ok: true, none: null, word: "é✓" }, { by: "alice", at: 1_234 });
				const json = JSON.stringify({ todo: ["a"], n: 1, ok: true, none: null, word: "é✓" });
				const record: StateRecord = { room: "r", key: "tasks", valueJson: json, version: 1, updatedBy: "alice", updatedAt: 1_234, size: Buffer.byteLength(json) };
				expect(out).toEqual({ status: "ok", record, created: true });
				expect(await st().get("r", "tasks")).toEqual(record);
				expect(record.size).toBe(json.length + 3); // é is 2 bytes, ✓ is 3: bytes, not characters
			});

			it("an unconditional set replaces the value and bumps the version", async () => {
				await set("k", 1);
				const out = await set("k", "two", { by: "bob", at: 5 });
				expect(out).toMatchObject({ status: "ok", created: false, record: { version: 2, updatedBy: "bob", updatedAt: 5 } });
				expect(await value("k")).toBe("two");
				expect((await set("k", null)).status).toBe("ok");
				expect(await value("k")).toBeNull();
				expect((await st().get("r", "k"))?.version).toBe(3);
			});

			it("compare-and-set: expectedVersion 0 creates only a missing key", async () => {
				expect(await set("k", "first", { expectedVersion: 0 })).toMatchObject({ status: "ok", created: true, record: { version: 1 } });
				const lost = await set("k", "second", { expectedVersion: 0, by: "bob" });
				expect(lost).toMatchObject({ status: "conflict", current: { version: 1, updatedBy: "alice", valueJson: '"first"' } });
				expect(await value("k")).toBe("first");
			});

			it("compare-and-set: a matching version wins, a stale one changes nothing and returns the current key", async () => {
				await set("k", 0);
				expect(await set("k", 1, { expectedVersion: 1 })).toMatchObject({ status: "ok", record: { version: 2 } });
				const stale = await set("k", 99, { expectedVersion: 1, by: "bob" });
				expect(stale).toEqual({ status: "conflict", current: await st().get("r", "k") });
				expect(await value("k")).toBe(1);
				expect((await st().get("r", "k"))?.version).toBe(2);
				// a version for a key that does not exist
				expect(await set("missing", 1, { expectedVersion: 3 })).toEqual({ status: "conflict", current: null });
				expect(await st().get("r", "missing")).toBeNull();
			});

			it("compare-and-set: of many writers with the same expected version exactly one wins", async () => {
				await set("k", 0);
				const outs = await Promise.all(Array.from({ length: 20 }, (_, i) => set("k", i, { expectedVersion: 1, by: `w${i}` })));
				expect(outs.filter((o) => o.status === "ok")).toHaveLength(1);
				expect(outs.filter((o) => o.status === "conflict")).toHaveLength(19);
				expect((await st().get("r", "k"))?.version).toBe(2);
			});

			it("keys are per room", async () => {
				await set("k", "in r");
				await set("k", "in other", { room: "other" });
				expect(await value("k")).toBe("in r");
				expect(await value("k", "other")).toBe("in other");
				expect((await st().get("other", "k"))?.version).toBe(1);
			});

			it("values keep exactly their JSON: numbers, unicode, escapes, nesting", async () => {
				const v = { big: 2 ** 60 + 1, small: 0.1 + 0.2, neg: -1e-7, exp: 1e21, s: 'q"\\/\n\u0000é🦀', nested: [[[{}]], { a: [] }] };
				await set("k", v);
				expect((await st().get("r", "k"))?.valueJson).toBe(JSON.stringify(v));
			});

			it("append creates [item], then appends; length and versions follow", async () => {
				expect(await append("log", "a")).toMatchObject({ status: "ok", created: true, length: 1, dropped: 0, record: { version: 1, updatedBy: "alice" } });
				expect(await append("log", { b: 2 }, { by: "bob" })).toMatchObject({ status: "ok", created: false, length: 2, record: { version: 2, updatedBy: "bob" } });
				expect(await value("log")).toEqual(["a", { b: 2 }]);
				const r = await st().get("r", "log");
				expect(r?.size).toBe(Buffer.byteLength(JSON.stringify(["a", { b: 2 }])));
			});

			it("append to an array written by set, including an empty one", async () => {
				await set("e", []);
				expect(await append("e", 1)).toMatchObject({ status: "ok", length: 1 });
				await set("a", [1, [2, 3], "x"]);
				expect(await append("a", 4)).toMatchObject({ status: "ok", length: 4, record: { version: 2 } });
				expect(await value("a")).toEqual([1, [2, 3], "x", 4]);
			});

			it("append with maxItems keeps the newest items, whatever they contain", async () => {
				const tricky = ["a,b]", 'q"}]', "\\", ["x", ["y,]"]], { "k]": "{[", n: [1, 2] }, 1e21, -0.5, null, true, "🦀,", 7];
				const want: unknown[] = [];
				let last: Awaited<ReturnType<typeof append>> | undefined;
				for (const item of tricky) {
					last = await append("log", item, { maxItems: 3 });
					want.push(item);
					expect(await value("log")).toEqual(want.slice(-3));
					expect((await st().get("r", "log"))?.valueJson).toBe(JSON.stringify(want.slice(-3)));
				}
				expect(last).toMatchObject({ status: "ok", length: 3, dropped: 1 });
				// Cutting a longer array by more than one at once.
				await set("many", [1, 2, 3, 4, 5, "six", [7]]);
				expect(await append("many", 8, { maxItems: 2 })).toMatchObject({ status: "ok", length: 2, dropped: 6 });
				expect(await value("many")).toEqual([[7], 8]);
			});

			it("append to a value that is not an array changes nothing", async () => {
				await set("obj", { a: 1 });
				expect(await append("obj", 2)).toEqual({ status: "not_array" });
				await set("str", "[1]");
				expect(await append("str", 2)).toEqual({ status: "not_array" });
				expect(await value("obj")).toEqual({ a: 1 });
				expect((await st().get("r", "obj"))?.version).toBe(1);
			});

			it("concurrent appends: every item exactly once", async () => {
				const outs = await Promise.all(Array.from({ length: 50 }, (_, i) => append("log", i)));
				expect(outs.every((o) => o.status === "ok")).toBe(true);
				const got = (await value("log")) as number[];
				expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
				expect((await st().get("r", "log"))?.version).toBe(50);
			});

			it("delete: absent, present, compare-and-set, and a key created again starts at version 1", async () => {
				expect(await del("k")).toEqual({ status: "ok", deleted: null });
				await set("k", "v");
				await set("k", "w");
				expect(await del("k", 1)).toMatchObject({ status: "conflict", current: { version: 2 } });
				expect(await value("k")).toBe("w");
				expect(await del("k", 2)).toMatchObject({ status: "ok", deleted: { version: 2, valueJson: '"w"' } });
				expect(await st().get("r", "k")).toBeNull();
				expect(await del("k", 2)).toEqual({ status: "conflict", current: null });
				expect(await set("k", "again")).toMatchObject({ status: "ok", created: true, record: { version: 1 } });
			});

			it("list: by prefix, in key order, with info but no values, paged", async () => {
				for (const k of ["tasks/2", "tasks/10", "tasks/1", "notes", "tasks", "tasksx", "tasks/1/a"]) await set(k, k);
				await set("tasks/9", "x", { room: "other" });
				const all = await st().list("r", { limit: 100 });
				expect(all.records.map((r) => r.key)).toEqual(["notes", "tasks", "tasks/1", "tasks/1/a", "tasks/10", "tasks/2", "tasksx"]);
				expect(all.hasMore).toBe(false);
				expect(all.records[0]).toEqual({ room: "r", key: "notes", version: 1, updatedBy: "alice", updatedAt: 1_000, size: 7 });
				const tasks = await st().list("r", { prefix: "tasks/", limit: 100 });
				expect(tasks.records.map((r) => r.key)).toEqual(["tasks/1", "tasks/1/a", "tasks/10", "tasks/2"]);
				const page1 = await st().list("r", { prefix: "tasks/", limit: 2 });
				expect(page1).toMatchObject({ hasMore: true });
				expect(page1.records.map((r) => r.key)).toEqual(["tasks/1", "tasks/1/a"]);
				const page2 = await st().list("r", { prefix: "tasks/", limit: 2, after: "tasks/1/a" });
				expect(page2.records.map((r) => r.key)).toEqual(["tasks/10", "tasks/2"]);
				expect(page2.hasMore).toBe(false);
				expect((await st().list("r", { prefix: "nothing", limit: 10 })).records).toEqual([]);
				expect((await st().list("empty-room", { limit: 10 })).records).toEqual([]);
				await del("notes");
				expect((await st().list("r", { limit: 1 })).records.map((r) => r.key)).toEqual(["tasks"]);
			});

			it("a value over maxValueBytes is refused, set or append, and changes nothing", async () => {
				const limits = { ...LIMITS, maxValueBytes: 20 };
				expect(await set("k", "x".repeat(18), { limits })).toMatchObject({ status: "ok" }); // "xxx…" is 20 bytes
				expect(await set("k", "x".repeat(19), { limits })).toEqual({ status: "too_large", bytes: 21 });
				expect(await set("j", "é".repeat(10), { limits })).toEqual({ status: "too_large", bytes: 22 });
				await set("log", ["aaaaaaaaaaaa"], { limits });
				expect(await append("log", "bbbbbb", { limits })).toMatchObject({ status: "too_large" });
				// Cutting to maxItems counts: the kept array is what must fit.
				expect(await append("log", "bbbbbb", { limits, maxItems: 1 })).toMatchObject({ status: "ok", length: 1 });
				expect(await value("k")).toBe("x".repeat(18));
				expect((await st().get("r", "k"))?.version).toBe(1);
			});

			it("a room holds at most maxKeys keys; updating and deleting still work at the bound", async () => {
				const limits = { ...LIMITS, maxKeys: 2 };
				await set("a", 1, { limits });
				await set("b", 1, { limits });
				expect(await set("c", 1, { limits })).toMatchObject({ status: "limit" });
				expect(await append("c", 1, { limits })).toMatchObject({ status: "limit" });
				expect(await set("a", 2, { limits })).toMatchObject({ status: "ok" });
				expect(await set("c", 1, { limits, room: "other" })).toMatchObject({ status: "ok" });
				await del("a");
				expect(await set("c", 1, { limits })).toMatchObject({ status: "ok" });
				expect(await st().get("r", "c")).not.toBeNull();
			});

			it("a room holds at most maxRoomBytes; shrinking is always allowed", async () => {
				const limits = { ...LIMITS, maxRoomBytes: 30 };
				await set("a", "x".repeat(13), { limits }); // 15 bytes
				await set("b", "y".repeat(13), { limits }); // 30 in all
				expect(await set("c", 1, { limits })).toMatchObject({ status: "limit" });
				expect(await set("a", "x".repeat(14), { limits })).toMatchObject({ status: "limit" });
				expect(await append("b", 1, { limits })).toMatchObject({ status: "not_array" });
				expect(await set("a", "x", { limits })).toMatchObject({ status: "ok" }); // 3 + 15
				expect(await set("c", "z".repeat(10), { limits })).toMatchObject({ status: "ok" }); // 12 more: 30
				expect(await set("d", 1, { limits })).toMatchObject({ status: "limit" });
				await del("b");
				expect(await set("d", 1, { limits })).toMatchObject({ status: "ok" });
			});
		});

		describe("state: watch (a hub on this store)", () => {
			it("every committed change reaches a watcher once, in version order; refused writes push nothing", async () => {
				const hub = new Hub({ port: 0 }, { store });
				const { url } = await hub.listen();
				const a = await connectClient(url, "A");
				const b = await connectClient(url, "B");
				try {
					const got: StateChangedPush[] = [];
					b.on("state_changed", (e) => got.push(e));
					await b.request("watch", { prefix: "w/" });
					await Promise.all(Array.from({ length: 20 }, (_, i) => a.request("state_append", { key: "w/log", item: i })));
					await a.request("state_set", { key: "w/x", value: 1, expectedVersion: 5 }).catch(() => undefined);
					await a.request("state_append", { key: "w/x", item: 1 });
					await a.request("state_delete", { key: "w/x" });
					await a.request("state_set", { key: "other", value: 1 });
					const deadline = Date.now() + 5_000;
					while (got.length < 22 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
					expect(got.filter((e) => e.key === "w/log").map((e) => e.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
					expect(got.filter((e) => e.key === "w/x").map((e) => [e.version, e.deleted])).toEqual([
						[1, false],
						[1, true],
					]);
					expect(got).toHaveLength(22);
				} finally {
					await a.close({ bye: false });
					await b.close({ bye: false });
					await hub.close();
				}
			});
		});

		describe("claims", () => {
			const NOW = 1_000_000;
			const claim = (session: string, paths: string[], over: Partial<ClaimInput> = {}) =>
				store.claims.claim({
					room: "r",
					repo: "github.com/a/b",
					session,
					paths,
					reason: null,
					now: NOW,
					expiresAt: NOW + 60_000,
					limits: CLAIM_LIMITS,
					...over,
				});
			const list = (query: { repo?: string; session?: string; now?: number } = {}, room = "r") =>
				store.claims.list(room, { now: NOW, ...query });

			it("grants a claim and lists it", async () => {
				const out = await claim("A", ["src/auth/**"], { reason: "refactoring auth" });
				const record = { room: "r", repo: "github.com/a/b", session: "A", path: "src/auth/**", reason: "refactoring auth", claimedAt: NOW, expiresAt: NOW + 60_000 };
				expect(out).toEqual({ status: "granted", claims: [record] });
				expect(await list()).toEqual([record]);
				expect(await list({ repo: "github.com/a/b" })).toEqual([record]);
				expect(await list({ session: "A" })).toEqual([record]);
				expect(await list({ session: "B" })).toEqual([]);
			});

			it("an overlapping claim of another session is refused with the holder's claim, and nothing is granted", async () => {
				await claim("A", ["src/auth/**"], { reason: "auth" });
				const out = await claim("B", ["docs/x.md", "src/**/*.ts"]);
				expect(out).toEqual({
					status: "conflict",
					conflicts: [{ room: "r", repo: "github.com/a/b", session: "A", path: "src/auth/**", reason: "auth", claimedAt: NOW, expiresAt: NOW + 60_000 }],
				});
				expect(await list({ session: "B" })).toEqual([]); // not even docs/x.md
				expect(await claim("B", ["src/auth/token.ts"])).toMatchObject({ status: "conflict" });
				expect(await claim("B", ["src/ui/**", "docs/x.md"])).toMatchObject({ status: "granted" });
				expect((await list()).map((c) => `${c.session}:${c.path}`)).toEqual(["A:src/auth/**", "B:docs/x.md", "B:src/ui/**"]);
			});

			it("all conflicting holders are named, in order", async () => {
				await claim("A", ["src/a/**"]);
				await claim("C", ["src/c/**"]);
				await claim("B", ["lib/**"]);
				const out = await claim("D", ["src/**", "lib/x"]);
				expect(out.status === "conflict" && out.conflicts.map((c) => `${c.session}:${c.path}`)).toEqual(["A:src/a/**", "B:lib/**", "C:src/c/**"]);
			});

			it("the holder claiming again renews: new expiry, claimedAt kept, reason kept unless given, no duplicates", async () => {
				await claim("A", ["src/auth/**"], { reason: "first" });
				const renewed = await claim("A", ["src/auth/**", "src/auth/token.ts"], { now: NOW + 10_000, expiresAt: NOW + 500_000 });
				expect(renewed).toMatchObject({ status: "granted" });
				const now = NOW + 10_000;
				expect(await list({ now })).toEqual([
					{ room: "r", repo: "github.com/a/b", session: "A", path: "src/auth/**", reason: "first", claimedAt: NOW, expiresAt: NOW + 500_000 },
					{ room: "r", repo: "github.com/a/b", session: "A", path: "src/auth/token.ts", reason: null, claimedAt: now, expiresAt: NOW + 500_000 },
				]);
				await claim("A", ["src/auth/**"], { reason: "second", now, expiresAt: NOW + 600_000 });
				expect((await list({ now })).find((c) => c.path === "src/auth/**")).toMatchObject({ reason: "second", claimedAt: NOW, expiresAt: NOW + 600_000 });
			});

			it("release some, then all; only this session's claims; returns what was live", async () => {
				await claim("A", ["src/a/**", "src/b/**", "src/c/**"]);
				await claim("A", ["x/**"], { repo: "github.com/other/repo" });
				await claim("B", ["lib/**"]);
				const some = await store.claims.release({ room: "r", session: "A", paths: ["src/b/**", "not-held"], now: NOW });
				expect(some.map((c) => c.path)).toEqual(["src/b/**"]);
				expect(await store.claims.release({ room: "r", session: "A", paths: [], now: NOW })).toEqual([]);
				const inRepo = await store.claims.release({ room: "r", session: "A", repo: "github.com/other/repo", now: NOW });
				expect(inRepo.map((c) => `${c.repo}:${c.path}`)).toEqual(["github.com/other/repo:x/**"]);
				const rest = await store.claims.release({ room: "r", session: "A", now: NOW });
				expect(rest.map((c) => c.path)).toEqual(["src/a/**", "src/c/**"]);
				expect((await list()).map((c) => `${c.session}:${c.path}`)).toEqual(["B:lib/**"]);
				// After release, B may claim what A held.
				expect(await claim("B", ["src/**"])).toMatchObject({ status: "granted" });
			});

			it("claims expire: not listed, not in the way, not released, and swept", async () => {
				await claim("A", ["src/auth/**"], { expiresAt: NOW + 5_000 });
				await claim("A", ["docs/**"], { expiresAt: NOW + 50_000 });
				const later = NOW + 5_000; // expiresAt is exclusive: at that instant the claim is gone
				expect((await list({ now: later })).map((c) => c.path)).toEqual(["docs/**"]);
				expect(await claim("B", ["src/auth/token.ts"], { now: later, expiresAt: later + 1_000 })).toMatchObject({ status: "granted" });
				expect(await store.claims.release({ room: "r", session: "A", paths: ["src/auth/**"], now: later })).toEqual([]);
				await claim("A", ["tmp/**"], { expiresAt: NOW + 1 });
				expect(await store.claims.sweep(NOW + 100_000)).toBe(3); // docs, tmp, and B's
				expect(await list({ now: NOW })).toEqual([]);
				expect(await store.claims.sweep(NOW + 100_000)).toBe(0);
			});

			it("a session may reclaim its own expired path: a new claim, claimedAt from now", async () => {
				await claim("A", ["src/**"], { expiresAt: NOW + 10 });
				const out = await claim("A", ["src/**"], { now: NOW + 20, expiresAt: NOW + 1_000 });
				expect(out).toMatchObject({ status: "granted", claims: [{ claimedAt: NOW + 20, expiresAt: NOW + 1_000 }] });
			});

			it("repositories and rooms are scopes: the same path elsewhere never conflicts", async () => {
				await claim("A", ["src/**"]);
				expect(await claim("B", ["src/**"], { repo: "github.com/a/other" })).toMatchObject({ status: "granted" });
				expect(await claim("B", ["src/**"], { room: "elsewhere" })).toMatchObject({ status: "granted" });
				expect((await list({ repo: "github.com/a/b" })).map((c) => c.session)).toEqual(["A"]);
				expect((await list({}, "elsewhere")).map((c) => c.session)).toEqual(["B"]);
				expect((await list()).map((c) => `${c.repo}:${c.session}`)).toEqual(["github.com/a/b:A", "github.com/a/other:B"]);
			});

			it("a session's own overlapping claims do not conflict", async () => {
				await claim("A", ["src/**"]);
				expect(await claim("A", ["src/auth/**", "src/auth/token.ts"])).toMatchObject({ status: "granted" });
			});

			it("at most maxPerSession live claims per session, across repositories; renewals are not new", async () => {
				const limits = { maxPerSession: 3, maxPerRepo: 100 };
				expect(await claim("A", ["a", "b"], { limits })).toMatchObject({ status: "granted" });
				expect(await claim("A", ["c"], { limits, repo: "r2" })).toMatchObject({ status: "granted" });
				expect(await claim("A", ["d"], { limits })).toMatchObject({ status: "limit" });
				expect(await claim("A", ["a", "b"], { limits })).toMatchObject({ status: "granted" });
				expect(await claim("B", ["d"], { limits })).toMatchObject({ status: "granted" });
				await store.claims.release({ room: "r", session: "A", paths: ["a"], now: NOW });
				expect(await claim("A", ["e"], { limits })).toMatchObject({ status: "granted" });
				expect(await claim("A", ["f"], { limits })).toMatchObject({ status: "limit" });
				// Expired claims do not count.
				expect(await claim("A", ["f", "g", "h"], { limits, now: NOW + 60_000, expiresAt: NOW + 70_000 })).toMatchObject({ status: "granted" });
			});

			it("at most maxPerRepo live claims per repository", async () => {
				const limits = { maxPerSession: 100, maxPerRepo: 3 };
				await claim("A", ["a", "b"], { limits });
				expect(await claim("B", ["c", "d"], { limits })).toMatchObject({ status: "limit" });
				expect(await claim("B", ["c"], { limits })).toMatchObject({ status: "granted" });
				expect(await claim("B", ["d"], { limits, repo: "r2" })).toMatchObject({ status: "granted" });
			});

			it("of concurrent overlapping claims exactly one is granted", async () => {
				const outs = await Promise.all(Array.from({ length: 8 }, (_, i) => claim(`S${i}`, [i % 2 ? "src/**/*.ts" : "src/auth/**"])));
				expect(outs.filter((o) => o.status === "granted")).toHaveLength(1);
				expect(await list()).toHaveLength(1);
			});
		});

		describe("topics: subscriptions", () => {
			it("subscribe and unsubscribe say whether they changed anything; lists are sorted and per room", async () => {
				expect(await store.topics.subscribe("r", "shop:api", "carol", 10, 100)).toEqual({ status: "ok", changed: true });
				expect(await store.topics.subscribe("r", "shop:api", "alice", 11, 100)).toEqual({ status: "ok", changed: true });
				expect(await store.topics.subscribe("r", "shop:api", "alice", 12, 100)).toEqual({ status: "ok", changed: false });
				expect(await store.topics.subscribe("r", "build.ci", "alice", 13, 100)).toEqual({ status: "ok", changed: true });
				expect(await store.topics.subscribe("other", "shop:api", "dave", 14, 100)).toEqual({ status: "ok", changed: true });
				expect(await store.topics.subscribers("r", "shop:api")).toEqual(["alice", "carol"]);
				expect(await store.topics.subscriptions("r", "alice")).toEqual(["build.ci", "shop:api"]);
				expect(await store.topics.subscriptions("other", "alice")).toEqual([]);
				expect(await store.topics.unsubscribe("r", "shop:api", "alice")).toBe(true);
				expect(await store.topics.unsubscribe("r", "shop:api", "alice")).toBe(false);
				expect(await store.topics.unsubscribe("r", "nothing", "alice")).toBe(false);
				expect(await store.topics.subscribers("r", "shop:api")).toEqual(["carol"]);
				expect(await store.topics.subscriptions("r", "alice")).toEqual(["build.ci"]);
				expect(await store.topics.subscribers("other", "shop:api")).toEqual(["dave"]);
			});

			it("refuses a subscription past maxPerSession and changes nothing; renewing one held is fine", async () => {
				for (const t of ["a", "b", "c"]) expect((await store.topics.subscribe("r", t, "alice", 1, 3)).status).toBe("ok");
				expect(await store.topics.subscribe("r", "d", "alice", 1, 3)).toEqual({ status: "limit", limit: 3 });
				expect(await store.topics.subscribe("r", "b", "alice", 1, 3)).toEqual({ status: "ok", changed: false });
				expect(await store.topics.subscriptions("r", "alice")).toEqual(["a", "b", "c"]);
				expect(await store.topics.subscribers("r", "d")).toEqual([]);
				// The bound is per session and room.
				expect((await store.topics.subscribe("r", "d", "bob", 1, 3)).status).toBe("ok");
				expect((await store.topics.subscribe("other", "d", "alice", 1, 3)).status).toBe("ok");
				await store.topics.unsubscribe("r", "a", "alice");
				expect((await store.topics.subscribe("r", "d", "alice", 1, 3)).status).toBe("ok");
			});

			it("forgetSession drops every subscription of that session, and nobody else's", async () => {
				await store.topics.subscribe("r", "a", "alice", 1, 10);
				await store.topics.subscribe("r", "b", "alice", 1, 10);
				await store.topics.subscribe("r", "a", "bob", 1, 10);
				await store.topics.subscribe("other", "a", "alice", 1, 10);
				expect(await store.topics.forgetSession("r", "alice")).toBe(2);
				expect(await store.topics.forgetSession("r", "alice")).toBe(0);
				expect(await store.topics.subscriptions("r", "alice")).toEqual([]);
				expect(await store.topics.subscribers("r", "a")).toEqual(["bob"]);
				expect(await store.topics.subscriptions("other", "alice")).toEqual(["a"]);
				// A forgotten session's topic sends reach it no more.
				await send({ room: "r", from: "bob", to: "#b" });
				expect(await store.countPending("r", "alice")).toBe(0);
			});

			it("list: every topic with subscribers or messages, its subscribers with since, its log's size and newest time", async () => {
				await store.topics.subscribe("r", "shop:api", "bob", 50, 10);
				await store.topics.subscribe("r", "shop:api", "alice", 40, 10);
				await store.topics.subscribe("r", "quiet", "carol", 60, 10);
				await store.topics.subscribe("other", "elsewhere", "carol", 60, 10);
				await send({ room: "r", from: "alice", to: "#shop:api", sentAt: 100 });
				await send({ room: "r", from: "bob", to: "#shop:api", sentAt: 200 });
				await send({ room: "r", from: "bob", to: "#nobody.here", sentAt: 300 });
				await send({ room: "r", from: "bob", to: "*", sentAt: 400 });
				expect(await store.topics.list("r")).toEqual([
					{ topic: "nobody.here", subscribers: [], messages: 1, lastMessageAt: 300 },
					{ topic: "quiet", subscribers: [{ session: "carol", since: 60 }], messages: 0, lastMessageAt: null },
					{
						topic: "shop:api",
						subscribers: [
							{ session: "alice", since: 40 },
							{ session: "bob", since: 50 },
						],
						messages: 2,
						lastMessageAt: 200,
					},
				]);
				await store.topics.unsubscribe("r", "quiet", "carol");
				await store.applyRetention({ olderThan: 250 });
				expect((await store.topics.list("r")).map((t) => [t.topic, t.messages])).toEqual([
					["nobody.here", 1],
					["shop:api", 0],
				]);
				expect(await store.topics.list("empty")).toEqual([]);
			});
		});

		describe("topic deliveries", () => {
			it("a topic send is delivered to every subscriber at commit time but the sender, and to nobody else", async () => {
				await store.topics.subscribe("r", "shop:api", "alice", 1, 10);
				await store.topics.subscribe("r", "shop:api", "bob", 1, 10);
				await store.topics.subscribe("r", "shop:api", "carol", 1, 10);
				await store.topics.subscribe("r", "other", "dave", 1, 10);
				await store.topics.subscribe("q", "shop:api", "erin", 1, 10);
				const r = await send({ room: "r", from: "alice", to: "#shop:api", body: "deploying" });
				expect(r.message).toMatchObject({ to: "#shop:api", from: "alice", body: "deploying" });
				expect([...r.recipients].sort()).toEqual(["bob", "carol"]);
				expect(await store.countPending("r", "bob")).toBe(1);
				expect(await store.countPending("r", "carol")).toBe(1);
				for (const who of ["alice", "dave"]) expect(await store.countPending("r", who), who).toBe(0);
				expect(await store.countPending("q", "erin")).toBe(0);
				// Subscribing later does not bring earlier topic messages into the inbox (the log has them).
				await store.topics.subscribe("r", "shop:api", "frank", 1, 10);
				expect(await store.countPending("r", "frank")).toBe(0);
				expect((await store.pending("r", "bob", { limit: 5 })).messages).toEqual([r.message]);
			});

			it("a retried topic send answers with the audience it was stored with", async () => {
				await store.topics.subscribe("r", "t", "bob", 1, 10);
				const first = await send({ room: "r", from: "alice", to: "#t", key: "k" });
				await store.topics.subscribe("r", "t", "carol", 1, 10);
				const again = await send({ room: "r", from: "alice", to: "#t", key: "k" });
				expect(again).toMatchObject({ duplicate: true, message: first.message, recipients: ["bob"] });
				expect(await store.countPending("r", "carol")).toBe(0);
			});

			it("a topic with no subscribers stores the message and delivers it to no one", async () => {
				const r = await send({ room: "r", from: "alice", to: "#empty" });
				expect(r.recipients).toEqual([]);
				expect(await store.stats()).toEqual({ messages: 1, sessions: 0, pendingDeliveries: 0 });
			});

			it("the topic's log is history {topic}: public in the room, paged like history, only that topic", async () => {
				await store.topics.subscribe("r", "t", "bob", 1, 10);
				const sent: number[] = [];
				for (let i = 0; i < 5; i++) {
					sent.push((await send({ room: "r", from: i % 2 ? "bob" : "alice", to: "#t", body: `t${i}` })).message.seq);
					await send({ room: "r", from: "alice", to: "#u" });
					await send({ room: "r", from: "alice", to: "bob" });
				}
				await send({ room: "q", from: "alice", to: "#t" });
				// Anyone in the room reads it, subscribed or not.
				const all = await store.history("r", { viewer: "stranger", topic: "t", limit: 10 });
				expect(seqs(all)).toEqual(sent);
				expect(all.messages.map((m) => m.body)).toEqual(["t0", "t1", "t2", "t3", "t4"]);
				const newest = await store.history("r", { viewer: "stranger", topic: "t", limit: 2 });
				expect(seqs(newest)).toEqual(sent.slice(3));
				expect(newest.hasMore).toBe(true);
				const back = await store.history("r", { viewer: "stranger", topic: "t", limit: 2, before: sent[3] });
				expect(seqs(back)).toEqual(sent.slice(1, 3));
				const fwd = await store.history("r", { viewer: "stranger", topic: "t", limit: 10, after: sent[3] });
				expect(seqs(fwd)).toEqual(sent.slice(4));
				expect(fwd.hasMore).toBe(false);
			});

			it("a topic message is readable by anyone in its room; the room's history shows others' topic messages only through topic", async () => {
				await store.topics.subscribe("r", "t", "bob", 1, 10);
				const m = (await send({ room: "r", from: "alice", to: "#t" })).message;
				expect(await store.getMessage("r", m.id, "stranger")).toEqual(m);
				expect(await store.getMessage("q", m.id, "stranger")).toBeNull();
				expect((await store.history("r", { viewer: "stranger", limit: 10 })).messages).toEqual([]);
				expect((await store.history("r", { viewer: "alice", limit: 10 })).messages).toEqual([m]);
			});
		});

		describe("several recipients", () => {
			it("one message, a delivery each; seen by its sender and each addressee only", async () => {
				const r = await send({ room: "r", from: "alice", to: "bob,carol" });
				expect(r.message.to).toBe("bob,carol");
				expect([...r.recipients].sort()).toEqual(["bob", "carol"]);
				expect((await store.stats()).messages).toBe(1);
				for (const who of ["bob", "carol"]) {
					expect((await store.pending("r", who, { limit: 5 })).messages, who).toEqual([r.message]);
					expect(await store.getMessage("r", r.message.id, who), who).toEqual(r.message);
					expect((await store.history("r", { viewer: who, limit: 5 })).messages, who).toEqual([r.message]);
				}
				expect(await store.getMessage("r", r.message.id, "alice")).toEqual(r.message);
				// Names that merely contain an addressee's name do not count.
				for (const who of ["dave", "bo", "ob", "carol2"]) {
					expect(await store.getMessage("r", r.message.id, who), who).toBeNull();
					expect((await store.history("r", { viewer: who, limit: 5 })).messages, who).toEqual([]);
				}
				expect(await store.ack("r", "bob", [r.message.id])).toBe(1);
				expect(await store.countPending("r", "carol")).toBe(1);
			});

			it("a retried list send answers with its recipients", async () => {
				const first = await send({ room: "r", from: "alice", to: "bob,carol", key: "k" });
				const again = await send({ room: "r", from: "alice", to: "dave", recipients: ["dave"], key: "k" });
				expect(again.duplicate).toBe(true);
				expect([...again.recipients].sort()).toEqual(["bob", "carol"]);
				expect(again.message).toEqual(first.message);
			});
		});

		describe("threads", () => {
			it("a new message is its own thread; replies, and replies to replies, are in the root's", async () => {
				const root = (await send({ room: "r", from: "alice", to: "*", recipients: ["bob"] })).message;
				expect(root.thread).toBe(root.id);
				const reply = (await send({ room: "r", from: "bob", to: "alice", replyTo: root.id })).message;
				const deeper = (await send({ room: "r", from: "alice", to: "bob", replyTo: reply.id })).message;
				expect(reply.thread).toBe(root.id);
				expect(deeper.thread).toBe(root.id);
				expect((await store.getMessage("r", deeper.id, "bob"))?.thread).toBe(root.id);
				expect((await store.pending("r", "alice", { limit: 5 })).messages[0]?.thread).toBe(root.id);
			});

			it("a reply to a message that is not in the room is in the thread of the id it names", async () => {
				const elsewhere = (await send({ room: "q", from: "alice", to: "bob" })).message;
				const a = (await send({ room: "r", from: "alice", to: "bob", replyTo: elsewhere.id })).message;
				const b = (await send({ room: "r", from: "alice", to: "bob", replyTo: "m-99999-abcdef" })).message;
				expect(a.thread).toBe(elsewhere.id);
				expect(b.thread).toBe("m-99999-abcdef");
			});

			it("thread {any id of it} is the whole thread, oldest first, paged", async () => {
				const ids: string[] = [];
				let parent: string | null = null;
				for (let i = 0; i < 5; i++) {
					const [from, to] = i % 2 ? ["bob", "alice"] : ["alice", "bob"];
					const m: Message = (await send({ room: "r", from, to, replyTo: parent, body: `step ${i}` })).message;
					ids.push(m.id);
					parent = i === 2 ? ids[0] ?? null : m.id; // a branch: the fourth answers the root
					await send({ room: "r", from: "alice", to: "bob" }); // not in the thread
				}
				for (const id of ids) {
					const page = await store.thread("r", id, { viewer: "alice", limit: 50 });
					expect(page?.thread, id).toBe(ids[0]);
					expect(page?.messages.map((m) => m.id), id).toEqual(ids);
					expect(page?.messages.map((m) => m.from), id).toEqual(["alice", "bob", "alice", "bob", "alice"]);
					expect(page?.hasMore, id).toBe(false);
				}
				const first = await store.thread("r", ids[3] as string, { viewer: "bob", limit: 2 });
				expect(first?.messages.map((m) => m.id)).toEqual(ids.slice(0, 2));
				expect(first?.hasMore).toBe(true);
				const next = await store.thread("r", ids[3] as string, { viewer: "bob", limit: 2, after: first?.messages[1]?.seq });
				expect(next?.messages.map((m) => m.id)).toEqual(ids.slice(2, 4));
				expect(next?.hasMore).toBe(true);
			});

			it("a thread shows only what the viewer may see, and nothing at all from a message it may not see", async () => {
				const root = (await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "carol"] })).message;
				const dm = (await send({ room: "r", from: "bob", to: "alice", replyTo: root.id })).message;
				const open = (await send({ room: "r", from: "carol", to: "*", recipients: ["alice", "bob"], replyTo: root.id })).message;
				expect((await store.thread("r", root.id, { viewer: "carol", limit: 10 }))?.messages.map((m) => m.id)).toEqual([root.id, open.id]);
				expect((await store.thread("r", open.id, { viewer: "bob", limit: 10 }))?.messages.map((m) => m.id)).toEqual([root.id, dm.id, open.id]);
				expect(await store.thread("r", dm.id, { viewer: "carol", limit: 10 })).toBeNull();
				expect(await store.thread("q", root.id, { viewer: "carol", limit: 10 })).toBeNull();
				expect(await store.thread("r", "m-424242-abcdef", { viewer: "carol", limit: 10 })).toBeNull();
			});

			it("replies stay a thread when retention took the root", async () => {
				const root = (await send({ room: "r", from: "alice", to: "bob", sentAt: 1 })).message;
				const reply = (await send({ room: "r", from: "bob", to: "alice", replyTo: root.id, sentAt: 10 })).message;
				await store.applyRetention({ olderThan: 5 });
				for (const id of [root.id, reply.id]) {
					const page = await store.thread("r", id, { viewer: "alice", limit: 10 });
					expect(page?.thread, id).toBe(root.id);
					expect(page?.messages.map((m) => m.id), id).toEqual([reply.id]);
				}
				const late = (await send({ room: "r", from: "alice", to: "bob", replyTo: reply.id, sentAt: 20 })).message;
				expect(late.thread).toBe(root.id);
			});
		});

		describe("receipts", () => {
			it("queued, then pushed, then seen, each with its time; never back from seen", async () => {
				const m = (await send({ room: "r", from: "alice", to: "bob", sentAt: 100 })).message;
				const at = async () => (await store.receipts("r", m.id))?.receipts;
				expect(await at()).toEqual([{ recipient: "bob", state: "queued", at: 100, pushedAt: null, seenAt: null }]);
				await store.markPushed("r", [{ seq: m.seq, recipients: ["bob"] }], 200);
				await store.markPushed("r", [{ seq: m.seq, recipients: ["bob"] }], 250); // pushed again after a reconnect: the first time stays
				expect(await at()).toEqual([{ recipient: "bob", state: "pushed", at: 200, pushedAt: 200, seenAt: null }]);
				expect(await store.ackSeen("r", "bob", [m.id], 300)).toEqual([{ id: m.id, seq: m.seq, from: "alice", seenAt: 300 }]);
				expect(await at()).toEqual([{ recipient: "bob", state: "seen", at: 300, pushedAt: 200, seenAt: 300 }]);
				await store.markPushed("r", [{ seq: m.seq, recipients: ["bob"] }], 400);
				expect(await store.ackSeen("r", "bob", [m.id], 500)).toEqual([]);
				expect(await at()).toEqual([{ recipient: "bob", state: "seen", at: 300, pushedAt: 200, seenAt: 300 }]);
				expect((await store.receipts("r", m.id))?.message).toEqual(m);
			});

			it("a broadcast or topic send has a receipt per recipient; each recipient's ack moves only its own", async () => {
				await store.topics.subscribe("r", "t", "carol", 1, 10);
				await store.topics.subscribe("r", "t", "bob", 1, 10);
				for (const m of [
					(await send({ room: "r", from: "alice", to: "*", recipients: ["carol", "bob"], sentAt: 10 })).message,
					(await send({ room: "r", from: "alice", to: "#t", sentAt: 10 })).message,
					(await send({ room: "r", from: "alice", to: "carol,bob", sentAt: 10 })).message,
				]) {
					await store.markPushed("r", [{ seq: m.seq, recipients: ["carol"] }], 20);
					await store.ack("r", "bob", [m.id]);
					const receipts = (await store.receipts("r", m.id))?.receipts ?? [];
					expect(receipts.map((r) => [r.recipient, r.state]), m.to).toEqual([
						["bob", "seen"],
						["carol", "pushed"],
					]);
				}
			});

			it("one push to several recipients and later ones: each recipient keeps the time of its first push", async () => {
				const m = (await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "carol", "dave", "erin"], sentAt: 10 })).message;
				await store.markPushed("r", [{ seq: m.seq, recipients: ["bob", "carol"] }], 20);
				await store.markPushed("r", [{ seq: m.seq, recipients: ["dave", "bob"] }], 30);
				await store.markPushed("r", [{ seq: m.seq, recipients: ["bob", "carol", "dave", "erin"].slice(0, 3), all: false }], 35);
				await store.ack("r", "carol", [m.id]);
				const got = (await store.receipts("r", m.id))?.receipts.map((r) => [r.recipient, r.state, r.pushedAt]);
				expect(got).toEqual([
					["bob", "pushed", 20],
					["carol", "seen", 20],
					["dave", "pushed", 30],
					["erin", "queued", null],
				]);
			});

			it("a push to all of a message's recipients at once marks each of them", async () => {
				const m = (await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "carol"], sentAt: 10 })).message;
				await store.markPushed("r", [{ seq: m.seq, recipients: ["bob", "carol"], all: true }], 20);
				expect((await store.receipts("r", m.id))?.receipts.map((r) => [r.recipient, r.state, r.pushedAt])).toEqual([
					["bob", "pushed", 20],
					["carol", "pushed", 20],
				]);
			});

			it("takePending records what it takes as seen, at seenAt", async () => {
				const a = (await send({ room: "r", from: "alice", to: "bob" })).message;
				const b = (await send({ room: "r", from: "carol", to: "bob" })).message;
				await store.takePending("r", "bob", { limit: 1, seenAt: 777 });
				expect((await store.receipts("r", a.id))?.receipts[0]).toMatchObject({ state: "seen", seenAt: 777, pushedAt: null });
				expect((await store.receipts("r", b.id))?.receipts[0]?.state).toBe("queued");
			});

			it("ackSeen reports only deliveries it changed, with their senders", async () => {
				const a = (await send({ room: "r", from: "alice", to: "bob" })).message;
				const c = (await send({ room: "r", from: "carol", to: "bob" })).message;
				const notBobs = (await send({ room: "r", from: "alice", to: "dave" })).message;
				const got = await store.ackSeen("r", "bob", [a.id, notBobs.id, c.id, a.id, "m-9999-zzzzzz"], 50);
				expect(got).toEqual([
					{ id: a.id, seq: a.seq, from: "alice", seenAt: 50 },
					{ id: c.id, seq: c.seq, from: "carol", seenAt: 50 },
				]);
				expect((await store.receipts("r", notBobs.id))?.receipts[0]?.state).toBe("queued");
			});

			it("no receipts for unknown messages, other rooms, or messages retention deleted", async () => {
				const m = (await send({ room: "r", from: "alice", to: "bob", sentAt: 1 })).message;
				await store.markPushed("r", [{ seq: m.seq, recipients: ["bob"] }], 2);
				expect(await store.receipts("q", m.id)).toBeNull();
				expect(await store.receipts("r", "m-31337-abcdef")).toBeNull();
				await store.applyRetention({ olderThan: 5 });
				expect(await store.receipts("r", m.id)).toBeNull();
				// A mark for a message that is gone shows nowhere (seqs are never reused).
				await store.markPushed("r", [{ seq: m.seq, recipients: ["bob"] }], 3);
				expect(await store.receipts("r", m.id)).toBeNull();
			});

			it("pending and takePending can take only the replies to one message", async () => {
				const q = (await send({ room: "r", from: "alice", to: "bob" })).message;
				await send({ room: "r", from: "bob", to: "alice", body: "unrelated" });
				const answer = (await send({ room: "r", from: "bob", to: "alice", replyTo: q.id, body: "answer" })).message;
				await send({ room: "r", from: "carol", to: "alice", body: "also unrelated" });
				const page = await store.pending("r", "alice", { limit: 5, replyTo: q.id });
				expect(page).toEqual({ messages: [answer], remaining: 0 });
				expect((await store.takePending("r", "alice", { limit: 5, replyTo: q.id })).messages).toEqual([answer]);
				expect(await store.countPending("r", "alice")).toBe(2);
			});
		});

		describe("operator view", () => {
			const op = () => store.operator;

			it("rooms: every room with a session or a message, in byte order, paged; a room with neither left is gone", async () => {
				await store.createSession(session("beta", "alice"));
				await send({ room: "alpha", from: "x", to: "y" });
				await store.createSession(session("Zed", "bob"));
				await send({ room: "Zed", from: "bob", to: "carol" });
				await store.createSession(session("émoji", "carol"));
				// Byte order of UTF-8: upper case before lower case, "é" (0xC3...) after every ASCII letter.
				expect(await op().rooms({ limit: 10 })).toEqual(["Zed", "alpha", "beta", "émoji"]);
				expect(await op().rooms({ limit: 2 })).toEqual(["Zed", "alpha"]);
				expect(await op().rooms({ after: "alpha", limit: 2 })).toEqual(["beta", "émoji"]);
				expect(await op().rooms({ after: "émoji", limit: 2 })).toEqual([]);
				await store.forgetSession("beta", "alice");
				expect(await op().rooms({ limit: 10 })).toEqual(["Zed", "alpha", "émoji"]);
			});

			it("messages: every message of the room, direct ones between others too, by seq, paged both ways", async () => {
				const a = await send({ room: "r", from: "alice", to: "bob", body: "a" });
				await send({ room: "other", from: "alice", to: "bob", body: "elsewhere" });
				const b = await send({ room: "r", from: "carol", to: "dave", body: "b" });
				const c = await send({ room: "r", from: "bob", to: "*", recipients: ["alice", "carol"], body: "c", human: true });
				const d = await send({ room: "r", from: "dave", to: "alice", body: "d" });
				const all = await op().messages("r", { limit: 10 });
				expect(all.messages.map((m) => m.body)).toEqual(["a", "b", "c", "d"]);
				expect(all.hasMore).toBe(false);
				expect(all.messages[2]).toEqual(c.message);
				expect(Object.keys(all.messages[0] ?? {})).not.toContain("human");
				// Newest page, oldest first; then backwards from it; then forwards.
				expect(await op().messages("r", { limit: 2 })).toEqual({ messages: [c.message, d.message], hasMore: true });
				expect(await op().messages("r", { limit: 2, before: c.message.seq })).toEqual({ messages: [a.message, b.message], hasMore: false });
				expect(await op().messages("r", { limit: 2, after: a.message.seq })).toEqual({ messages: [b.message, c.message], hasMore: true });
				expect((await op().messages("r", { limit: 0 })).hasMore).toBe(true);
				// By session: what it sent, and what was addressed to it directly (not broadcasts of others).
				expect((await op().messages("r", { session: "alice", limit: 10 })).messages.map((m) => m.body)).toEqual(["a", "d"]);
				expect((await op().messages("r", { session: "bob", limit: 10 })).messages.map((m) => m.body)).toEqual(["a", "c"]);
				expect((await op().messages("r", { session: "bob", limit: 1 })).hasMore).toBe(true);
				// A message to several sessions is each one's, and only whole names match (not "ali" in "alice").
				await send({ room: "r", from: "carol", to: "alice,dave", recipients: ["alice", "dave"], body: "list" });
				expect((await op().messages("r", { session: "dave", limit: 10 })).messages.map((m) => m.body)).toEqual(["b", "d", "list"]);
				expect((await op().messages("r", { session: "ali", limit: 10 })).messages).toEqual([]);
				expect(await op().messages("empty", { limit: 10 })).toEqual({ messages: [], hasMore: false });
			});

			it("deliveries: who still owes an ack, direct and broadcast, through acks, inbox reads and forgets", async () => {
				await store.createSession(session("r", "carol"));
				const direct = await send({ room: "r", from: "alice", to: "bob" });
				const all = await send({ room: "r", from: "alice", to: "*", recipients: ["carol", "bob", "dave"] });
				expect(await op().deliveries(direct.message.id)).toEqual({ message: direct.message, recipients: [{ session: "bob", acked: false }] });
				await store.ack("r", "bob", [direct.message.id]);
				expect((await op().deliveries(direct.message.id))?.recipients).toEqual([{ session: "bob", acked: true }]);
				await store.takePending("r", "dave", { limit: 10 });
				await store.forgetSession("r", "carol");
				expect(await op().deliveries(all.message.id)).toEqual({
					message: all.message,
					recipients: [
						{ session: "bob", acked: false },
						{ session: "carol", acked: true },
						{ session: "dave", acked: true },
					],
				});
				// Unknown, forged and deleted ids have nothing.
				expect(await op().deliveries(`m-${all.message.seq}-zzzzzz`)).toBeNull();
				expect(await op().deliveries("m-999999-abcdef")).toBeNull();
				expect(await op().deliveries("not an id")).toBeNull();
				await store.applyRetention({ olderThan: 10_000 });
				expect(await op().deliveries(direct.message.id)).toBeNull();
			});

			it("deliveries: a topic's and a list's recipients are their audience, not their `to`", async () => {
				await store.topics.subscribe("r", "shop:api", "bob", 1, 10);
				await store.topics.subscribe("r", "shop:api", "carol", 1, 10);
				const topic = await send({ room: "r", from: "alice", to: "#shop:api" });
				const list = await send({ room: "r", from: "alice", to: "dave,bob" });
				await store.ack("r", "carol", [topic.message.id]);
				expect((await op().deliveries(topic.message.id))?.recipients).toEqual([
					{ session: "bob", acked: false },
					{ session: "carol", acked: true },
				]);
				expect((await op().deliveries(list.message.id))?.recipients).toEqual([
					{ session: "bob", acked: false },
					{ session: "dave", acked: false },
				]);
				const nobody = await send({ room: "r", from: "alice", to: "#empty" });
				expect((await op().deliveries(nobody.message.id))?.recipients).toEqual([]);
			});

			it("thread: the whole thread from any of its ids, direct messages between others too, paged; what retention left", async () => {
				const root = (await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "carol"], sentAt: 1 })).message;
				const dm = (await send({ room: "r", from: "bob", to: "alice", replyTo: root.id, sentAt: 10 })).message;
				await send({ room: "r", from: "alice", to: "bob", sentAt: 10 }); // not in the thread
				const deeper = (await send({ room: "r", from: "alice", to: "bob", replyTo: dm.id, sentAt: 10 })).message;
				const topic = (await send({ room: "r", from: "carol", to: "#t", replyTo: root.id, sentAt: 10 })).message;
				const all = [root, dm, deeper, topic];
				for (const m of all) {
					expect(await op().thread("r", m.id, { limit: 10 }), m.id).toEqual({ thread: root.id, messages: all, hasMore: false });
				}
				// Nobody's view holds both direct messages: carol's thread has neither.
				expect((await store.thread("r", topic.id, { viewer: "carol", limit: 10 }))?.messages).toEqual([root, topic]);
				expect(await op().thread("r", deeper.id, { limit: 2 })).toEqual({ thread: root.id, messages: [root, dm], hasMore: true });
				expect(await op().thread("r", deeper.id, { limit: 2, after: dm.seq })).toEqual({ thread: root.id, messages: [deeper, topic], hasMore: false });
				// Another room's id, an unknown one and a forged one name nothing.
				expect(await op().thread("q", root.id, { limit: 10 })).toBeNull();
				expect(await op().thread("r", "m-424242-abcdef", { limit: 10 })).toBeNull();
				expect(await op().thread("r", `m-${root.seq}-zzzzzz`, { limit: 10 })).toBeNull();
				// Retention took the root: its id still names the thread of the replies left.
				await store.applyRetention({ olderThan: 5 });
				expect(await op().thread("r", root.id, { limit: 10 })).toEqual({ thread: root.id, messages: [dm, deeper, topic], hasMore: false });
			});

			it("sizeBytes: the storage's size where the backend can tell it", async () => {
				await send({ room: "r", from: "alice", to: "bob" });
				const size = await op().sizeBytes();
				if (store.kind === "memory") expect(size).toBeNull();
				else expect(size).toBeGreaterThan(0);
			});
		});

		describe("stats and lifecycle", () => {
			it("counts messages, sessions and unacked deliveries", async () => {
				expect(await store.stats()).toEqual({ messages: 0, sessions: 0, pendingDeliveries: 0 });
				await store.createSession(session("r", "alice"));
				await store.createSession(session("r", "bob"));
				const m = await send({ room: "r", from: "alice", to: "*", recipients: ["bob", "carol"] });
				await send({ room: "r", from: "bob", to: "alice" });
				expect(await store.stats()).toEqual({ messages: 2, sessions: 2, pendingDeliveries: 3 });
				await store.ack("r", "carol", [m.message.id]);
				expect(await store.stats()).toEqual({ messages: 2, sessions: 2, pendingDeliveries: 2 });
			});

			it("close is safe twice, and a closed store refuses work", async () => {
				await store.close();
				await store.close();
				await expect(send({ room: "r", from: "alice", to: "bob" })).rejects.toThrow(/closed/);
				await expect(store.countPending("r", "bob")).rejects.toThrow(/closed/);
				await expect(store.state.get("r", "k")).rejects.toThrow(/closed/);
				await expect(store.claims.list("r", { now: 1 })).rejects.toThrow(/closed/);
				await expect(store.operator.rooms({ limit: 1 })).rejects.toThrow(/closed/);
			});
		});
	});
}
