// The schema repository: resolves an event's `$schema` URI against configured bases (local
// directories, HTTP bases) as EventGate does (base + $schema + '.json' or '.yaml'), compiles
// it with ajv once and caches the validator by URI. Sources are pluggable (SchemaSource).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve, sep, extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Ajv, type ValidateFunction, type ErrorObject, type Options as AjvOptions } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { CascadeError } from '../errors/index.ts';
import { EventErrors } from './errors.ts';
import { SchemaCache, canonicalSchemaKey, type CacheLimits } from './schema-cache.ts';
import { SingleFlight } from '../util/single-flight.ts';

// ajv-formats is CommonJS: under NodeNext the default import is module.exports, whose
// `.default` is the plugin (the same function at run time, typed differently).
type AddFormats = (ajv: Ajv | Ajv2020) => unknown;
const addFormats: AddFormats = (ajvFormats as unknown as { default?: AddFormats }).default ?? (ajvFormats as unknown as AddFormats);

export interface LoadedSchema {
  /** The parsed schema document (a fresh copy the repository may modify). */
  schema: Record<string, unknown>;
  /** Where it was found (file:// or http(s):// URL); becomes the compiled schema's `$id`. */
  location: string;
}

/** A place schemas come from. `load` returns undefined when this source has no such schema. */
export interface SchemaSource {
  readonly base: string;
  load(uri: string): Promise<LoadedSchema | undefined>;
}

const SCHEMA_EXTENSIONS = ['.json', '.yaml', '.yml'];

