/**
 * The page: asks the hub for its token when it wants one (the login form), loads the room's snapshot from the
 * API, then keeps it current from the live stream, reconnecting (and reloading the snapshot) when it drops.
 * Panels (panels/) render from the one model (model.ts).
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, AuthError, get, live, post, setToken, token } from "./api.js";
import { type Filter, MAX_MESSAGES, replyTarget, Store } from "./model.js";
import { type Actions, PANELS, type Panel } from "./panels/index.js";
import type { ClaimInfo, Health, MessageDetail, MessagePreview, SendAnswer, SessionRow, StateInfo, ThreadView, TopicRow } from "./types.js";

/** Messages read per page. */
const PAGE = 200;

function roomFromHash(): string {
	const m = /(?:^#|&)room=([A-Za-z][A-Za-z0-9_-]{0,63})(?:&|$)/.exec(location.hash);
	return m?.[1] ?? "default";
}

function useStore(store: Store) {
	const [, setVersion] = useState(0);
	useEffect(() => store.subscribe(() => setVersion((v) => v + 1)), [store]);
	return store.model;
}

function Login({ store, retry }: { store: Store; retry: () => void }) {
	const [value, setValue] = useState("");
	const wrong = store.model.error;
	return (
		<main class="login">
			<form
				id="login"
				onSubmit={(e) => {
					e.preventDefault();
					setToken(value.trim());
					retry();
				}}
			>
				<h1>claude-relay</h1>
				<p>This hub needs its token. It is kept in this tab only (session storage), sent as a header, never as a cookie.</p>
				<label>
					hub token{" "}
					<input id="login-token" type="password" autocomplete="current-password" value={value} onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} />
				</label>
				<button type="submit" disabled={!value.trim()}>
					open
				</button>
				{wrong && <p class="error">{wrong}</p>}
			</form>
		</main>
	);
}

