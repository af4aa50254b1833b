// The full JSON Schema of cascade.yaml, composed from the sections each capability owns.
import { storageConfigSchema, bucketConfigSchema, type StorageConfig, type BucketConfig } from '../storage/config.ts';
import { eventsConfigSchema, type EventsConfig } from '../events/config.ts';
import { wikiConfigSchema, type WikiConfig } from '../wiki/config.ts';
import { contentConfigSchema, type ContentConfig } from '../content/config.ts';
import { changepropConfigSchema, type ChangepropConfig } from '../changeprop/config.ts';
import { originChangesSchema, type OriginChangesConfig } from '../origins/mediawiki/feed-config.ts';
import { heatConfigSchema, resourceBackendsSchema, resourcesSchema, type HeatConfig, type ResourceBackend, type ResourceDeclaration } from '../resources/config.ts';

export interface DomainConfig {
  /** Base URL of the wiki origin (MediaWiki REST + action API). */
  /** `changes`: how Cascade learns of the wiki's changes (src/origins/mediawiki/feed-config.ts). */
  origin: { url: string; changes?: OriginChangesConfig };
  buckets: Record<string, BucketConfig>;
  /** Resources of this domain only (src/resources); a name here replaces the shared one. */
  resources?: Record<string, ResourceDeclaration>;
}

export interface HttpEdgeConfig {
  /** Addresses / CIDR ranges of reverse proxies whose forwarding headers are believed. */
  trusted_proxies: string[];
  /** The forwarding headers that name the client, in order of preference. */
  forwarded_headers: ('x-forwarded-for' | 'forwarded' | 'x-real-ip')[];
}

export interface CascadeConfig {
  listen: { host: string; port: number };
  /** Relative paths in the config resolve against this directory. */
  data_dir: string;
  /** Datacenter name; topics are `{datacenter}.{stream}`. */
  datacenter: string;
  /** Token for admin endpoints; also marks requests as internal via `x-cascade-internal`. */
  admin_token?: string;
  /** The HTTP edge: which proxies are trusted to name the client. */
  http: HttpEdgeConfig;
  /** `/metrics`: public, or internal callers and the admin token only (default). */
  metrics: { public: boolean };
  /** Domain used by `/api/rest_v1/` when the Host header names no configured domain. */
  default_domain: string;
  storage: StorageConfig;
  domains: Record<string, DomainConfig>;
  events: EventsConfig;
  wiki: WikiConfig;
  content: ContentConfig;
  changeprop: ChangepropConfig;
  /** Declared resources shared by every domain (src/resources/config.ts). */
  resources: Record<string, ResourceDeclaration>;
  /** Backends declared resources may request, besides each domain's origin. */
  resource_backends: Record<string, ResourceBackend>;
  /** Read heat of `refresh: hot` resources. */
  resource_heat: HeatConfig;
}

export const cascadeConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['domains', 'default_domain'],
  properties: {
    listen: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 7231 },
      },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        trusted_proxies: { type: 'array', items: { type: 'string' }, default: [] },
        forwarded_headers: {
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          items: { enum: ['x-forwarded-for', 'forwarded', 'x-real-ip'] },
          default: ['x-forwarded-for'],
        },
      },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { public: { type: 'boolean', default: false } },
    },
    data_dir: { type: 'string', default: './data' },
    datacenter: { type: 'string', pattern: '^[a-z0-9_-]+$', default: 'local' },
    admin_token: { type: 'string', minLength: 16 },
    default_domain: { type: 'string' },
    storage: storageConfigSchema,
    domains: {
      type: 'object',
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['origin'],
        properties: {
          origin: {
            type: 'object',
            additionalProperties: false,
            required: ['url'],
            properties: { url: { type: 'string', pattern: '^https?://' }, changes: originChangesSchema },
          },
          buckets: { type: 'object', default: {}, additionalProperties: bucketConfigSchema },
          resources: resourcesSchema,
        },
      },
    },
    events: eventsConfigSchema,
    wiki: wikiConfigSchema,
    content: contentConfigSchema,
    changeprop: changepropConfigSchema,
    resources: resourcesSchema,
    resource_backends: resourceBackendsSchema,
    resource_heat: heatConfigSchema,
  },
} as const;
