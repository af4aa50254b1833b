// The built-in resources of the content API as declarations: the same block a user writes
// for a resource of their own (path, docs, storage, depends_on, refresh), with the producer
// written in code (src/content) instead of a backend request. The default config declares
// them in full; a config that names only some keys of a built-in (or leaves one out, as
// configs before declarations did) gets the rest from here, so old configs keep working.
//
// What a built-in's declaration decides: its bucket (`storage`); what re-renders it
// (`depends_on`, which gives the change-propagation rules; the default config declares the
// graph html ← revision, templates; summary, mobile-sections, mobile-html ← html); and its
// entry in the OpenAPI spec and docs portal (`summary`, `stability`, `tag`). What re-renders
// a built-in is never assumed: left undeclared, it is the old key's
// (`changeprop.dependencies`, checked and reported where it is written) or nothing. What it
// cannot change, because the code that produces it fixes it: its path, its request, its
// content type and its filters; a declaration that tries is a config error naming the
// setting (src/resources/declare.ts).
import type { BucketConfig } from '../storage/config.ts';

export interface BuiltinDefault {
  /** The public path of its main endpoint (none: a bucket only, e.g. page-meta). */
  path?: string;
  summary: string;
  stability: 'stable' | 'unstable' | 'experimental';
  tag: string;
  /** Stored built-ins: their bucket. Listings store nothing of their own. */
  storage?: BucketConfig;
}

const latest = (count: number, grace: number, compression: BucketConfig['compression'] = 'gzip'): BucketConfig => ({
  type: 'key_rev_value',
  compression,
  retention: { policy: 'latest', count, grace_seconds: grace },
});

export const BUILTIN_DEFAULTS: Record<string, BuiltinDefault> = {
  html: {
    path: '/page/html/{title}',
    summary: 'Get the latest HTML of a page (Parsoid HTML from storage; rendered on a miss)',
    stability: 'stable',
    tag: 'Page content',
    storage: latest(5, 86400, 'brotli'),
  },
  summary: {
    path: '/page/summary/{title}',
    summary: 'Get a summary of a page (derived from its stored HTML)',
    stability: 'stable',
    tag: 'Page content',
    storage: latest(1, 3600),
  },
  'mobile-sections': {
    path: '/page/mobile-sections/{title}',
    summary: 'Get the mobile sections of a page (derived from its stored HTML)',
    stability: 'unstable',
    tag: 'Mobile',
    storage: latest(1, 3600),
  },
  'mobile-html': {
    path: '/page/mobile-html/{title}',
    summary: 'Get the page content HTML for mobile reading (page content service shape, derived from its stored HTML)',
    stability: 'unstable',
    tag: 'Mobile',
    storage: latest(1, 3600),
  },
  'page-meta': {
    summary: "Each page's access state and revision facts (what every read checks)",
    stability: 'stable',
    tag: 'Page metadata',
    storage: { type: 'key_value', compression: 'none', retention: { policy: 'all' } },
  },
  title: {
    path: '/page/title/{title}',
    summary: 'Get the latest revision metadata of a page',
    stability: 'stable',
    tag: 'Page metadata',
  },
  revision: {
    path: '/page/revision/{revision}',
    summary: 'Get the metadata of one revision',
    stability: 'unstable',
    tag: 'Page metadata',
  },
};

/** Built-in names (their producers are in src/content). */
export const BUILTINS = Object.keys(BUILTIN_DEFAULTS);

/** The built-ins with an endpoint of their own and a bucket: what a built-in may depend on. */
export const RENDERED_BUILTINS = BUILTINS.filter((n) => BUILTIN_DEFAULTS[n]!.path !== undefined && BUILTIN_DEFAULTS[n]!.storage !== undefined);

/**
 * The built-ins derived from the stored html and keyed by its render id: a stored derivation
 * of an older html is never served, so they may refresh `hot` or `lazy` like a declared
 * resource (html itself, every other representation's source, re-renders eagerly).
 */
export const DERIVED_BUILTINS = ['summary', 'mobile-sections', 'mobile-html'];

/**
 * Buckets the content API keeps that are not a resource: renders of
 * `transform/wikitext/to/html` with `stash: true` (the edit stash), kept a day.
 */
export const IMPLICIT_BUCKETS: Record<string, BucketConfig> = {
  stash: { type: 'key_rev_value', compression: 'gzip', retention: { policy: 'ttl', ttl_seconds: 86400 } },
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Fills the built-ins' declarations of a raw (not yet validated) config: a built-in missing
 * from the shared `resources:` is added, and the keys a built-in's declaration leaves out
 * (shared or per domain) come from its default. Runs before validation, so the schema's
 * generic defaults (meant for a user's own resources) never replace a built-in's.
 */
export function withBuiltinDeclarations(raw: unknown): void {
  if (!isObject(raw)) return;
  if (raw.resources === undefined) raw.resources = {};
  const fill = (resources: unknown, addMissing: boolean) => {
    if (!isObject(resources)) return; // the schema reports it
    for (const [name, def] of Object.entries(BUILTIN_DEFAULTS)) {
      const decl = resources[name];
      if (decl === undefined && !addMissing) continue;
      if (decl !== undefined && !isObject(decl)) continue;
      const d = (resources[name] = decl ?? {}) as Record<string, unknown>;
      d.kind ??= 'builtin';
      if (d.kind !== 'builtin') continue; // declare.ts names the mistake
      for (const [k, v] of Object.entries(def)) if (d[k] === undefined) d[k] = structuredClone(v);
    }
  };
  fill(raw.resources, true);
  if (isObject(raw.domains)) for (const d of Object.values(raw.domains)) if (isObject(d) && d.resources !== undefined) fill(d.resources, false);
}
