// Declarations → the resources of each domain, checked once at load time. Every problem names
// the file, line and setting it is about. Also the two effects a declaration has on the rest
// of the config: the buckets of stored resources (declared at start, no bucket YAML), and the
// dependency graph of the built-ins (`changeprop.dependencies`, the key this replaces).
import type { ConfigProblem } from '../config/load.ts';
import type { CascadeConfig } from '../config/schema.ts';
import { compileValueTemplate, type Expander } from '../changeprop/template.ts';
import { compileUriTemplate, type UriTemplate } from '../changeprop/uri.ts';
import type { ResourceDeclaration } from './config.ts';
import { BUILTIN_DEFAULTS, BUILTINS, DERIVED_BUILTINS, IMPLICIT_BUCKETS, RENDERED_BUILTINS } from './builtins.ts';

export { BUILTINS } from './builtins.ts';

/** Origin changes a resource may depend on. */
export const CHANGE_SOURCES = ['revision', 'templates'];
/** Endpoint families of the content API that a declared path may not take over. */
const RESERVED_FAMILIES = new Set([...BUILTINS, 'mobile-sections-lead', 'mobile-sections-remaining', 'wikitext', 'media-list-builtin']);
/** Key-value bucket of stale marks, one per domain. */
export const MARKS_BUCKET = 'resource-marks';

export interface Resource {
  name: string;
  decl: ResourceDeclaration;
  /** Path parameter names, in order. */
  params: string[];
  /** stored: the `{endpoint}` of `/page/{endpoint}/{title}` (public URIs, purges). */
  endpoint?: string;
  uri?: UriTemplate;
  /** A derived resource: its source's name and the body template. */
  derive?: { from: string; body: Expander };
  /** Base URL of the backend (`origin`: the domain's wiki). */
  backendUrl?: string;
  /** Config path of the declaration (for messages). */
  at: (string | number)[];
}

type Locate = (path: (string | number)[]) => { line: number; column: number };

/** The sections resources are declared in: shared (`resources`), per domain, and the backends they may request. */
export type ResourceSections = Pick<CascadeConfig, 'resources' | 'resource_backends' | 'domains'>;

/**
 * What the resource runtime reads: the declarations, read heat, and from the content API its
 * origin pool settings and cache lifetimes (declared resources answer like its endpoints).
 */
export type RuntimeSections = ResourceSections & Pick<CascadeConfig, 'resource_heat' | 'content'>;

/** The declarations of one domain: shared ones, replaced by the domain's own of the same name. */
export function declarationsOf(cfg: Pick<ResourceSections, 'resources' | 'domains'>, domain: string): Record<string, { decl: ResourceDeclaration; at: (string | number)[] }> {
  const out: Record<string, { decl: ResourceDeclaration; at: (string | number)[] }> = {};
  for (const [n, decl] of Object.entries(cfg.resources ?? {})) out[n] = { decl, at: ['resources', n] };
  for (const [n, decl] of Object.entries(cfg.domains[domain]?.resources ?? {})) out[n] = { decl, at: ['domains', domain, 'resources', n] };
  return out;
}

/** Compiles and checks every domain's resources; problems are appended to `problems`. */
export function compileResources(cfg: ResourceSections, file: string, locate: Locate, problems: ConfigProblem[]): Map<string, Resource[]> {
  const at = (path: (string | number)[], message: string) => {
    const pos = locate(path);
    problems.push({ file, line: pos.line, column: pos.column, path: path.join('.'), message });
  };
  const seen = new Set<string>(); // a shared declaration is checked once, not once per domain
  const byDomain = new Map<string, Resource[]>();
  for (const domain of Object.keys(cfg.domains)) {
    const list: Resource[] = [];
    const decls = declarationsOf(cfg, domain);
    for (const [name, { decl, at: path }] of Object.entries(decls)) {
      const key = path.join('.');
      const report = seen.has(key) ? () => {} : at;
      seen.add(key);
      const r = compileOne(name, decl, path, cfg.resource_backends ?? {}, cfg.domains[domain]!.origin.url, decls, report);
      if (r) list.push(r);
    }
    if (!checkCycles(list, at, seen)) continue;
    byDomain.set(domain, list);
  }
  return byDomain;
}

