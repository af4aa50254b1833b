// Public surface of the content store.
import type { CascadeConfig } from '../config/index.ts';
import type { ContentStore } from './types.ts';

export type * from './types.ts';
export { StorageErrors } from './errors.ts';
export { bucketSpec } from './config.ts';

/** Opens the configured backend and declares every configured bucket. */
export async function openStore(_config: CascadeConfig): Promise<ContentStore> {
  throw new Error('not implemented yet: storage backends (issue 2)');
}
