// The contract suite (suite.ts) against a real MediaWiki 1.39 (core development routes on, so the
// wikitext transform exists), with Cascade in front of it.
import { after, before, describe } from 'node:test';
import { requireMediaWiki, type MediaWiki } from '../helpers/mediawiki.ts';
import { startCascade, type CascadeOnly } from '../content/harness.ts';
import { DEFAULT_RESOURCES_YAML } from '../helpers/default-resources.ts';
import { contractSuite, TEST_PAGES, type ContractTarget } from './suite.ts';

const D = 'mw.test';

describe('contract: x-amples and golden responses (MediaWiki 1.39)', () => {
  let mw: MediaWiki | undefined;
  let c: CascadeOnly | undefined;
  let target: ContractTarget | undefined;
  const latest = new Map<string, number>();
  before(async (t) => {
    mw = await requireMediaWiki(t as never, { coreDevRoutes: true });
    if (!mw) return;
    c = await startCascade(mw.url, D, '', undefined, DEFAULT_RESOURCES_YAML);
    for (const [title, text] of Object.entries(TEST_PAGES)) {
      latest.set(title, (await mw.edit(title, text, 'contract suite')).revid);
      // The x-amples read "from storage": the page's render is stored first, as production's are.
      await (await c.fetch(`/${D}/v1/page/html/${encodeURIComponent(title).replace(/%3A/g, ':')}`)).text();
    }
    const cascade = c;
    target = { fetch: cascade.fetch, domain: D, latestRevision: async (title) => latest.get(title) ?? 0 };
  });
  after(async () => {
    await c?.close();
    await mw?.close();
  });
  contractSuite('MediaWiki 1.39', () => target);
});
