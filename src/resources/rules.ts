// Change-propagation rules derived from resource declarations, as src/changeprop/deps.ts
// derives the built-ins' rules: one rule per edge of a stored resource's `depends_on`, each
// calling the resource's internal change endpoint, which applies its refresh policy.
//   revision    mediawiki.revision-create       → POST /{domain}/sys/resources/{name}/{title}/changed {rev}
//   templates   the transclusion fan-out stream → the same, per transcluding page
//   <resource>  resource_change of its public URI → the same, for the title in the URI
import type { ChangepropConfig } from '../changeprop/config.ts';
import { deriveRules, ruleName, type DerivedRules } from '../changeprop/deps.ts';
import { TRANSCLUDES_STREAM } from '../changeprop/sys.ts';
import { BUILTINS, compileResources, type Resource, type ResourceSections } from './declare.ts';

const quick = { retry_limit: 6, retry_delay: 500, retry_factor: 4 };

const uriOf = (endpoint: string) =>
  `/^https?:\\/\\/(?<domain>[^\\/]+)\\/api\\/rest_v1\\/page\\/${endpoint.replace(/-/g, '\\-')}\\/(?<title>[^\\/?#]+)$/`;

const snake = (s: string) => s.replace(/-/g, '_');

/** The stored resources declared in any domain, by name (rules are shared by all domains). */
function storedByName(byDomain: Map<string, Resource[]>): Map<string, Resource> {
  const out = new Map<string, Resource>();
  for (const list of byDomain.values()) for (const r of list) if (r.decl.kind === 'stored' && !out.has(r.name)) out.set(r.name, r);
  return out;
}

/** Built-ins some domain refreshes other than eagerly: their rules go through the change endpoint. */
function refreshedBuiltins(byDomain: Map<string, Resource[]>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const list of byDomain.values()) {
    for (const r of list) {
      if (r.decl.kind !== 'builtin' || r.decl.refresh === 'eager') continue;
      if (!out.has(r.name)) out.set(r.name, new Set());
      out.get(r.name)!.add(r.decl.refresh);
    }
  }
  return out;
}

/** Every derived rule: the built-ins' (changeprop.dependencies) and the declared resources'. */
export function deriveAllRules(config: ResourceSections & { changeprop: Pick<ChangepropConfig, 'dependencies' | 'access_rules' | 'purge'> }): DerivedRules {
  const byDomain = compileResources(config, '<config>', () => ({ line: 0, column: 0 }), []);
  const stored = storedByName(byDomain);
  const endpoints = [...stored.values()].map((r) => r.endpoint!);
  const base = deriveRules(config.changeprop, endpoints);
  const templates = { ...base.templates };
  const graph = [...base.graph];
  const changed = (name: string, title: string, body?: Record<string, unknown>) => ({
    method: 'post',
    uri: `/{message.meta.domain}/sys/resources/${name}/${title}/changed`,
    ...(body ? { body } : {}),
  });
  for (const r of stored.values()) {
    const refresh = `refresh: ${r.decl.refresh}`;
    for (const on of r.decl.depends_on) {
      if (on === 'revision') {
        const name = `${snake(r.name)}_on_revision`;
        templates[name] = {
          description: `${r.name} ← revision: a new revision of the page (${refresh})`,
          topic: 'mediawiki.revision-create',
          ...quick,
          retry_on: { status: ['5xx'] },
          order_by: '{{message.meta.domain}}/{{message.page_title}}',
          exec: changed(r.name, '{message.page_title}', { rev: '{{message.rev_id}}' }),
        };
        graph.push({ from: 'revision (mediawiki.revision-create)', to: r.name, rules: [name], note: refresh });
      } else if (on === 'templates') {
        // The fan-out itself is the built-in html's; declared without it, it is derived here.
        if (!templates.transclusion_update) {
          const fan = deriveRules({ dependencies: { html: ['templates'] }, access_rules: false, purge: { ...config.changeprop.purge, enabled: false } });
          templates.transclusion_update = fan.templates.transclusion_update!;
        }
        const name = `${snake(r.name)}_on_transclusion_update`;
        templates[name] = {
          description: `${r.name} ← templates: each page transcluding an edited page (${refresh})`,
          topic: TRANSCLUDES_STREAM,
          ...quick,
          exec: changed(r.name, '{message.page_title}'),
        };
        graph.push({ from: 'templates (edits of transcluded pages)', to: r.name, rules: ['transclusion_update', name], note: refresh });
      } else {
        const dep = stored.get(on);
        const endpoint = dep?.endpoint ?? (BUILTINS.includes(on) ? on : undefined);
        if (!endpoint) continue;
        const name = `${snake(r.name)}_on_${snake(on)}`;
        templates[name] = {
          description: `${r.name} ← ${on}: the stored ${on} changed or went stale (resource_change; ${refresh})`,
          topic: 'resource_change',
          ...quick,
          match: { meta: { uri: uriOf(endpoint) }, tags: [endpoint] },
          exec: changed(r.name, '{{match.meta.uri.title}}'),
        };
        graph.push({ from: on, to: r.name, rules: [name], note: `resource_change; ${refresh}` });
      }
    }
  }
  // A built-in derived from the html and refreshed hot or lazy (in some domain): its rule asks
  // the change endpoint, which applies the domain's policy, instead of reading it no-cache.
  for (const [name, policies] of refreshedBuiltins(byDomain)) {
    const rule = templates[ruleName(name, 'html')];
    if (!rule) continue;
    const refresh = `refresh: ${[...policies].join(' | ')}`;
    templates[ruleName(name, 'html')] = { ...rule, description: `${name} ← html: the stored html changed (resource_change; ${refresh})`, exec: changed(name, '{{match.meta.uri.title}}') };
    for (const g of graph) if (g.to === name && g.from === 'html') g.note = `resource_change; ${refresh}`;
  }
  return { templates, graph };
}
