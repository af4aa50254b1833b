// Shared set-up for the example wiki tests: a wiki on a free port with its own temp database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWiki, type StartWikiOptions, type WikiHandle } from '../../src/wiki/index.ts';

export interface TestWiki extends WikiHandle {
  dir: string;
  get(path: string, init?: RequestInit): Promise<Response>;
  json<T = Record<string, unknown>>(path: string, init?: RequestInit): Promise<{ status: number; body: T; res: Response }>;
  api<T = Record<string, unknown>>(params: Record<string, string>, post?: boolean): Promise<T>;
  put(title: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
}

export async function testWiki(opts: Partial<StartWikiOptions> = {}): Promise<TestWiki> {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-wiki-'));
  const h = await startWiki({ dbPath: join(dir, 'wiki.sqlite'), port: 0, testHooks: true, ...opts });
  const get = (path: string, init?: RequestInit) => fetch(h.url + path, { redirect: 'manual', ...init });
  const tw: TestWiki = {
    ...h,
    dir,
    get,
    async json<T>(path: string, init?: RequestInit) {
      const res = await get(path, init);
      return { status: res.status, body: (await res.json()) as T, res };
    },
    async api<T>(params: Record<string, string>, post = false) {
      const qs = new URLSearchParams({ format: 'json', formatversion: '2', ...params });
      const res = post
        ? await fetch(`${h.url}/w/api.php`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: qs.toString() })
        : await fetch(`${h.url}/w/api.php?${qs}`);
      return (await res.json()) as T;
    },
    async put(title: string, body: unknown) {
      const res = await fetch(`${h.url}/w/rest.php/v1/page/${encodeURIComponent(title)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async close() {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return tw;
}

/** A parsed JSON response; its shape is what the assertions check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- responses are probed field by field
export type Json = any;
