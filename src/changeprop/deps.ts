// Rules derived from a dependency declaration (`changeprop.dependencies` in cascade.yaml):
//
//   html: [revision, templates]     # a new revision; an edit of a template the page transcludes
//   summary: [html]                 # derived from the stored HTML
//   mobile-sections: [html]
//   mobile-html: [html]
//
// Each edge becomes a rule in the ordinary `templates:` format (so `cascade rules explain`
// prints exactly what runs, and a user rule of the same name replaces a derived one), plus the
// access rules and the CDN purge rule. Edges between stored resources follow `resource_change`
// events, which carry the `x-triggered-by` chain; the engine stops loops.
import { ConfigError, type ConfigProblem } from '../config/index.ts';
import type { ChangepropConfig } from './config.ts';
import { CONTINUE_STREAM, TRANSCLUDES_STREAM } from './sys.ts';

/** Sources that are not stored resources: origin changes. */
export const SOURCES: Record<string, string> = {
  revision: 'a new revision of the page (mediawiki.revision-create)',
  templates: "an edit of a page it transcludes (the origin's list=embeddedin, in batches with continuation events)",
};
/** Stored resources of the content API that re-render on `Cache-Control: no-cache`. */
export const RESOURCES = ['html', 'summary', 'mobile-sections', 'mobile-html'];

export interface DerivedRules {
  /** Rule name → rule spec, in the `templates:` format. */
  templates: Record<string, Record<string, unknown>>;
  /** One line per edge of the graph, for `cascade rules explain`. */
  graph: { from: string; to: string; rules: string[]; note?: string }[];
}

const URI_OF = (endpoint: string) =>
  `/^https?:\\/\\/(?<domain>[^\\/]+)\\/api\\/rest_v1\\/page\\/${endpoint.replace(/-/g, '\\-')}\\/(?<title>[^\\/?#]+)$/`;

export function ruleName(resource: string, on: string): string {
  // summary_rerender, mobile_rerender (mobile-sections: its name from before mobile-html existed)
  if (on === 'html') return resource === 'mobile-html' ? 'mobile_html_rerender' : `${resource.split('-')[0]}_rerender`;
  return `${resource.replace(/-/g, '_')}_on_${on.replace(/-/g, '_')}`;
}

function problems(list: string[]): ConfigError {
  return new ConfigError(list.map((message): ConfigProblem => ({ file: '<config changeprop.dependencies>', line: 1, column: 1, path: 'changeprop.dependencies', message })));
}

/** Checks the declaration: known resources and sources, no cycle. Returns resources in dependency order. */
export function checkDependencies(deps: Record<string, string[]>): string[] {
  const bad: string[] = [];
  for (const [res, on] of Object.entries(deps)) {
    if (!RESOURCES.includes(res)) bad.push(`'${res}' is not a stored resource (one of ${RESOURCES.join(', ')})`);
    for (const d of on) {
      if (d in SOURCES) {
        if (res !== 'html') bad.push(`'${res}' cannot depend on '${d}': only html is rendered from the origin (depend on html instead)`);
      } else if (!RESOURCES.includes(d)) bad.push(`'${res}' depends on unknown '${d}' (a resource: ${RESOURCES.join(', ')}; or a source: ${Object.keys(SOURCES).join(', ')})`);
      else if (d === res) bad.push(`'${res}' depends on itself`);
    }
  }
  if (bad.length) throw problems(bad);
  // Topological order; a cycle is a config error (the engine would stop it as a loop at run time).
  const order: string[] = [];
  const state = new Map<string, 1 | 2>();
  const visit = (r: string, path: string[]) => {
    if (state.get(r) === 2) return;
    if (state.get(r) === 1) throw problems([`dependency cycle: ${[...path, r].join(' → ')}`]);
    state.set(r, 1);
    for (const d of deps[r] ?? []) if (!(d in SOURCES)) visit(d, [...path, r]);
    state.set(r, 2);
    order.push(r);
  };
  for (const r of Object.keys(deps)) visit(r, []);
  return order;
}

/**
 * The rules derived from `changeprop.dependencies`, `access_rules` and `purge`; `declared`:
 * endpoints of declared stored resources (src/resources/rules.ts), purged as the built-ins.
 */
