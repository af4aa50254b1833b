// Public surface of the content store.
import type { CascadeConfig } from '../config/index.ts';
import { dataPath } from '../config/index.ts';
import { bucketSpec } from './config.ts';
import { PostgresStore } from './postgres.ts';
import { SqliteStore } from './sqlite.ts';
import type { ContentStore } from './types.ts';
import type { Clock } from '../util/clock.ts';

export type * from './types.ts';
export { StorageErrors } from './errors.ts';
export { STORAGE_LIMITS } from './types.ts';
export { bucketSpec } from './config.ts';
export { SqliteStore, type SqliteOptions } from './sqlite.ts';
export { PostgresStore, type PostgresOptions } from './postgres.ts';
export { mountStorage } from './http.ts';

/** Opens the configured backend and declares every configured bucket. */
export async function openStore(config: CascadeConfig, opts: { clock?: Clock } = {}): Promise<ContentStore> {
  const sc = config.storage;
  const historyCacheBytes = (sc.history_cache_mb ?? 32) * 1024 * 1024;
  const store: ContentStore =
    sc.backend === 'postgres'
      ? await PostgresStore.open({ url: sc.postgres.url, schema: sc.postgres.schema, poolSize: sc.postgres.pool_size, historyCacheBytes, ...opts })
      : SqliteStore.open({ path: dataPath(config, sc.sqlite.path), synchronous: sc.sqlite.synchronous, historyCacheBytes, ...opts });
  try {
    for (const [domain, d] of Object.entries(config.domains)) {
      for (const [name, b] of Object.entries(d.buckets ?? {})) await store.declareBucket(bucketSpec(domain, name, b));
    }
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}
