// The full JSON Schema of cascade.yaml, composed from the sections each capability owns, and
// the types derived from it.
import { storageConfigSchema, bucketConfigSchema, type BucketConfig } from '../storage/config.ts';
import { eventsConfigSchema, type EventsConfig } from '../events/config.ts';
import { wikiConfigSchema } from '../wiki/config.ts';
import { contentConfigSchema } from '../content/config.ts';
import { changepropConfigSchema } from '../changeprop/config.ts';
import { originChangesSchema } from '../origins/mediawiki/feed-config.ts';
import { heatConfigSchema, resourceBackendsSchema, resourcesSchema, type ResourceDeclaration } from '../resources/config.ts';
import type { FromSchema } from './schema-types.ts';
import { section, closed, httpUrl, port } from './schema-fragments.ts';

const domainSchema = closed(
  {
    /** Base URL of the wiki origin (MediaWiki REST + action API); `changes`: how Cascade learns of its changes. */
    origin: closed({ url: httpUrl, changes: originChangesSchema }, ['url']),
    buckets: { type: 'object', default: {}, additionalProperties: bucketConfigSchema },
    /** Resources of this domain only (src/resources); a name here replaces the shared one. */
    resources: resourcesSchema,
  },
  ['origin'],
);

/** The settings of the whole server (the capabilities' sections are added below). */
const serverSettings = {
  listen: section({ host: { type: 'string', default: '127.0.0.1' }, port: port(7231) }),
  /** The HTTP edge: which proxies are trusted to name the client. */
  http: section({
    /** Addresses / CIDR ranges of reverse proxies whose forwarding headers are believed. */
    trusted_proxies: { type: 'array', items: { type: 'string' }, default: [] },
    /** The forwarding headers that name the client, in order of preference. */
    forwarded_headers: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { enum: ['x-forwarded-for', 'forwarded', 'x-real-ip'] },
      default: ['x-forwarded-for'],
    },
  }),
  /** `/metrics`: public, or internal callers and the admin token only (default). */
  metrics: section({ public: { type: 'boolean', default: false } }),
  /** Relative paths in the config resolve against this directory. */
  data_dir: { type: 'string', default: './data' },
  /** Datacenter name; topics are `{datacenter}.{stream}`. */
  datacenter: { type: 'string', pattern: '^[a-z0-9_-]+$', default: 'local' },
  /** Token for admin endpoints; also marks requests as internal via `x-cascade-internal`. */
  admin_token: { type: 'string', minLength: 16 },
  /** Domain used by `/api/rest_v1/` when the Host header names no configured domain. */
  default_domain: { type: 'string' },
} as const;

export const cascadeConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['domains', 'default_domain'],
  properties: {
    ...serverSettings,
    storage: storageConfigSchema,
    domains: { type: 'object', minProperties: 1, additionalProperties: domainSchema },
    events: eventsConfigSchema,
    wiki: wikiConfigSchema,
    content: contentConfigSchema,
    changeprop: changepropConfigSchema,
    /** Declared resources shared by every domain (src/resources/config.ts). */
    resources: resourcesSchema,
    /** Backends declared resources may request, besides each domain's origin. */
    resource_backends: resourceBackendsSchema,
    /** Read heat of `refresh: hot` resources. */
    resource_heat: heatConfigSchema,
  },
} as const;

// Sections whose type narrows what FromSchema reads (bucket retention, the log's backends) keep
// their owners' types.
export type DomainConfig = Omit<FromSchema<typeof domainSchema>, 'buckets' | 'resources'> & {
  buckets: Record<string, BucketConfig>;
  resources: Record<string, ResourceDeclaration>;
};

export type CascadeConfig = Omit<FromSchema<typeof cascadeConfigSchema>, 'domains' | 'events' | 'resources'> & {
  domains: Record<string, DomainConfig>;
  events: EventsConfig;
  resources: Record<string, ResourceDeclaration>;
};