export function deriveRules(cp: Pick<ChangepropConfig, 'dependencies' | 'access_rules' | 'purge'>, declared: string[] = []): DerivedRules {
  const deps = cp.dependencies ?? {};
  const order = checkDependencies(deps);
  const templates: DerivedRules['templates'] = {};
  const graph: DerivedRules['graph'] = [];
  // Quick first retries (a new revision not yet visible at the origin), then long enough to
  // outlast an origin outage (the content API answers 503 to a re-render it cannot verify as
  // fresh): 0.5, 2, 8, 32, 128, 512 s, about 11 minutes in all, as Wikimedia's 1 + 6 minutes.
  const quick = { retry_limit: 6, retry_delay: 500, retry_factor: 4 };
  const html = (uri: string, ius: string, extra: Record<string, unknown> = {}) => ({
    method: 'get',
    uri,
    headers: { 'cache-control': 'no-cache', 'if-unmodified-since': ius },
    query: { redirect: false },
    ...extra,
  });

  for (const res of order) {
    for (const on of deps[res] ?? []) {
      if (on === 'revision') {
        templates.page_edit = {
          description: 'html ← revision: re-render at once, bypassing the stored copy, never over a render newer than the edit',
          topic: 'mediawiki.revision-create',
          ...quick,
          // 404: the new revision may not be visible at the origin yet.
          retry_on: { status: ['5xx', 404] },
          order_by: '{{message.meta.domain}}/{{message.page_title}}',
          exec: html('/{message.meta.domain}/v1/page/html/{message.page_title}/{message.rev_id}', '{{date(message.meta.dt)}}'),
        };
        graph.push({ from: 'revision (mediawiki.revision-create)', to: 'html', rules: ['page_edit'] });
      } else if (on === 'templates') {
        // Wikimedia's transclusion_update / on_transclusion_update pair: one batch of the
        // origin's list=embeddedin per exec, a continuation event for the next batch.
        templates.transclusion_update = {
          description: 'html ← templates: list the pages transcluding an edited page, one batch per event',
          topics: ['mediawiki.revision-create', CONTINUE_STREAM],
          ...quick,
          cases: [
            {
              match: { meta: { stream: CONTINUE_STREAM } },
              exec: { method: 'post', uri: '/sys/links/transcludes/{message.original_event.page_title}', body: '{{message}}' },
            },
            {
              match: { page_namespace: 10 },
              exec: { method: 'post', uri: '/sys/links/transcludes/{message.page_title}', body: '{{message}}' },
            },
          ],
        };
        templates.on_transclusion_update = {
          description: 'html ← templates: re-render each transcluding page (no-cache, not over a render newer than the template edit)',
          topic: TRANSCLUDES_STREAM,
          ...quick,
          exec: html('/{message.meta.domain}/v1/page/html/{message.page_title}', '{{date(message.root_event.dt)}}'),
        };
        graph.push({ from: 'templates (edits of transcluded pages)', to: 'html', rules: ['transclusion_update', 'on_transclusion_update'], note: 'list=embeddedin batches, continuation events' });
      } else {
        const name = ruleName(res, on);
        templates[name] = {
          description: `${res} ← ${on}: re-derive when the stored ${on} changed (resource_change)`,
          topic: 'resource_change',
          ...quick,
          match: { meta: { uri: URI_OF(on) }, tags: [on] },
          exec: { method: 'get', uri: `/{message.meta.domain}/v1/page/${res}/{{match.meta.uri.title}}`, headers: { 'cache-control': 'no-cache' } },
        };
        graph.push({ from: on, to: res, rules: [name], note: 'resource_change' });
      }
    }
  }

  if (cp.access_rules && order.length) {
    const post = (uri: string, body?: unknown) => ({ method: 'post', uri, ...(body ? { body } : {}) });
    templates.page_delete = { description: 'access: a deleted page is gone at once', topic: 'mediawiki.page-delete', retry_delay: 500, exec: post('/{message.meta.domain}/sys/content/page/{message.page_title}/deleted') };
    templates.page_undelete = { description: 'access: an undeleted page is back at once', topic: 'mediawiki.page-undelete', retry_delay: 500, exec: post('/{message.meta.domain}/sys/content/page/{message.page_title}/undeleted') };
    templates.page_move = {
      description: 'access: the old title follows the move at once',
      topic: 'mediawiki.page-move',
      retry_delay: 500,
      exec: post('/{message.meta.domain}/sys/content/page/{message.prior_state.page_title}/moved', { to: '{{message.page_title}}' }),
    };
    const vis = (hidden: boolean) => post('/{message.meta.domain}/sys/content/revision/{message.rev_id}/visibility', { title: '{{message.page_title}}', hidden });
    templates.revision_visibility_change = {
      description: 'access: hidden revision text is refused at once',
      topic: 'mediawiki.revision-visibility-change',
      retry_delay: 500,
      cases: [{ match: { visibility: { text: false } }, exec: vis(true) }, { exec: vis(false) }],
    };
    graph.push({ from: 'page delete/undelete/move, revision visibility', to: 'access metadata (page-meta)', rules: ['page_delete', 'page_undelete', 'page_move', 'revision_visibility_change'] });
  }

  if (cp.purge.enabled && (order.length || declared.length)) {
    const endpoints = [...order, ...declared];
    const purge = (titles: string[]) => ({ method: 'post', uri: '/sys/purge', body: { domain: '{{message.meta.domain}}', endpoints, titles } });
    const changed = endpoints.map((r) => r.replace(/-/g, '\\-')).join('|');
    templates.cdn_purge = {
      description: 'CDN: purge every changed public URL (changeprop.purge: targets, method, urls, xkey)',
      topics: ['resource_change', 'mediawiki.page-delete', 'mediawiki.page-undelete', 'mediawiki.page-move', 'mediawiki.revision-visibility-change'],
      retry_limit: 3,
      retry_delay: 1000,
      cases: [
        {
          match: { meta: { stream: 'resource_change', uri: `/^https?:\\/\\/(?<domain>[^\\/]+)\\/api\\/rest_v1\\/page\\/(?<endpoint>${changed})\\/(?<title>[^\\/?#]+)$/` } },
          exec: { method: 'post', uri: '/sys/purge', body: { domain: '{{match.meta.uri.domain}}', endpoints: ['{{match.meta.uri.endpoint}}'], titles: ['{{decode(match.meta.uri.title)}}'] } },
        },
        { match: { meta: { stream: 'mediawiki.page-move' } }, exec: purge(['{{message.prior_state.page_title}}', '{{message.page_title}}']) },
        { match: { meta: { stream: '/^mediawiki\\./' } }, exec: purge(['{{message.page_title}}']) },
      ],
    };
    const t = cp.purge.targets;
    graph.push({
      from: `every change (${endpoints.join(', ')}; delete/undelete/move/visibility)`,
      to: t.length ? `CDN ${cp.purge.method} → ${t.join(', ')}${cp.purge.xkey.enabled ? ` (+ ${cp.purge.xkey.method} ${cp.purge.xkey.header})` : ''}` : 'CDN purge (no targets configured: nothing is sent)',
      rules: ['cdn_purge'],
      note: 'batched',
    });
  }
  return { templates, graph };
}
