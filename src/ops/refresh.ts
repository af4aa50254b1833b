// `cascade refresh`: re-render (or warm) a domain's pages after a renderer deploy. The page list
// comes from the origin's action API (list=allpages, with continuation, namespace by namespace,
// in title order); each page gets an internal `Cache-Control: no-cache` GET of /page/html
// (mode rerender: the content API renders again and stores it, and change propagation re-derives
// summary and mobile-sections) or a plain GET (mode warm: a stored render is served, a missing
// one rendered). Requests are paced (`ratePerSec`) and run `concurrency` at a time. A state file
// records the position up to which every page is done (the low-water mark of the in-order list),
// so `--resume` after an interruption continues there without redoing finished pages.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { CascadeError } from '../errors/index.ts';
import { OpsErrors } from './cli-errors.ts';
import type { Progress } from './progress.ts';
import { backoff, parseRetryAfter } from '../util/backoff.ts';

export type RefreshMode = 'rerender' | 'warm';

export interface PagePosition {
  ns: number;
  /** DB key (underscores) within the namespace, as list=allpages orders and continues by. */
  key: string;
}

export interface RefreshState {
  version: 1;
  domain: string;
  mode: RefreshMode;
  pattern: string | null;
  namespaces: number[];
  /** Every matching page up to and including this one is done. */
  position: PagePosition | null;
  /** Pages up to `position` (failed ones included). */
  done: number;
  failed: { title: string; ns: number; key: string; status: number | string }[];
  complete: boolean;
  started_at: string;
  updated_at: string;
}

export interface RefreshOptions {
  /** Cascade's base URL (a running server, or the in-process app). */
  cascadeUrl: string;
  /** The domain's origin (its action API at /w/api.php). */
  originUrl: string;
  domain: string;
  mode: RefreshMode;
  /** A glob (`*`, `?`) over titles with spaces or underscores, or /regex/flags. */
  pattern?: string;
  /** Namespaces, default [0]. */
  namespaces?: number[];
  /** Requests started per second (default unlimited). */
  ratePerSec?: number;
  concurrency?: number;
  stateFile?: string;
  resume?: boolean;
  /** `x-cascade-internal` token, needed for rerender when Cascade is not on loopback. */
  internalToken?: string;
  progress?: Progress;
  signal?: AbortSignal;
  /** Retries of a 429/503/network error per page (default 3), after Retry-After or a backoff. */
  retries?: number;
}

export interface RefreshResult {
  state: RefreshState;
  /** Pages requested in this run. */
  requested: number;
  /** The run stopped on the signal before the list was done. */
  interrupted: boolean;
}

/** Compiles a title pattern: /regex/flags, else a glob where `*` and `?` are wildcards and space = underscore. */
export function titleMatcher(pattern: string | undefined): (title: string) => boolean {
  if (!pattern) return () => true;
  const re = /^\/(.+)\/([a-z]*)$/.exec(pattern);
  if (re) {
    let rx: RegExp;
    try {
      rx = new RegExp(re[1], re[2]);
    } catch (e) {
      throw new CascadeError(OpsErrors.refreshPattern, `${pattern}: ${(e as Error).message}`);
    }
    return (t) => rx.test(t) || rx.test(t.replace(/ /g, '_'));
  }
  const glob = pattern.replace(/_/g, ' ');
  const rx = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'u');
  return (t) => rx.test(t.replace(/_/g, ' '));
}

interface ListedPage extends PagePosition {
  title: string;
}

/** The origin's pages of one namespace in title order, from `after` (exclusive). */
async function* allPages(originUrl: string, ns: number, after: string | undefined, signal?: AbortSignal): AsyncGenerator<ListedPage> {
  let cont: string | undefined = after;
  let first = true;
  for (;;) {
    const u = new URL('/w/api.php', originUrl);
    u.search = new URLSearchParams({ action: 'query', list: 'allpages', apnamespace: String(ns), aplimit: '500', format: 'json', formatversion: '2', ...(cont ? { [first && after ? 'apfrom' : 'apcontinue']: cont } : {}) }).toString();
    let body: { query?: { allpages?: { ns: number; title: string }[] }; continue?: { apcontinue?: string }; error?: { info?: string } };
    try {
      const res = await fetch(u, { signal });
      body = (await res.json()) as typeof body;
      if (!res.ok || body.error) throw new Error(`HTTP ${res.status}: ${body.error?.info ?? 'no page list'}`);
    } catch (e) {
      if (signal?.aborted) return;
      throw new CascadeError(OpsErrors.refreshOrigin, `${u.href}: ${(e as Error).message}`, { cause: e });
    }
    for (const p of body.query?.allpages ?? []) {
      const key = dbKey(p.title, p.ns);
      if (first && key === after) continue; // apfrom is inclusive
      yield { ns: p.ns, key, title: p.title };
    }
    first = false;
    cont = body.continue?.apcontinue;
    if (!cont) return;
  }
}

// list=allpages gives prefixed titles with spaces; the position is the DB key within the namespace.
function dbKey(title: string, ns: number): string {
  const t = ns === 0 ? title : title.slice(title.indexOf(':') + 1);
  return t.replace(/ /g, '_');
}

function loadState(file: string): RefreshState | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as RefreshState;
  } catch (e) {
    throw new CascadeError(OpsErrors.refreshState, `${file}: not JSON (${(e as Error).message})`);
  }
}

function saveState(file: string, state: RefreshState): void {
  state.updated_at = new Date().toISOString();
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n');
  renameSync(`${file}.tmp`, file); // never a half-written state
}

const before = (a: PagePosition, b: PagePosition | null) => !b || a.ns < b.ns || (a.ns === b.ns && a.key <= b.key);