function parseSchemaText(text: string, name: string): Record<string, unknown> {
  const ext = SCHEMA_EXTENSIONS.includes(extname(name.split(/[?#]/)[0]).toLowerCase()) ? extname(name.split(/[?#]/)[0]).toLowerCase() : '';
  let doc: unknown;
  if (ext === '.yaml' || ext === '.yml') doc = parseYaml(text);
  else if (ext === '.json') doc = JSON.parse(text);
  else {
    // A file without extension (EventGate's repositories have them): JSON, else YAML.
    try {
      doc = JSON.parse(text);
    } catch {
      doc = parseYaml(text);
    }
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${name} is not a JSON Schema object`);
  return doc as Record<string, unknown>;
}

/**
 * Candidate names for a `$schema` path: as is when it names an extension, else + .json / .yaml
 * / .yml, then the bare name (a file without extension, as EventGate resolves `$schema`).
 */
function candidates(path: string): string[] {
  const ext = extname(path).toLowerCase();
  if (SCHEMA_EXTENSIONS.includes(ext)) return [path];
  return [...SCHEMA_EXTENSIONS.map((e) => path + e), path];
}

/** Schemas in a local directory laid out as their `$id`s (`<dir>/mediawiki/revision/create/2.0.0.json`). */
export class DirectorySchemaSource implements SchemaSource {
  readonly base: string;
  private readonly dir: string;
  constructor(dir: string) {
    this.dir = resolve(dir);
    this.base = pathToFileURL(this.dir + sep).href;
  }

  async load(uri: string): Promise<LoadedSchema | undefined> {
    let rel: string;
    if (uri.startsWith('file:')) {
      if (!uri.startsWith(this.base)) return undefined;
      rel = fileURLToPath(uri).slice(this.dir.length);
    } else if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) {
      return undefined; // another scheme: not ours
    } else {
      rel = uri.split(/[?#]/)[0];
    }
    const target = resolve(this.dir, '.' + (rel.startsWith('/') ? rel : '/' + rel));
    // A `$schema` must not climb out of the repository (`/../../etc/passwd`).
    if (!target.startsWith(this.dir + sep)) return undefined;
    for (const file of candidates(target)) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') continue;
        throw e;
      }
      return { schema: parseSchemaText(text, file), location: pathToFileURL(file).href };
    }
    return undefined;
  }
}

/** Schemas under an HTTP base (e.g. https://schema.wikimedia.org/repositories/primary/jsonschema). */
export class HttpSchemaSource implements SchemaSource {
  readonly base: string;
  constructor(
    base: string,
    private readonly timeoutMs = 5000,
  ) {
    this.base = new URL(base).href.replace(/\/+$/, '');
  }

  async load(uri: string): Promise<LoadedSchema | undefined> {
    let target: string;
    if (/^https?:\/\//i.test(uri)) target = uri;
    else if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) return undefined;
    else target = this.base + (uri.startsWith('/') ? uri : '/' + uri);
    try {
      target = new URL(target).href; // resolves `..` segments before the check below
    } catch {
      return undefined;
    }
    // Only below this configured base (no other host, no climbing out of its path).
    if (!target.startsWith(this.base + '/')) return undefined;
    const urls = candidates(target.split(/[?#]/)[0]);
    for (const url of urls) {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
      if (res.status === 404 || res.status === 410) {
        await res.body?.cancel();
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`schema fetch ${url}: HTTP ${res.status}`);
      }
      const text = await res.text();
      const type = res.headers.get('content-type') ?? '';
      const name = /yaml/i.test(type) ? url + '.yaml' : url;
      return { schema: parseSchemaText(text, name), location: url };
    }
    return undefined;
  }
}

export const BUILTIN_SCHEMA_DIR = fileURLToPath(new URL('./schemas/', import.meta.url));

/** Builds a source from a configured base: `builtin`, a directory, `file://…` or `http(s)://…`. */
export function schemaSourceFor(base: string, opts: { timeoutMs?: number } = {}): SchemaSource {
  if (base === 'builtin') return new DirectorySchemaSource(BUILTIN_SCHEMA_DIR);
  if (/^https?:\/\//i.test(base)) return new HttpSchemaSource(base, opts.timeoutMs);
  if (base.startsWith('file:')) return new DirectorySchemaSource(fileURLToPath(base));
  return new DirectorySchemaSource(base);
}

export interface CompiledSchema {
  /** The canonical `$schema` key it was first compiled for (other spellings may share it). */
  uri: string;
  location: string;
  title: string | undefined;
  /** The document after normalisation (read-only use). */
  schema: Record<string, unknown>;
  validate: ValidateFunction;
}

export interface SchemaRepositoryOptions {
  /** Allow ajv to fill defaults into events (`useDefaults`). Off by default: events are not mutated. */
  mutating?: boolean;
  /** How long a missing schema is remembered before it is looked up again. */
  negativeTtlMs?: number;
  /** Bounds of the compiled and not-found caches (events.schema_cache). */
  cache?: Partial<CacheLimits>;
  /** Compile schemas that fail ajv's json-schema-secure check (EventGate refuses them by default). */
  allowInsecure?: boolean;
}

// ajv's meta-schema of schemas that are safe to compile and run on hostile input (string
// `pattern`/`format` need `maxLength`, …); EventGate checks every loaded schema against it.
const SECURE_META_SCHEMA = createRequire(import.meta.url)('ajv/dist/refs/json-schema-secure.json') as Record<string, unknown>;

export const DEFAULT_CACHE_LIMITS: CacheLimits = { maxEntries: 500, maxBytes: 16 * 1024 * 1024, negativeMaxEntries: 1000, negativeTtlMs: 10_000 };

/** Format checks whose results are remembered (pure functions of the string). */
const MEMO_FORMATS = ['date-time', 'date', 'time', 'uri', 'uri-reference', 'iri', 'email', 'hostname'];
const MEMO_MAX_ENTRIES = 10_000;
const MEMO_MAX_LENGTH = 512;

/**
 * ajv-formats' full date-time and uri checks cost microseconds each (big regexes, date
 * arithmetic) and an event has several; the same values recur (every event of a batch
 * shares the meta.dt the intake filled, timestamps repeat within a second, URIs per page),
 * so their results are remembered in a bounded map, cleared when full.
 */
function memoizeFormats(ajv: Ajv | Ajv2020): void {
  for (const name of MEMO_FORMATS) {
    const def = ajv.formats[name] as unknown;
    let check: ((s: string) => boolean) | undefined;
    let rest: Record<string, unknown> = {};
    if (def instanceof RegExp) check = (s) => def.test(s);
    else if (typeof def === 'function') check = def as (s: string) => boolean;
    else if (def && typeof def === 'object' && !(def as { async?: boolean }).async && typeof (def as { validate?: unknown }).validate !== 'undefined') {
      const v = (def as { validate: RegExp | ((s: string) => boolean) }).validate;
      check = v instanceof RegExp ? (s) => v.test(s) : v;
      rest = def as Record<string, unknown>;
    }
    if (!check || (rest.type !== undefined && rest.type !== 'string')) continue;
    const seen = new Map<string, boolean>();
    const inner = check;
    const validate = (s: string): boolean => {
      if (s.length > MEMO_MAX_LENGTH) return inner(s);
      let r = seen.get(s);
      if (r === undefined) {
        r = inner(s);
        if (seen.size >= MEMO_MAX_ENTRIES) seen.clear();
        seen.set(s, r);
      }
      return r;
    };
    ajv.addFormat(name, { ...rest, type: 'string', validate } as never);
  }
}

const DRAFT7 = 'http://json-schema.org/draft-07/schema#';
const DRAFT2020 = 'https://json-schema.org/draft/2020-12/schema';

/**
 * The repository: sources tried in order, validators compiled once per document and cached by
 * the canonical `$schema` key, bounded (schema-cache.ts).
 */
export class SchemaRepository {
  private readonly ajv7: Ajv;
  private readonly ajv2020: Ajv2020;
  private readonly cache: SchemaCache<CompiledSchema>;
  private readonly pending = new SingleFlight<string, CompiledSchema>();
  private readonly isSecure: ValidateFunction | undefined;
  /** Whether validation may change events (then the intake serialises them after validating). */
  readonly mutating: boolean;

  constructor(
    readonly sources: SchemaSource[],
    opts: SchemaRepositoryOptions = {},
  ) {
    this.mutating = opts.mutating === true;
    this.isSecure = opts.allowInsecure ? undefined : new Ajv({ strict: false, allErrors: true }).compile(SECURE_META_SCHEMA);
    const ajvOpts: AjvOptions = {
      strict: false,
      allErrors: true,
      // No mutation unless configured: the log stores what the producer sent.
      useDefaults: opts.mutating ? true : false,
      removeAdditional: false,
      coerceTypes: false,
      // Compiled schemas are not registered by `$id`: two documents may share ids.
      addUsedSchema: false,
    };
    this.ajv7 = new Ajv(ajvOpts);
    this.ajv2020 = new Ajv2020(ajvOpts);
    addFormats(this.ajv7);
    addFormats(this.ajv2020);
    memoizeFormats(this.ajv7);
    memoizeFormats(this.ajv2020);
    const limits = { ...DEFAULT_CACHE_LIMITS, ...(opts.negativeTtlMs !== undefined ? { negativeTtlMs: opts.negativeTtlMs } : {}), ...opts.cache };
    // An evicted document is dropped from ajv too (ajv keeps every compiled schema otherwise).
    this.cache = new SchemaCache<CompiledSchema>(limits, (c) => (c.schema.$schema === DRAFT2020 ? this.ajv2020 : this.ajv7).removeSchema(c.schema));
  }

  /** The canonical cache key of a `$schema` value, or why it is refused (400). */
  key(uri: string): { key: string } | { problem: string } {
    return canonicalSchemaKey(uri);
  }

  /** The compiled schema for a canonical key (see `key`) if cached (the hot path: no promise, no I/O). */
  cachedKey(key: string): CompiledSchema | undefined {
    return this.cache.get(key);
  }

  /** The compiled schema for a `$schema` value if it is already cached. */
  cached(uri: string): CompiledSchema | undefined {
    const k = canonicalSchemaKey(uri);
    return 'key' in k ? this.cache.get(k.key) : undefined;
  }

  /** Sizes of the caches (for tests and metrics). */
  cacheStats(): { entries: number; locations: number; bytes: number; negative: number; pending: number } {
    return { ...this.cache.stats(), pending: this.pending.size };
  }

  /**
   * Resolves, compiles and caches. Throws CASCADE_EVENTS_SCHEMA_NOT_FOUND / _BAD_SCHEMA_URI
   * (4xx) or a server-side error.
   */
  get(uri: string): Promise<CompiledSchema> {
    const k = canonicalSchemaKey(uri);
    if ('problem' in k) return Promise.reject(new CascadeError(EventErrors.badSchemaUri, k.problem));
    const key = k.key;
    const hit = this.cache.get(key);
    if (hit) return Promise.resolve(hit);
    const miss = this.cache.failure(key);
    if (miss) return Promise.reject(miss as Error);
    return this.pending.run(key, () => this.resolveAndCompile(key));
  }

  private async resolveAndCompile(uri: string): Promise<CompiledSchema> {
    let loaded: LoadedSchema | undefined;
    for (const source of this.sources) {
      loaded = await source.load(uri);
      if (loaded) break;
    }
    if (!loaded) {
      const absolute = /^[a-z][a-z0-9+.-]*:/i.test(uri);
      const error = absolute && !this.sources.some((s) => uri.startsWith(s.base))
        ? new CascadeError(EventErrors.schemaHostNotAllowed, `$schema ${uri} is not under a configured schema base`)
        : new CascadeError(EventErrors.schemaNotFound, `no schema found for $schema ${uri}`);
      this.cache.rememberFailure(uri, error);
      throw error;
    }
    // Another spelling of this `$schema` already compiled the same document: share it.
    const same = this.cache.atLocation(loaded.location);
    if (same) {
      this.cache.set(uri, loaded.location, same, 0);
      return same;
    }
    const bytes = JSON.stringify(loaded.schema).length;
    const schema = normaliseSchema(loaded.schema, loaded.location);
    if (this.isSecure && !this.isSecure(schema)) {
      const why = formatErrors(this.isSecure.errors).slice(0, 3).join('; ');
      const error = new CascadeError(EventErrors.schemaInsecure, `schema ${uri} (${loaded.location}) is not secure for compilation: ${why}`);
      this.cache.rememberFailure(uri, error);
      throw error;
    }
    let validate: ValidateFunction;
    try {
      validate = schema.$schema === DRAFT2020 ? this.ajv2020.compile(schema) : this.ajv7.compile(schema);
    } catch (e) {
      const error = new CascadeError(EventErrors.schemaInvalid, `schema ${uri} (${loaded.location}) does not compile: ${(e as Error).message}`, { cause: e });
      this.cache.rememberFailure(uri, error);
      throw error;
    }
    const entry: CompiledSchema = {
      uri,
      location: loaded.location,
      title: typeof schema.title === 'string' ? schema.title : undefined,
      schema,
      validate,
    };
    this.cache.set(uri, loaded.location, entry, bytes);
    return entry;
  }
}

/**
 * Copes with real-world schemas: the draft-07 meta-schema named with https (ajv knows it by
 * http), 2019-09 served by the 2020-12 validator, and materialized schemas that embed the same
 * fragment (with its `$id`) several times, which ajv rejects as ambiguous.
 */
export function normaliseSchema(schema: Record<string, unknown>, location: string): Record<string, unknown> {
  const meta = typeof schema.$schema === 'string' ? schema.$schema : '';
  if (/draft-0[34]\//.test(meta)) fromDraft04(schema);
  schema.$schema = /draft\/(2020-12|2019-09)/.test(meta) ? DRAFT2020 : DRAFT7;
  const rootId = typeof schema.$id === 'string' ? schema.$id : undefined;
  // Count nested ids; duplicates (or copies of the root id) are dropped, unique ones kept.
  const counts = new Map<string, number>();
  walkSchema(schema, 0, (node) => {
    if (typeof node.$id === 'string') counts.set(node.$id, (counts.get(node.$id) ?? 0) + 1);
  });
  walkSchema(schema, 0, (node, depth) => {
    if (depth === 0) return;
    if (typeof node.$id === 'string' && (counts.get(node.$id)! > 1 || node.$id === rootId)) delete node.$id;
    // A meta-schema named inside an embedded fragment means nothing to ajv but can confuse it.
    if (typeof node.$schema === 'string') delete node.$schema;
  });
  // The location is unique per document; the declared `$id` (relative, e.g. /x/1.0.0) may not be.
  schema.$id = location;
  return schema;
}

/**
 * Rewrites a draft-04 schema as draft-07 in place (ajv 8 compiles no draft-04): `id` becomes
 * `$id`, boolean `exclusiveMaximum`/`exclusiveMinimum` become the numeric form. The other
 * keywords EventGate's schemas use mean the same in both drafts.
 */
function fromDraft04(schema: Record<string, unknown>): void {
  walkSchema(schema, 0, (node) => {
    if (typeof node.id === 'string' && node.$id === undefined) {
      node.$id = node.id;
      delete node.id;
    }
    for (const [flag, bound] of [['exclusiveMaximum', 'maximum'], ['exclusiveMinimum', 'minimum']] as const) {
      if (typeof node[flag] !== 'boolean') continue;
      if (node[flag] === true && typeof node[bound] === 'number') {
        node[flag] = node[bound];
        delete node[bound];
      } else delete node[flag];
    }
  });
}

function walkSchema(node: unknown, depth: number, visit: (n: Record<string, unknown>, depth: number) => void): void {
  if (Array.isArray(node)) {
    for (const x of node) walkSchema(x, depth + 1, visit);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  visit(obj, depth);
  for (const k in obj) {
    // `examples`/`default`/`const`/`enum` hold data, not schemas.
    if (k === 'examples' || k === 'default' || k === 'const' || k === 'enum') continue;
    const v = obj[k];
    if (v && typeof v === 'object') walkSchema(v, depth + 1, visit);
  }
}

/** Human-readable validation errors, each naming the field (`/page_id must be integer`). */
export function formatErrors(errors: readonly Pick<ErrorObject, 'instancePath' | 'keyword' | 'params' | 'message'>[] | null | undefined): string[] {
  if (!errors) return [];
  return errors.map((e) => {
    const at = e.instancePath || '';
    if (e.keyword === 'required') return `${at}/${(e.params as { missingProperty: string }).missingProperty} is required`;
    if (e.keyword === 'additionalProperties') return `${at}/${(e.params as { additionalProperty: string }).additionalProperty} is not allowed (additional property)`;
    return `${at || '/'} ${e.message ?? 'is invalid'}`;
  });
}
