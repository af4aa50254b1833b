// The origin a client contract suite runs against: the seeded example wiki (domain wiki.test,
// in a temp dir) or a real MediaWiki.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startWiki } from '../../src/wiki/index.ts';
import { requireMediaWiki } from './mediawiki.ts';

export type OriginKind = 'example wiki' | 'real MediaWiki';

export interface TestOrigin {
  url: string;
  close(): Promise<void>;
}

/** Undefined when no MediaWiki could be set up (a loud skip outside CI). */
export async function startTestOrigin(t: TestContext, kind: OriginKind): Promise<TestOrigin | undefined> {
  if (kind === 'real MediaWiki') return requireMediaWiki(t);
  const dir = mkdtempSync(join(tmpdir(), 'cascade-origin-'));
  const wiki = await startWiki({ dbPath: join(dir, 'wiki.sqlite'), port: 0, domain: 'wiki.test', seed: true });
  return {
    url: wiki.url,
    async close() {
      await wiki.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
