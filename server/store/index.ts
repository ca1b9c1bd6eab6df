/**
 * Picks a Store backend from the `--db` value: `:memory:` for the in-memory store, `redis://` or
 * `rediss://` for Redis (several hubs can share it), anything else is the path of a SQLite file (created,
 * with its directory, if missing).
 */
import { MemoryStore } from "./memory.js";
import { isRedisUrl, RedisStore } from "./redis.js";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite.js";
import type { Store } from "./store.js";

export type * from "./store.js";
export { guardStorage, StorageError, StorageHealth } from "./store.js";
export { MemoryStore } from "./memory.js";
export { MIGRATIONS, SCHEMA_VERSION } from "./migrations.js";
export { isRedisUrl, RedisStore, type RedisStoreOptions } from "./redis.js";
export { MIN_WAL_MAX_BYTES, SqliteStore, type SqliteStoreOptions } from "./sqlite.js";

export const MEMORY_SPEC = ":memory:";

export type CreateStoreOptions = Omit<SqliteStoreOptions, "file">;

/** The store for `spec`, not yet opened: call `open()` before use. */
export function createStore(spec: string, opts: CreateStoreOptions = {}): Store {
	if (spec === MEMORY_SPEC) return new MemoryStore();
	if (isRedisUrl(spec)) return new RedisStore({ url: spec });
	return new SqliteStore({ ...opts, file: spec });
}
