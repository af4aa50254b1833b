// Public surface of the content store.
import { resolve } from 'node:path';
import type { StorageConfig } from './config.ts';
import { PostgresStore } from './postgres.ts';
import { SqliteStore } from './sqlite.ts';
import type { BucketSpec, ContentStore } from './types.ts';
import type { Clock } from '../util/clock.ts';

export type * from './types.ts';
export { StorageErrors } from './errors.ts';
export { STORAGE_LIMITS } from './types.ts';
export { bucketSpec, bucketsOf, storageConfigSchema, bucketConfigSchema, type StorageConfig, type BucketConfig, type BucketConfigInput } from './config.ts';
export { SqliteStore, type SqliteOptions } from './sqlite.ts';
export { PostgresStore, type PostgresOptions } from './postgres.ts';
export { mountStorage } from './http.ts';

/** What the store takes from outside its own section (`storage:`). */
export interface StoreShared {
  /** A relative `sqlite.path` resolves against it. */
  dataDir: string;
  /** Buckets declared at open (`domains.<d>.buckets`, with the declared resources' among them). */
  buckets: BucketSpec[];
  clock?: Clock;
}

/** Opens the configured backend and declares the given buckets. */
export async function openStore(sc: StorageConfig, shared: StoreShared): Promise<ContentStore> {
  const historyCacheBytes = sc.history_cache_mb * 1024 * 1024;
  const clock = shared.clock ? { clock: shared.clock } : {};
  const store: ContentStore =
    sc.backend === 'postgres'
      ? await PostgresStore.open({ url: sc.postgres.url, schema: sc.postgres.schema, poolSize: sc.postgres.pool_size, historyCacheBytes, ...clock })
      : SqliteStore.open({ path: resolve(shared.dataDir, sc.sqlite.path), synchronous: sc.sqlite.synchronous, historyCacheBytes, ...clock });
  try {
    for (const b of shared.buckets) await store.declareBucket(b);
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}
