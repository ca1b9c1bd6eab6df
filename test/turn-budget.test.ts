/**
 * The event-loop turn's budget for inbound work (server/turn-budget.ts): once a turn has used it, later
 * frames wait for the next turn, so timers run in between; nothing is dropped and each connection's frames
 * keep their order. Unit cases drive TurnBudget with busy work of known cost; the hub cases use a real hub
 * with a 1 ms budget, so that deferral is certain whatever the machine's speed.
 */
import { afterEach, describe, expect, it } from "vitest";
import { CloseCode } from "../server/errors.js";
import { TurnBudget } from "../server/turn-budget.js";
import { until } from "./fixtures/faults.js";
import { RawClient, startHub, type TestHub } from "./fixtures/hub.js";

/** Busy work for at least `ms`: a handler's cost, measured by the clock, not guessed. */
function spin(ms: number): void {
	const end = performance.now() + ms;
	while (performance.now() < end) {
		// busy
	}
}

/**
 * `n` frames, each arriving in its own callback (as sockets' reads do in one poll phase, with microtasks
 * drained between), each costing `costMs` after an await (where a handler's real work is). Resolves with
 * the order of events: `f<i>` as frame i is handled, `tick` each time a 1 ms interval timer runs.
 */
function burst(
	budget: TurnBudget,
	n: number,
	costMs: number,
): Promise<string[]> {
	const events: string[] = [];
	return new Promise((resolve) => {
		let handled = 0;
		const handle = async (i: number) => {
			await null;
			spin(costMs);
			events.push(`f${i}`);
			if (++handled === n)
				setTimeout(() => {
					clearInterval(ticker);
					resolve(events);
				}, 5);
		};
		const ticker = setInterval(() => events.push("tick"), 1);
		for (let i = 0; i < n; i++) {
			setImmediate(() => {
				if (budget.mustWait())
					budget.wait(
						() => void handle(i),
						() => false,
					);
				else void handle(i);
			});
		}
	});
}

/** Spends this turn's budget: the first span found spent starts a turn (and arms its timer), the second is spent. */
function spend(budget: TurnBudget): void {
	expect(budget.mustWait()).toBe(false);
	spin(6);
	expect(budget.mustWait()).toBe(false);
	spin(6);
	expect(budget.mustWait()).toBe(true);
}

/** The most frames handled with no timer tick between them: one turn's work. */
function longestTurn(events: string[]): number {
	let run = 0;
	let most = 0;
	for (const e of events) {
		run = e === "tick" ? 0 : run + 1;
		most = Math.max(most, run);
	}
	return most;
}