export function App() {
	const store = useMemo(() => new Store(), []);
	const model = useStore(store);
	const [now, setNow] = useState(Date.now());
	const [attempt, setAttempt] = useState(0);

	useEffect(() => {
		const t = setInterval(() => setNow(Date.now()), 1_000);
		return () => clearInterval(t);
	}, []);

	useEffect(() => {
		const onHash = () =>
			store.set({ room: roomFromHash(), selected: null, detail: null, thread: null, filter: null, replyTo: null, composeTo: "", topics: [], messages: [], older: false, newer: false });
		store.set({ room: roomFromHash() });
		addEventListener("hashchange", onHash);
		return () => removeEventListener("hashchange", onHash);
	}, [store]);

	const loadSessions = async (room: string) => {
		const page = await get<{ sessions: SessionRow[] }>("api/sessions", { room, limit: 500 });
		if (store.model.room === room) store.setSessions(page.sessions);
	};

	const loadTopics = async (room: string) => {
		const page = await get<{ topics: TopicRow[] }>("api/topics", { room });
		if (store.model.room === room) store.setTopics(page.topics);
	};

	/** One page of the stream as filtered: the room's messages (of a session), a topic's log, or a thread. */
	const readPage = (room: string, filter: Filter | null, at: { before?: number; after?: number } = {}) => {
		type Page = { messages: MessagePreview[]; hasMore: boolean };
		if (filter?.kind === "topic") return get<Page>(`api/topics/${encodeURIComponent(filter.value)}`, { room, limit: PAGE, ...at });
		if (filter?.kind === "thread") return get<Page>(`api/threads/${encodeURIComponent(filter.value)}`, { room, limit: PAGE, after: at.after });
		return get<Page>("api/messages", { room, limit: PAGE, session: filter?.value, ...at });
	};

	const loadMessages = async (room: string) => {
		const filter = store.model.filter;
		const page = await readPage(room, filter);
		if (store.model.room !== room || store.model.filter !== filter) return;
		// A thread is read forwards (root first): what it has beyond the page is newer, not older.
		if (filter?.kind === "thread") store.loadedMessages(page.messages, false, page.hasMore);
		else store.loadedMessages(page.messages, page.hasMore);
	};

	const loadRoom = async (room: string) => {
		const [rooms, state, claims] = await Promise.all([
			get<{ rooms: { room: string; online: number }[] }>("api/rooms"),
			get<{ entries: StateInfo[] }>("api/state", { room, limit: 1_000 }),
			get<{ claims: ClaimInfo[] }>("api/claims", { room }),
			loadSessions(room),
			loadMessages(room),
			loadTopics(room),
		]);
		if (store.model.room !== room) return;
		store.set({ rooms: rooms.rooms, state: state.entries, claims: claims.claims });
	};

	/** The room's snapshot, and what changed while events were not coming (receipts, the thread): events are not replayed. */
	const reload = async (room: string) => {
		await loadRoom(room);
		const open = store.model.selected;
		if (open && store.model.detail) await loadDetail(open).catch(() => undefined);
	};

	// Authenticate, then stream the room, reconnecting with a growing pause; a reconnect reloads the snapshot.
	useEffect(() => {
		const room = model.room;
		const abort = new AbortController();
		let delay = 500;
		(async () => {
			try {
				const health = await get<Health>("api/health");
				store.set({ auth: "ok", error: null, operator: health.operator ?? "Operator", health });
			} catch (err) {
				if (err instanceof AuthError) store.set({ auth: "token", error: token() ? "That token was refused." : null });
				else store.set({ auth: "error", error: `Cannot reach the hub: ${(err as Error).message}` });
				return;
			}
			while (!abort.signal.aborted) {
				try {
					await reload(room);
					store.set({ live: "live" });
					delay = 500;
					await live(
						room,
						(event, data) => {
							store.apply(event, data);
							// A session the page does not know yet (first claim, or it joined): read the list again.
							if (event === "session" || (event === "joined" && !store.model.sessions.some((s) => s.session === (data as { session: string }).session))) {
								void loadSessions(room).catch(() => undefined);
							}
							// The hub's fan-out from other hubs was away: events from then on may be missing, as after a reconnect.
							if (event === "resync") void reload(room).catch(() => undefined);
							// A rename moves the session's subscriptions to its new ID: read the topics again.
							if (event === "left" && (data as { reason: string }).reason === "renamed") void loadTopics(room).catch(() => undefined);
						},
						abort.signal,
					);
				} catch (err) {
					if (abort.signal.aborted) return;
					if (err instanceof AuthError) {
						setToken(null);
						store.set({ auth: "token", error: "The hub asked for its token again." });
						return;
					}
				}
				if (abort.signal.aborted) return;
				store.set({ live: "reconnecting" });
				await new Promise((r) => setTimeout(r, delay));
				delay = Math.min(10_000, delay * 2);
			}
		})();
		return () => abort.abort();
	}, [store, model.room, attempt]);

	/** The inspector's message in full, with its receipts, then its whole thread. */
	const loadDetail = async (id: string) => {
		const detail = await get<MessageDetail>(`api/messages/${encodeURIComponent(id)}`);
		if (store.model.selected !== id) return;
		const same = store.model.thread?.thread === detail.thread;
		store.set({ detail, ...(same ? {} : { thread: null }) });
		const thread = await get<ThreadView>(`api/threads/${encodeURIComponent(detail.thread)}`, { room: detail.message.room, limit: PAGE });
		if (store.model.selected === id) store.set({ thread });
	};

	useEffect(() => {
		const id = model.selected;
		if (!id) return;
		loadDetail(id).catch((err) => {
			if (store.model.selected === id) store.set({ selected: null, error: (err as Error).message });
		});
	}, [store, model.selected]);

	const actions: Actions = {
		select: (id) => store.set({ selected: id, detail: null }),
		filter: (filter) => {
			store.set({ filter, messages: [], older: false, newer: false });
			void loadMessages(store.model.room).catch((err) => store.set({ error: (err as Error).message }));
		},
		loadOlder: async () => {
			const { room, filter, messages } = store.model;
			const page = await readPage(room, filter, { before: messages[0]?.seq });
			if (store.model.room === room && store.model.filter === filter) store.prependMessages(page.messages, page.hasMore);
		},
		loadNewer: async () => {
			const { room, filter, messages } = store.model;
			const page = await readPage(room, filter, { after: messages.at(-1)?.seq });
			if (store.model.room === room && store.model.filter === filter) store.appendMessages(page.messages, page.hasMore);
		},
		loadMoreThread: async () => {
			const t = store.model.thread;
			if (!t) return;
			const page = await get<ThreadView>(`api/threads/${encodeURIComponent(t.thread)}`, { room: store.model.room, limit: PAGE, after: t.messages.at(-1)?.seq });
			if (store.model.thread?.thread !== t.thread) return;
			const seen = new Set(t.messages.map((m) => m.id));
			store.set({ thread: { ...t, messages: [...t.messages, ...page.messages.filter((m) => !seen.has(m.id))].slice(-MAX_MESSAGES), hasMore: page.hasMore } });
		},
		reply: (m) => store.set(m ? { replyTo: m, composeTo: replyTarget(m) } : { replyTo: null }),
		target: (to) => store.set({ composeTo: to }),
		send: async (input) => {
			// One key per logical send: a retried request is stored once.
			const key = crypto.randomUUID();
			try {
				return await post<SendAnswer>("api/send", { room: store.model.room, key, ...input });
			} catch (err) {
				if (err instanceof ApiError) throw new Error(`${err.code}: ${err.message}`);
				throw err;
			}
		},
		stateValue: async (key) => (await get<{ entry: { value: unknown } }>("api/state", { room: store.model.room, key })).entry.value,
	};

	if (model.auth === "loading") return <p class="muted center">connecting to the hub…</p>;
	if (model.auth === "token") return <Login store={store} retry={() => setAttempt((n) => n + 1)} />;
	if (model.auth === "error") {
		return (
			<main class="login">
				<p class="error">{model.error}</p>
				<button type="button" onClick={() => setAttempt((n) => n + 1)}>
					try again
				</button>
			</main>
		);
	}
	const area = (a: Panel["area"]) =>
		PANELS.filter((p) => p.area === a).map((p) => (
			<section key={p.id} class={`panel panel-${p.id}`} aria-label={p.title}>
				<h2>{p.title}</h2>
				<p.component model={model} actions={actions} now={now} />
			</section>
		));
	return (
		<div class="layout">
			<header>
				<h1>claude-relay</h1>
				<label>
					room{" "}
					<select id="room" value={model.room} onChange={(e) => (location.hash = `room=${(e.currentTarget as HTMLSelectElement).value}`)}>
						{[...new Set([model.room, ...model.rooms.map((r) => r.room)])].map((r) => (
							<option key={r} value={r}>
								{r}
								{model.rooms.find((x) => x.room === r)?.online ? ` (${model.rooms.find((x) => x.room === r)?.online} online)` : ""}
							</option>
						))}
					</select>
				</label>
				<span id="live" class={`live ${model.live}`} data-state={model.live}>
					{model.live === "live" ? "live" : model.live === "connecting" ? "connecting…" : "reconnecting…"}
				</span>
				{model.error && <span class="error">{model.error}</span>}
				{token() && (
					<button
						type="button"
						onClick={() => {
							setToken(null);
							store.set({ auth: "token", error: null });
						}}
					>
						forget token
					</button>
				)}
			</header>
			<div class="side">{area("side")}</div>
			<div class="main">{area("main")}</div>
			<div class="aside">{area("aside")}</div>
		</div>
	);
}