/** Counts the matching pages (for the progress total), and how many lie at or before `position`. */
export async function countPages(opts: Pick<RefreshOptions, 'originUrl' | 'pattern' | 'namespaces' | 'signal'>, position: PagePosition | null): Promise<{ total: number; before: number }> {
  const match = titleMatcher(opts.pattern);
  let total = 0;
  let earlier = 0;
  for (const ns of opts.namespaces ?? [0]) {
    for await (const p of allPages(opts.originUrl, ns, undefined, opts.signal)) {
      if (!match(p.title)) continue;
      total++;
      if (position && before(p, position)) earlier++;
    }
  }
  return { total, before: earlier };
}

export async function refresh(opts: RefreshOptions): Promise<RefreshResult> {
  const namespaces = opts.namespaces ?? [0];
  const match = titleMatcher(opts.pattern);
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const retries = opts.retries ?? 3;
  const now = new Date().toISOString();
  let state: RefreshState = { version: 1, domain: opts.domain, mode: opts.mode, pattern: opts.pattern ?? null, namespaces, position: null, done: 0, failed: [], complete: false, started_at: now, updated_at: now };
  if (opts.stateFile) {
    const old = loadState(opts.stateFile);
    if (old && opts.resume) {
      const same = old.domain === state.domain && old.mode === state.mode && old.pattern === state.pattern && JSON.stringify(old.namespaces) === JSON.stringify(namespaces);
      if (!same) throw new CascadeError(OpsErrors.refreshState, `${opts.stateFile} is a refresh of ${old.domain} (${old.mode}, pattern ${old.pattern ?? 'all'}, namespaces ${old.namespaces.join(',')}); resume it with the same options or remove it`);
      state = old;
      if (state.complete) return { state, requested: 0, interrupted: false };
      // Pages past the position are done again; so are their failures.
      state.failed = state.failed.filter((f) => before(f, state.position));
    } else if (old && !old.complete) {
      throw new CascadeError(OpsErrors.refreshState, `${opts.stateFile} holds an unfinished refresh (${old.done} pages done); --resume continues it, or remove the file to start over`);
    }
  }

  if (opts.progress) {
    const c = await countPages({ ...opts, namespaces }, state.position);
    opts.progress.setTotal(c.total);
    opts.progress.setStart(c.before);
  }

  // Pacing: request i may start at start + i / rate.
  const interval = opts.ratePerSec ? 1000 / opts.ratePerSec : 0;
  let nextSlot = Date.now();
  const paced = async () => {
    if (!interval) return;
    const t = Date.now();
    const at = Math.max(t, nextSlot);
    nextSlot = at + interval;
    if (at > t) await sleep(at - t, opts.signal);
  };

  // Positions complete out of order; the saved position is the last one with every earlier one done.
  const inFlight: { page: ListedPage; done: boolean }[] = [];
  let requested = 0;
  let lastSave = 0;
  const advance = () => {
    while (inFlight.length && inFlight[0].done) {
      const e = inFlight.shift()!;
      state.position = { ns: e.page.ns, key: e.page.key };
      state.done++;
    }
    if (opts.stateFile && Date.now() - lastSave >= 1000) {
      lastSave = Date.now();
      saveState(opts.stateFile, state);
    }
  };

  const headers: Record<string, string> = opts.mode === 'rerender' ? { 'cache-control': 'no-cache' } : {};
  if (opts.internalToken) headers['x-cascade-internal'] = opts.internalToken;
  const base = opts.cascadeUrl.replace(/\/$/, '');
  // A 429/503/network error is retried after the server's Retry-After or a doubling delay.
  const retryDelay = backoff({ kind: 'exponential', initialMs: 250, maxMs: 60_000 });
  const one = async (page: ListedPage): Promise<number | string> => {
    // redirect=false: a redirect page itself, not its target (that has its own turn in the list).
    const url = `${base}/${opts.domain}/v1/page/html/${encodeURIComponent(page.title.replace(/ /g, '_'))}?redirect=false`;
    for (let attempt = 0; ; attempt++) {
      let status: number | string;
      let retryAfter = 0;
      try {
        const res = await fetch(url, { headers, signal: opts.signal, redirect: 'manual' });
        await res.arrayBuffer();
        status = res.status;
        retryAfter = parseRetryAfter(res.headers.get('retry-after')) ?? 0;
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        status = (e as Error).message;
      }
      const transient = typeof status === 'string' || status === 429 || status === 503;
      if (!transient || attempt >= retries) return status;
      await sleep(retryDelay.delay(attempt, { retryAfterMs: retryAfter }), opts.signal);
    }
  };

  const pages = (async function* () {
    const resumeAt = state.position;
    for (const ns of namespaces) {
      if (resumeAt && ns < resumeAt.ns) continue;
      const after = resumeAt && ns === resumeAt.ns ? resumeAt.key : undefined;
      for await (const p of allPages(opts.originUrl, ns, after, opts.signal)) if (match(p.title)) yield p;
    }
  })();

  const worker = async () => {
    for (;;) {
      if (opts.signal?.aborted) return;
      const next = await pages.next();
      if (next.done) return;
      const entry = { page: next.value, done: false };
      inFlight.push(entry);
      try {
        await paced();
        requested++;
        const status = await one(next.value);
        if (typeof status === 'string' || status >= 400) state.failed.push({ title: next.value.title, ns: next.value.ns, key: next.value.key, status });
      } catch (e) {
        // Not done: it holds the saved position before it, so --resume does it again.
        if (opts.signal?.aborted) return;
        throw e;
      }
      opts.progress?.tick();
      entry.done = true;
      advance();
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    advance();
    state.complete = !opts.signal?.aborted && inFlight.length === 0;
    if (opts.stateFile) saveState(opts.stateFile, state);
  }
  return { state, requested, interrupted: !state.complete };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