describe("TurnBudget", () => {
	it("lets a timer run once a turn has spent its budget, and handles every frame in arrival order", async () => {
		const budget = new TurnBudget(5);
		const events = await burst(budget, 20, 2);
		const frames = events.filter((e) => e !== "tick");
		expect(frames).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}`));
		// 20 frames of 2 ms each are 40 ms of work. A turn may run twice its budget (the first span found spent
		// starts a turn, since nothing marked turns until then): 3 frames of 2 ms per 5 ms, twice, plus one.
		expect(longestTurn(events)).toBeLessThanOrEqual(7);
		expect(budget.deferred).toBeGreaterThan(0);
		expect(budget.exhaustedTurns).toBeGreaterThan(0);
		expect(budget.waiting).toBe(0);
		budget.close();
	});

	it("with no budget (0) everything runs in the turn it arrived in, and the timer waits for all of it", async () => {
		const budget = new TurnBudget(0);
		const events = await burst(budget, 20, 2);
		expect(longestTurn(events)).toBe(20);
		expect(budget.deferred).toBe(0);
	});

	it("counts work in a waiter's microtasks: its handlers' awaited work is inside the next waiter's check", async () => {
		// Every frame waits (the first turn is spent before the burst), so each is handled in a grant: if the
		// grants did not each get their own macrotask, all 20 would be granted in one turn and the timer would
		// come last.
		const budget = new TurnBudget(5);
		spend(budget);
		const events = await burst(budget, 20, 2);
		expect(longestTurn(events)).toBeLessThanOrEqual(7);
		expect(events.filter((e) => e !== "tick")).toEqual(
			Array.from({ length: 20 }, (_, i) => `f${i}`),
		);
		budget.close();
	});

	it("work resumed together after one shared wait goes on at the budget's pace (pace), in order", async () => {
		// 20 hellos awaiting one room's load, each with 2 ms of work after it: resumed in one microtask drain
		// unless each asks pace() first.
		const run = async (budget: TurnBudget, paced: boolean) => {
			const events: string[] = [];
			const ticker = setInterval(() => events.push("tick"), 1);
			let loaded!: () => void;
			const load = new Promise<void>((r) => {
				loaded = r;
			});
			const work = Array.from({ length: 20 }, async (_, i) => {
				await load;
				if (paced) {
					const p = budget.pace();
					if (p) await p;
				}
				spin(2);
				events.push(`f${i}`);
			});
			setTimeout(loaded, 2);
			await Promise.all(work);
			await new Promise((r) => setTimeout(r, 5));
			clearInterval(ticker);
			budget.close();
			return events;
		};
		const unpaced = await run(new TurnBudget(5), false);
		expect(longestTurn(unpaced)).toBe(20);
		const paced = await run(new TurnBudget(5), true);
		expect(longestTurn(paced)).toBeLessThanOrEqual(7);
		expect(paced.filter((e) => e !== "tick")).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}`));
		// Nothing waits and the turn has budget: no promise, no extra hop.
		const idle = new TurnBudget(5);
		expect(idle.pace()).toBeUndefined();
		idle.close();
	});

	it("a waiter cancelled (its connection closed) gives up its place: no grant, and the queue empties", async () => {
		const budget = new TurnBudget(5);
		spend(budget);
		const granted: number[] = [];
		budget.wait(
			() => granted.push(1),
			() => true,
		);
		budget.wait(
			() => granted.push(2),
			() => false,
		);
		expect(budget.waiting).toBe(2);
		await new Promise((r) => setTimeout(r, 20));
		expect(granted).toEqual([2]);
		expect(budget.waiting).toBe(0);
		budget.close();
	});
});

