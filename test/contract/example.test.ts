// The contract suite (suite.ts) against the embedded default: Cascade in front of the example wiki.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../content/harness.ts';
import { DEFAULT_RESOURCES_YAML } from '../helpers/default-resources.ts';
import { contractSuite, TEST_PAGES, type ContractTarget } from './suite.ts';

describe('contract: x-amples and golden responses (example wiki)', () => {
  let h: Harness;
  let target: ContractTarget | undefined;
  const latest = new Map<string, number>();
  before(async () => {
    h = await startHarness('', DEFAULT_RESOURCES_YAML);
    for (const [title, text] of Object.entries(TEST_PAGES)) {
      const r = await h.fetch(`/api/rest_v1/page/wikitext/${encodeURIComponent(title)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ wikitext: text, comment: 'contract suite' }).toString(),
      });
      const body = (await r.json()) as { newrevid: number };
      assert.ok(r.status === 200 || r.status === 201, JSON.stringify(body));
      latest.set(title, body.newrevid);
      // The x-amples read "from storage": the page's render is stored first, as production's are.
      await (await h.fetch(`/example.wiki/v1/page/html/${encodeURIComponent(title).replace(/%3A/g, ':')}`)).text();
    }
    target = { fetch: h.fetch, domain: 'example.wiki', latestRevision: async (t) => latest.get(t) ?? 0 };
  });
  after(async () => {
    await h.close();
  });
  contractSuite('example wiki', () => target);
});
