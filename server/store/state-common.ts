/**
 * What every StateStore backend shares: the byte measure, the room bounds, and (for the backends that
 * compute in TypeScript) appending to a stored JSON array. Redis does the same in Lua (redis-state.ts) and
 * the shared suite holds both to the same results.
 */
import type { StateLimits } from "./store.js";

export const utf8Bytes = (text: string): number => Buffer.byteLength(text, "utf8");

/** A room's totals, for its bounds. */
export interface RoomTotals {
	keys: number;
	bytes: number;
}

/**
 * Why writing a value of `newSize` bytes over `old` (null: a new key) would break the room's bounds, or
 * null. A write that does not grow the room is always allowed, so a room over its bounds (they were lowered)
 * can still shrink.
 */
export function roomLimitReason(room: RoomTotals, old: { size: number } | null, newSize: number, limits: StateLimits): string | null {
	if (!old && room.keys + 1 > limits.maxKeys) return keysLimitReason(room.keys, limits);
	const bytes = room.bytes - (old?.size ?? 0) + newSize;
	if (newSize > (old?.size ?? 0) && bytes > limits.maxRoomBytes) return bytesLimitReason(bytes, limits);
	return null;
}

export const keysLimitReason = (keys: number, limits: StateLimits) =>
	`The room holds ${keys} state keys, the most this hub allows (${limits.maxKeys}); delete keys you no longer need first.`;

export const bytesLimitReason = (bytes: number, limits: StateLimits) =>
	`The room's state would hold ${bytes} bytes, over this hub's ${limits.maxRoomBytes}-byte limit; delete or shrink keys first.`;

/**
 * `arrayJson` (canonical JSON of an array, or null for a missing key) with `itemJson` appended, then cut to
 * the newest `maxItems`. Null if the stored value is not an array.
 */
export function appendToArray(arrayJson: string | null, itemJson: string, maxItems?: number): { json: string; length: number; dropped: number } | null {
	const items: unknown = arrayJson === null ? [] : JSON.parse(arrayJson);
	if (!Array.isArray(items)) return null;
	items.push(JSON.parse(itemJson));
	const dropped = maxItems !== undefined && items.length > maxItems ? items.length - maxItems : 0;
	const kept = dropped > 0 ? items.slice(dropped) : items;
	return { json: JSON.stringify(kept), length: kept.length, dropped };
}