describe("the hub under a 1 ms turn budget", () => {
	let hub: TestHub | undefined;
	const clients: RawClient[] = [];
	afterEach(async () => {
		for (const c of clients.splice(0)) c.close();
		await hub?.stop();
		hub = undefined;
	});

	async function metric(name: string): Promise<number> {
		const text = await (
			await fetch(`http://127.0.0.1:${(hub as TestHub).port}/metrics`)
		).text();
		const m = new RegExp(`^${name} ([0-9.eE+-]+)$`, "m").exec(text);
		return m ? Number(m[1]) : Number.NaN;
	}

	it("answers 40 pipelining senders' sends in each sender's order, and stores them in that order", async () => {
		hub = await startHub({
			turnBudgetMs: 1,
			rateLimitBurst: 100_000,
			rateLimitPerSecond: 100_000,
			newSessionsPerMinute: 0,
		});
		const SENDERS = 40;
		const EACH = 50;
		const receiver = new RawClient(hub.url);
		clients.push(receiver);
		await receiver.opened();
		expect(
			(
				await receiver.request({
					type: "hello",
					session: "RX",
					room: "r",
					presence: false,
					peers: 0,
				})
			).type,
		).toBe("result");
		const senders = await Promise.all(
			Array.from({ length: SENDERS }, async (_, s) => {
				const c = new RawClient(hub?.url as string);
				clients.push(c);
				await c.opened();
				expect(
					(
						await c.request({
							type: "hello",
							session: `S${s}`,
							room: "r",
							presence: false,
							peers: 0,
						})
					).type,
				).toBe("result");
				return c;
			}),
		);
		// The bound: a connection waits at most once at a time, so waiters never outnumber connections.
		const turns = hub.hub.turns;
		const realWait = turns.wait.bind(turns);
		let mostWaiting = 0;
		turns.wait = (grant, cancelled) => {
			realWait(grant, cancelled);
			mostWaiting = Math.max(mostWaiting, turns.waiting);
		};
		// Every sender pipelines its sends at once: the hub gets 2,000 frames from 40 sockets in a burst.
		for (const [s, c] of senders.entries())
			for (let k = 0; k < EACH; k++)
				c.sendRaw(
					JSON.stringify({
						type: "send",
						id: `s${s}-${k}`,
						to: "RX",
						body: `${s}:${k}`,
					}),
				);
		for (const [s, c] of senders.entries()) {
			const answers: string[] = [];
			for (let k = 0; k < EACH; k++) {
				const f = await c.next(
					(x) => x.type === "result" || x.type === "error",
					20_000,
				);
				expect(f.type).toBe("result");
				answers.push(String(f.id));
			}
			expect(answers).toEqual(
				Array.from({ length: EACH }, (_, k) => `s${s}-${k}`),
			);
		}
		// The receiver got each sender's messages in its order, each once.
		const bodies: string[] = [];
		while (bodies.length < SENDERS * EACH)
			bodies.push(
				String(
					(
						(await receiver.next((x) => x.type === "message", 20_000))
							.message as { body: string }
					).body,
				),
			);
		expect(new Set(bodies).size).toBe(SENDERS * EACH);
		for (let s = 0; s < SENDERS; s++) {
			const mine = bodies
				.filter((b) => b.startsWith(`${s}:`))
				.map((b) => Number(b.split(":")[1]));
			expect(mine).toEqual(Array.from({ length: EACH }, (_, k) => k));
		}
		// The path under test was taken: connections waited for later turns.
		expect(await metric("relay_frames_deferred_total")).toBeGreaterThan(0);
		expect(await metric("relay_turns_exhausted_total")).toBeGreaterThan(0);
		expect(hub.hub.turns.waiting).toBe(0);
		expect(mostWaiting).toBeGreaterThan(0);
		expect(mostWaiting).toBeLessThanOrEqual(SENDERS + 1);
	}, 60_000);

	it("a hello waiting for its turn past the pre-hello deadline is let finish, not timed out", async () => {
		hub = await startHub({ preHelloTimeoutMs: 300 });
		const turns = hub.hub.turns;
		const c = new RawClient(hub.url);
		clients.push(c);
		await c.opened();
		// The next frame finds the turn spent, and its grant comes only when the test says, well past 300 ms.
		// (Set after the upgrade, which asks the budget too.)
		let release: () => void = () => undefined;
		const realWait = turns.wait.bind(turns);
		turns.mustWait = () => true;
		turns.wait = (grant, cancelled) => {
			turns.mustWait = TurnBudget.prototype.mustWait.bind(turns);
			release = () => realWait(grant, cancelled);
		};
		c.sendRaw(
			JSON.stringify({
				type: "hello",
				id: "h",
				session: "Late",
				room: "r",
				presence: false,
				peers: 0,
			}),
		);
		await new Promise((r) => setTimeout(r, 700));
		expect(c.closed).toBeNull();
		release();
		const answer = await c.next((f) => f.id === "h");
		expect(answer.type).toBe("result");
		expect(c.closed).toBeNull();
	});

	it("a peer flooding frames before hello past its frame rate is still cut at the pre-hello deadline", async () => {
		// Its frames are held for the frame rate (they wait for the peer's budget, not for the hub's turn), so
		// they must not make it busy: else a flood would keep it from ever being timed out or evicted.
		hub = await startHub({
			preHelloTimeoutMs: 300,
			rateLimitPerSecond: 1,
			rateLimitBurst: 1,
		});
		const c = new RawClient(hub.url);
		clients.push(c);
		await c.opened();
		const flood = setInterval(() => {
			if (!c.closed) c.sendRaw(JSON.stringify({ type: "ping", id: "p" }));
		}, 20);
		try {
			const closed = await c.waitClosed(5_000);
			expect(closed.code).toBe(CloseCode.HELLO_TIMEOUT);
		} finally {
			clearInterval(flood);
		}
	});

	it("makes a burst's upgrade handshakes wait for later turns too, and every connection still opens", async () => {
		// A budget of 1 µs: a turn runs to twice its budget before anything waits, and 80 handshakes take about
		// 2-3 ms here, so under 1 ms whether any waited came down to the machine's speed (deferred was 0 in two
		// full runs of the suite). Now any poll that brings three of them makes one wait.
		hub = await startHub({ turnBudgetMs: 0.001 });
		const N = 80;
		const burst = Array.from({ length: N }, () => new RawClient((hub as TestHub).url));
		clients.push(...burst);
		await Promise.all(burst.map((c) => c.opened()));
		// Not one frame was sent: only handshakes can have waited.
		expect(hub.hub.turns.deferred).toBeGreaterThan(0);
		expect(hub.hub.connections.size).toBe(N);
	});

	it("counts handshakes waiting for their turn against the connection cap", async () => {
		// With the token at the upgrade, nobody lands in the pre-hello pool, so the cap refuses rather than evicts.
		hub = await startHub({ turnBudgetMs: 1, maxConnections: 20, token: "t0ken-of-16-chars-or-more" });
		// Every handshake waits, and none is let go until all 40 clients are either waiting or refused.
		const turns = hub.hub.turns;
		const held: (() => void)[] = [];
		const realWait = turns.wait.bind(turns);
		turns.mustWait = () => true;
		turns.wait = (grant, cancelled) => {
			held.push(() => realWait(grant, cancelled));
		};
		const burst = Array.from({ length: 40 }, () => new RawClient((hub as TestHub).url, { headers: { authorization: "Bearer t0ken-of-16-chars-or-more" } }));
		clients.push(...burst);
		let rejected = 0;
		const results = Promise.allSettled(
			burst.map((c) =>
				c.opened().catch((err) => {
					rejected++;
					throw err;
				}),
			),
		);
		await until(() => held.length + rejected === 40, 5_000, "every client waiting or refused");
		expect(held.length).toBe(20);
		turns.mustWait = TurnBudget.prototype.mustWait.bind(turns);
		turns.wait = realWait;
		for (const grant of held) grant();
		const settled = await results;
		const refused = settled.filter((r) => r.status === "rejected");
		expect(refused.map((r) => String((r as PromiseRejectedResult).reason))).toEqual(Array(20).fill("Error: HTTP 503"));
		expect(hub.hub.connections.size).toBe(20);
	});

	it("reports the longest event-loop delay since the hub began to listen, even before any scrape, and never resets it", async () => {
		hub = await startHub();
		// A 150 ms block on the hub's loop (this test shares it) before anyone scraped, then two scrapes: both see it.
		await new Promise((r) => setTimeout(r, 30));
		spin(150);
		await new Promise((r) => setTimeout(r, 30));
		const first = await metric("relay_event_loop_delay_max_seconds");
		const second = await metric("relay_event_loop_delay_max_seconds");
		expect(first).toBeGreaterThanOrEqual(0.1);
		expect(second).toBeGreaterThanOrEqual(first);
	});

	it("refuses a negative or non-numeric budget with a config error", async () => {
		await expect(startHub({ turnBudgetMs: -1 })).rejects.toThrow(
			/--turn-budget/,
		);
		await expect(startHub({ turnBudgetMs: Number.NaN })).rejects.toThrow(
			/--turn-budget/,
		);
	});
});
