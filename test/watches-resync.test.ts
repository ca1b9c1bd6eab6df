/**
 * Watches.resync: after the fan-out was away, every watched key changed since the drop (less the clock margin)
 * is hinted again, to the connections whose prefixes it matches, once each; a room's watched prefixes are read
 * once (a prefix inside another is covered by it), paged. Real memory store; connections are stand-ins that
 * record what they were sent (Watches uses a connection only as a key and for sendHint).
 */
import { describe, expect, it } from "vitest";
import type { Connection } from "../server/connection.js";
import { MemoryStore } from "../server/store/memory.js";
import type { StateListQuery, StateStore } from "../server/store/store.js";
import { RESYNC_CLOCK_MARGIN_MS, Watches } from "../server/watches.js";

const limits = { maxValueBytes: 1000, maxKeys: 10_000, maxRoomBytes: 10_000_000 };

function conn(): Connection & { keys: string[] } {
	const keys: string[] = [];
	return {
		keys,
		sendHint(text: string) {
			keys.push((JSON.parse(text) as { key: string }).key);
			return true;
		},
	} as unknown as Connection & { keys: string[] };
}

describe("Watches.resync", () => {
	it("hints each key changed since the drop to each watcher of it, once, reading each room's outer prefixes", async () => {
		const store = new MemoryStore();
		await store.open();
		const since = 1_000_000;
		const set = (room: string, key: string, updatedAt: number) =>
			store.state.set({ room, key, valueJson: "1", items: -1, updatedBy: "X", updatedAt, limits });
		// 1,200 recent keys under tasks/ (more than a page), a few old ones, and keys in another room.
		for (let i = 0; i < 1_200; i++) await set("r", `tasks/${String(i).padStart(4, "0")}`, since + i);
		await set("r", "tasks/old", since - RESYNC_CLOCK_MARGIN_MS - 1);
		await set("r", "tasks/edge", since - RESYNC_CLOCK_MARGIN_MS);
		await set("r", "notes/a", since + 1);
		await set("q", "tasks/other-room", since + 1);

		const lists: Array<{ room: string } & StateListQuery> = [];
		// resync only lists: the store's list, recorded.
		const state = {
			list: (room: string, query: StateListQuery) => {
				lists.push({ room, ...query });
				return store.state.list(room, query);
			},
		} as unknown as StateStore;

		const watches = new Watches(8);
		const all = conn();
		const inner = conn();
		const notes = conn();
		watches.add(all, "r", "tasks/");
		watches.add(inner, "r", "tasks/00");
		watches.add(inner, "r", "tasks/0");
		watches.add(notes, "r", "notes/");

		const hinted = await watches.resync(state, since);
		const recent = Array.from({ length: 1_200 }, (_, i) => `tasks/${String(i).padStart(4, "0")}`);
		expect(all.keys.sort()).toEqual([...recent, "tasks/edge"].sort());
		// Inside its own two prefixes, once each although both match.
		expect(inner.keys.sort()).toEqual(recent.filter((k) => k.startsWith("tasks/0")));
		expect(notes.keys).toEqual(["notes/a"]);
		expect(hinted).toBe(1_201 + 1);
		// tasks/ (covering tasks/0 and tasks/00) in pages, notes/ in one; the other room has no watcher.
		expect(new Set(lists.map((l) => `${l.room} ${l.prefix}`))).toEqual(new Set(["r tasks/", "r notes/"]));
		expect(lists.filter((l) => l.prefix === "tasks/").length).toBe(3);
		await store.close();
	});
});
