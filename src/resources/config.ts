// Config of declared resources: `resources:` (shared by every domain) and
// `domains.<d>.resources` (that domain only; a name there replaces the shared one).
//
//   resources:
//     media-list:
//       kind: stored                       # stored | proxy | builtin
//       path: /page/media-list/{title}
//       request: { uri: '/w/rest.php/v1/page/{title}/links/media' }
//       shape: pcs-media-list              # optional: a named shape of the answer (shapes.ts)
//       storage: { type: key_rev_value, compression: gzip, retention: { policy: latest, count: 1, grace_seconds: 3600 } }
//       depends_on: [revision]
//       refresh: eager                     # eager | hot | lazy
//
// Owned by src/resources; src/config/schema.ts composes it into the full schema.
import { SHAPES } from './shapes.ts';
import { bucketConfigSchema, type BucketConfig } from '../storage/config.ts';
import type { FromSchema } from '../config/schema-types.ts';
import { section, closed, int, httpUrl, stringMap, lowerName } from '../config/schema-fragments.ts';

export const RESOURCE_NAME = '^[a-z][a-z0-9-]{0,62}$';

const backendName = { type: 'string', pattern: '^[a-z][a-z0-9_-]*$' } as const;

const requestSchema = closed(
  {
    /** `origin` (the domain's wiki, default) or a name under `resource_backends`. */
    backend: { ...backendName, default: 'origin' },
    method: { enum: ['GET'], default: 'GET' },
    /** A path (and query) template on the backend: it cannot name a host. */
    uri: { type: 'string', minLength: 1 },
    headers: stringMap,
    /** Query parameters copied from the client's request to the backend request (proxy). */
    pass_query: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' }, default: [] },
  },
  ['uri'],
);

export const resourceSchema = closed({
  kind: { enum: ['stored', 'proxy', 'builtin'], default: 'stored' },
  /** Path under the API root (`/{domain}/v1`, `/api/rest_v1`), e.g. `/page/media-list/{title}`. */
  path: { type: 'string', pattern: '^/[^?#]*$' },
  summary: { type: 'string', default: '' },
  stability: { enum: ['stable', 'unstable', 'experimental'], default: 'experimental' },
  tag: { type: 'string', default: 'Declared resources' },
  request: requestSchema,
  /** stored: derived from another stored resource instead of a backend request. */
  derive: closed(
    {
      from: lowerName,
      // A value template over { source (the parsed source render), title, domain, rev }.
      body: {},
    },
    ['from', 'body'],
  ),
  /** stored: a named shape applied to the backend's answer before it is stored (shapes.ts). */
  shape: { enum: Object.keys(SHAPES) },
  /** Response content type (stored: what is stored and served; proxy: overrides the backend's). */
  content_type: { type: 'string', minLength: 1 },
  /** Response headers set on every answer (proxy: over the backend's). */
  headers: stringMap,
  /** Cache-Control of the answer (stored default: the content API's). */
  cache_control: { type: 'string' },
  /** stored: its bucket, declared at start. */
  storage: { ...bucketConfigSchema, default: { type: 'key_rev_value', compression: 'gzip', retention: { policy: 'latest', count: 1, grace_seconds: 3600 } } },
  /** stored and builtin: what a change of makes it re-render (`revision`, `templates`, another resource). */
  depends_on: { type: 'array', items: lowerName, default: [] },
  refresh: { enum: ['eager', 'hot', 'lazy'], default: 'eager' },
  /** Filters. */
  normalize_title: { type: 'boolean', default: true },
  access_check: { type: 'boolean', default: true },
  /** The rate class its reads count against (default: by method, as every content endpoint). */
  rate_class: { enum: ['read', 'render', 'write'] },
});

export const resourcesSchema = {
  type: 'object',
  default: {},
  propertyNames: { pattern: RESOURCE_NAME },
  additionalProperties: resourceSchema,
} as const;

const backendSchema = closed({ url: httpUrl }, ['url']);

export const resourceBackendsSchema = {
  type: 'object',
  default: {},
  propertyNames: { ...backendName, not: { const: 'origin' } },
  additionalProperties: backendSchema,
} as const;

/** `resource_heat:` read heat of `refresh: hot` resources. */
export const heatConfigSchema = section({
  /** A page read within this window re-renders eagerly on a change. */
  window_seconds: int(1, 3600),
  /** Pages tracked at most (per process; the least recently read are forgotten first). */
  max_pages: int(1, 100000),
  /** Reads within the window that make a page hot (1: any read). */
  min_reads: int(1, 2, 16),
});

export type BackendRequest = FromSchema<typeof requestSchema>;
// `storage` keeps the bucket's narrowed retention (BucketConfig).
export type ResourceDeclaration = Omit<FromSchema<typeof resourceSchema>, 'storage'> & { storage: BucketConfig };
export type ResourceKind = ResourceDeclaration['kind'];
export type RefreshPolicy = ResourceDeclaration['refresh'];
export type Stability = ResourceDeclaration['stability'];
export type ResourceBackend = FromSchema<typeof backendSchema>;
export type HeatConfig = FromSchema<typeof heatConfigSchema>;