function compileOne(
  name: string,
  decl: ResourceDeclaration,
  path: (string | number)[],
  backends: Record<string, { url: string }>,
  originUrl: string,
  all: Record<string, { decl: ResourceDeclaration }>,
  at: (path: (string | number)[], message: string) => void,
): Resource | undefined {
  let ok = true;
  const bad = (sub: (string | number)[], message: string) => {
    ok = false;
    at([...path, ...sub], message);
  };
  const r: Resource = { name, decl, params: [], at: path };
  if (decl.kind === 'builtin') {
    const def = BUILTIN_DEFAULTS[name];
    if (!def) bad(['kind'], `'${name}' is no built-in resource (built-ins: ${BUILTINS.join(', ')})`);
    else checkBuiltin(name, decl, def.path, bad);
    // Its public URI is /page/<name>/{title}, as a stored resource's (resource_change, purges).
    if (def?.path !== undefined) r.endpoint = name;
    return ok ? r : undefined;
  }
  if (BUILTINS.includes(name)) bad(['kind'], `'${name}' is a built-in resource (kind: builtin): its producer is Cascade's; declare a resource of your own under another name`);
  if (decl.path === undefined) bad([], `a ${decl.kind} resource needs a path (e.g. /page/${name}/{title})`);
  if (decl.kind === 'proxy' && decl.derive) bad(['derive'], 'a proxy stores nothing to derive from: derive is for stored resources');
  if (decl.request === undefined && decl.derive === undefined) bad([], `a ${decl.kind} resource needs a request (the backend request that produces it)${decl.kind === 'stored' ? ' or derive (from another stored resource)' : ''}`);
  if (decl.request !== undefined && decl.derive !== undefined) bad(['derive'], 'request or derive, not both: a resource is produced one way');
  if (decl.path !== undefined) {
    r.params = [...decl.path.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!);
    const badParam = r.params.find((p) => !/^[a-z][a-z0-9_]*$/.test(p));
    if (badParam !== undefined) bad(['path'], `path parameter {${badParam}} must be a plain name (letters, digits, _)`);
    if (new Set(r.params).size !== r.params.length) bad(['path'], 'a path parameter appears twice');
    if (decl.kind === 'stored') {
      const m = /^\/page\/([a-z][a-z0-9-]*)\/\{title\}$/.exec(decl.path);
      if (!m) bad(['path'], `a stored resource's path is /page/<endpoint>/{title} (the shape of its public URI, resource_change events and CDN purges), not ${decl.path}`);
      else r.endpoint = m[1];
    }
    const family = /^\/page\/([^/{]+)\//.exec(decl.path)?.[1];
    if (family !== undefined && RESERVED_FAMILIES.has(family)) bad(['path'], `/page/${family}/ belongs to the built-in content API`);
  }
  if (decl.request) {
    if (decl.request.backend === 'origin') r.backendUrl = originUrl;
    else if (Object.hasOwn(backends, decl.request.backend)) r.backendUrl = backends[decl.request.backend]!.url;
    else bad(['request', 'backend'], `unknown backend '${decl.request.backend}' (origin, or a name under resource_backends: ${Object.keys(backends).join(', ') || 'none configured'})`);
    try {
      const t = compileUriTemplate(decl.request.uri);
      // Relative only: the backend's host comes from config, never from a template or a request.
      if (t.target !== 'relative') bad(['request', 'uri'], `must be a path on the backend (starting with /), not a URL: the host comes from the backend's configured url`);
      else r.uri = t;
    } catch (e) {
      bad(['request', 'uri'], (e as Error).message);
    }
  }
  if (decl.derive && decl.kind === 'stored') {
    const from = decl.derive.from;
    if (!Object.hasOwn(all, from) || all[from]!.decl.kind !== 'stored' || from === name) {
      bad(['derive', 'from'], `'${from}' is not another stored resource of this domain (declared: ${Object.keys(all).filter((n) => all[n]!.decl.kind === 'stored' && n !== name).join(', ') || 'none'})`);
    }
    // A derivation changes when its source does.
    if (!decl.depends_on.includes(from)) decl.depends_on.push(from);
    try {
      r.derive = { from, body: compileValueTemplate(decl.derive.body) };
    } catch (e) {
      bad(['derive', 'body'], (e as Error).message);
    }
  }
  if (decl.kind === 'proxy') {
    if (decl.depends_on.length) bad(['depends_on'], 'a proxy stores nothing, so nothing re-renders it: depends_on is for stored resources');
  } else {
    decl.depends_on.forEach((d, i) => {
      if (CHANGE_SOURCES.includes(d)) return;
      if (d === name) bad(['depends_on', i], `'${name}' depends on itself`);
      else if (!Object.hasOwn(all, d)) {
        const others = Object.keys(all).filter((n) => n !== name && all[n]!.decl.kind !== 'proxy');
        bad(['depends_on', i], `unknown '${d}' (a source: ${CHANGE_SOURCES.join(', ')}${others.length ? `; or a stored resource of this domain: ${others.join(', ')}` : ''})`);
      }
      else if (all[d]!.decl.kind === 'proxy') bad(['depends_on', i], `'${d}' is a proxy: it never changes in storage`);
    });
  }
  return ok ? r : undefined;
}

/**
 * What a built-in's declaration may set: docs, storage and depends_on. Its path, producer,
 * content type and filters are its code's (a setting that differs is named, not ignored).
 */
function checkBuiltin(name: string, decl: ResourceDeclaration, path: string | undefined, bad: (sub: (string | number)[], message: string) => void): void {
  const code = `the built-in '${name}' is produced by Cascade's code`;
  if (decl.path !== path) bad(['path'], path === undefined ? `${code} and has no endpoint of its own: remove path` : `${code} at ${path}: its path cannot move (declare a proxy or stored resource of your own for another path)`);
  for (const k of ['request', 'derive', 'shape', 'content_type', 'cache_control'] as const) {
    if (decl[k] !== undefined) bad([k], `${code}: ${k} cannot be declared for it${k === 'cache_control' ? ' (content.s_maxage and content.max_age set its Cache-Control)' : ''}`);
  }
  if (Object.keys(decl.headers).length) bad(['headers'], `${code}: headers cannot be declared for it`);
  if (!decl.normalize_title || !decl.access_check) bad([decl.normalize_title ? 'access_check' : 'normalize_title'], `${code}: it always normalizes titles and checks access`);
  // html is the source every other representation and the access state read: it re-renders
  // on every change. The built-ins derived from it are keyed by its render id (never stale).
  if (decl.refresh !== 'eager' && !DERIVED_BUILTINS.includes(name)) {
    bad(['refresh'], `${code}: it re-renders on every change (refresh: eager); hot and lazy are for ${DERIVED_BUILTINS.join(', ')} and declared stored resources`);
  }
  decl.depends_on.forEach((d, i) => {
    if (!CHANGE_SOURCES.includes(d) && !RENDERED_BUILTINS.includes(d)) bad(['depends_on', i], `the built-in '${name}' can depend on ${[...CHANGE_SOURCES, ...RENDERED_BUILTINS].join(', ')} only, not '${d}'`);
    else if (d === name) bad(['depends_on', i], `'${name}' depends on itself`);
  });
}

/** A dependency cycle is a config error (the engine would stop it as a loop at run time). */
function checkCycles(list: Resource[], at: (path: (string | number)[], message: string) => void, seen: Set<string>): boolean {
  const by = new Map(list.map((r) => [r.name, r]));
  const state = new Map<string, 1 | 2>();
  let ok = true;
  const visit = (r: Resource, chain: string[]): void => {
    if (state.get(r.name) === 2) return;
    if (state.get(r.name) === 1) {
      const key = `cycle:${chain.join('>')}`;
      if (!seen.has(key)) at([...r.at, 'depends_on'], `dependency cycle: ${[...chain, r.name].join(' → ')}`);
      seen.add(key);
      ok = false;
      return;
    }
    state.set(r.name, 1);
    for (const d of r.decl.depends_on) {
      const dep = by.get(d);
      if (dep) visit(dep, [...chain, r.name]);
    }
    state.set(r.name, 2);
  };
  for (const r of list) visit(r, []);
  return ok;
}

/**
 * Applies the declarations to the rest of the config: the built-ins' buckets and each stored
 * resource's bucket join the domain's buckets (an explicit bucket of the same name wins), and
 * built-in declarations give
 * `changeprop.dependencies` (which keeps working when set; `warn` says what replaces it).
 */
export function applyResources(cfg: Pick<CascadeConfig, 'resources' | 'domains' | 'changeprop'>, byDomain: Map<string, Resource[]>, warn: ((m: string) => void) | undefined): void {
  for (const [domain, list] of byDomain) {
    const buckets = (cfg.domains[domain]!.buckets ??= {});
    for (const [name, b] of Object.entries(IMPLICIT_BUCKETS)) buckets[name] ??= structuredClone(b);
    for (const r of list) {
      if (r.decl.kind === 'builtin') {
        if (BUILTIN_DEFAULTS[r.name]?.storage) buckets[r.name] ??= r.decl.storage;
        continue;
      }
      if (r.decl.kind !== 'stored') continue;
      buckets[r.name] ??= r.decl.storage;
      // Every change writes its mark first, whatever the policy (reads compare it with the render).
      buckets[MARKS_BUCKET] ??= { type: 'key_value', compression: 'none', retention: { policy: 'all' } };
    }
  }
  const old = cfg.changeprop.dependencies ?? {};
  const declared: Record<string, string[]> = {};
  // Only the built-ins with dependencies render on changes (listings and page-meta have none).
  for (const [n, d] of Object.entries(cfg.resources ?? {})) if (d.kind === 'builtin' && d.depends_on.length) declared[n] = d.depends_on;
  if (Object.keys(old).length > 0) {
    const flow = Object.entries(old)
      .map(([n, on]) => `${n}: { depends_on: [${on.join(', ')}] }`)
      .join(', ');
    warn?.(`changeprop.dependencies is read as before but is replaced by resources.<name>.depends_on; write instead: resources: { ${flow} }`);
  }
  // The declarations win over the old key for the resources they name.
  cfg.changeprop.dependencies = { ...old, ...declared };
}
