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

export type ResourceKind = 'stored' | 'proxy' | 'builtin';
export type RefreshPolicy = 'eager' | 'hot' | 'lazy';
export type Stability = 'stable' | 'unstable' | 'experimental';

export interface BackendRequest {
  /** `origin` (the domain's wiki, default) or a name under `resource_backends`. */
  backend: string;
  method: 'GET';
  /** A path (and query) template on the backend: it cannot name a host. */
  uri: string;
  headers: Record<string, string>;
  /** Query parameters copied from the client's request to the backend request (proxy). */
  pass_query: string[];
}

export interface ResourceDeclaration {
  kind: ResourceKind;
  /** Path under the API root (`/{domain}/v1`, `/api/rest_v1`), e.g. `/page/media-list/{title}`. */
  path?: string;
  summary: string;
  stability: Stability;
  tag: string;
  request?: BackendRequest;
  /** stored: derived from another stored resource instead of a backend request. */
  derive?: { from: string; body: unknown };
  /** stored: a named shape applied to the backend's answer before it is stored (shapes.ts). */
  shape?: string;
  /** Response content type (stored: what is stored and served; proxy: overrides the backend's). */
  content_type?: string;
  /** Response headers set on every answer (proxy: over the backend's). */
  headers: Record<string, string>;
  /** Cache-Control of the answer (stored default: the content API's). */
  cache_control?: string;
  /** stored: its bucket, declared at start. */
  storage: BucketConfig;
  /** stored and builtin: what a change of makes it re-render (`revision`, `templates`, another resource). */
  depends_on: string[];
  refresh: RefreshPolicy;
  /** Filters. */
  normalize_title: boolean;
  access_check: boolean;
}

export interface ResourceBackend {
  url: string;
}


/** `resource_heat:` read heat of `refresh: hot` resources. */
export interface HeatConfig {
  /** A page read within this window re-renders eagerly on a change. */
  window_seconds: number;
  /** Pages tracked at most (per process; the least recently read are forgotten first). */
  max_pages: number;
  /** Reads within the window that make a page hot (1: any read). */
  min_reads: number;
}

export const RESOURCE_NAME = '^[a-z][a-z0-9-]{0,62}$';

export const resourceSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    kind: { enum: ['stored', 'proxy', 'builtin'], default: 'stored' },
    path: { type: 'string', pattern: '^/[^?#]*$' },
    summary: { type: 'string', default: '' },
    stability: { enum: ['stable', 'unstable', 'experimental'], default: 'experimental' },
    tag: { type: 'string', default: 'Declared resources' },
    request: {
      type: 'object',
      additionalProperties: false,
      required: ['uri'],
      properties: {
        backend: { type: 'string', pattern: '^[a-z][a-z0-9_-]*$', default: 'origin' },
        method: { enum: ['GET'], default: 'GET' },
        uri: { type: 'string', minLength: 1 },
        headers: { type: 'object', additionalProperties: { type: 'string' }, default: {} },
        pass_query: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' }, default: [] },
      },
    },
    derive: {
      type: 'object',
      additionalProperties: false,
      required: ['from', 'body'],
      properties: {
        from: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
        // A value template over { source (the parsed source render), title, domain, rev }.
        body: {},
      },
    },
    shape: { enum: Object.keys(SHAPES) },
    content_type: { type: 'string', minLength: 1 },
    headers: { type: 'object', additionalProperties: { type: 'string' }, default: {} },
    cache_control: { type: 'string' },
    storage: { ...bucketConfigSchema, default: { type: 'key_rev_value', compression: 'gzip', retention: { policy: 'latest', count: 1, grace_seconds: 3600 } } },
    depends_on: { type: 'array', items: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' }, default: [] },
    refresh: { enum: ['eager', 'hot', 'lazy'], default: 'eager' },
    normalize_title: { type: 'boolean', default: true },
    access_check: { type: 'boolean', default: true },
  },
} as const;

export const resourcesSchema = {
  type: 'object',
  default: {},
  propertyNames: { pattern: RESOURCE_NAME },
  additionalProperties: resourceSchema,
} as const;

export const resourceBackendsSchema = {
  type: 'object',
  default: {},
  propertyNames: { pattern: '^[a-z][a-z0-9_-]*$', not: { const: 'origin' } },
  additionalProperties: {
    type: 'object',
    additionalProperties: false,
    required: ['url'],
    properties: { url: { type: 'string', pattern: '^https?://' } },
  },
} as const;

export const heatConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    window_seconds: { type: 'integer', minimum: 1, default: 3600 },
    max_pages: { type: 'integer', minimum: 1, default: 100000 },
    min_reads: { type: 'integer', minimum: 1, maximum: 16, default: 2 },
  },
} as const;
