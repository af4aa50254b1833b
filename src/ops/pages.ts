// The home page (what runs, where to go) and the dashboard's page shell. Server-rendered
// HTML without inline script or style (the CSP allows only our own /_ops/ assets).

export interface HomeInfo {
  version: string;
  node: string;
  startedAt: string;
  storage: string;
  eventLog: string;
  defaultDomain: string;
  /** origin is set only for internal callers (addresses inside the trust boundary stay private). */
  domains: { name: string; origin?: string; buckets: string[] }[];
  rules: { name: string; topics: string[]; source?: string }[];
  /** Keys of stored pages of the default domain to link as examples. */
  examples: string[];
  internal: boolean;
  /** The example wiki, internal callers only. */
  wikiUrl?: string;
}

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const seg = (s: string) => encodeURIComponent(s.replace(/ /g, '_'));

function head(title: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<link rel="stylesheet" href="/_ops/ops.css">
<link rel="icon" href="data:,">
</head>
`;
}

export function homePage(i: HomeInfo): string {
  const d = i.defaultDomain;
  const domains = i.domains
    .map(
      (x) => `<tr><td><a href="/${esc(x.name)}/v1/">${esc(x.name)}</a></td>` + (i.internal ? `<td><code>${esc(x.origin ?? '')}</code></td>` : '') + `<td>${esc(x.buckets.join(', '))}</td></tr>`,
    )
    .join('\n');
  const rules = i.rules.length
    ? `<table><tr><th>rule</th><th>topics</th>${i.internal ? '<th>from</th>' : ''}</tr>\n${i.rules
        .map((r) => `<tr><td>${esc(r.name)}</td><td>${esc(r.topics.join(', '))}</td>${i.internal ? `<td class="muted">${esc(r.source ?? '')}</td>` : ''}</tr>`)
        .join('\n')}</table>`
    : '<p class="empty">change propagation is off</p>';
  const examples = i.examples.length
    ? i.examples
        .map((k) => {
          const t = seg(k);
          return `<li>${esc(k.replace(/_/g, ' '))}: <a href="/${esc(d)}/v1/page/html/${t}">html</a> · <a href="/${esc(d)}/v1/page/summary/${t}">summary</a> · <a href="/${esc(d)}/v1/page/mobile-sections/${t}">mobile-sections</a> · <a href="/${esc(d)}/v1/page/mobile-html/${t}">mobile-html</a></li>`;
        })
        .join('\n')
    : '<li class="empty">no page stored yet: read one through the API and it appears here</li>';
  return `${head('Cascade')}<body>
<header><h1>Cascade</h1><span class="sub">content API with persistent caching, event bus and change propagation · v${esc(i.version)}</span></header>
<main>
<div class="grid">
<section class="card"><h2>Running</h2>
<dl class="facts">
<dt>version</dt><dd>${esc(i.version)} (Node ${esc(i.node)})</dd>
<dt>since</dt><dd>${esc(i.startedAt)}</dd>
<dt>storage</dt><dd>${esc(i.storage)}</dd>
<dt>event log</dt><dd>${esc(i.eventLog)}</dd>
<dt>default domain</dt><dd>${esc(d)}</dd>
${i.wikiUrl ? `<dt>example wiki</dt><dd><a href="${esc(i.wikiUrl)}/w/rest.php/v1/page/Main_Page">${esc(i.wikiUrl)}</a></dd>` : ''}
</dl>
</section>
<section class="card"><h2>Operate</h2>
<ul class="links">
<li><a href="/_dashboard">Live dashboard</a> <span class="muted">(internal callers or the admin token)</span></li>
<li><a href="/metrics">Prometheus metrics</a> <span class="muted">(<code>/metrics</code>)</span></li>
${i.domains.map((x) => `<li><a href="/${esc(x.name)}/v1/">${esc(x.name)} API docs</a> <span class="muted">(<a href="/${esc(x.name)}/v1/?spec">OpenAPI</a>)</span></li>`).join('\n')}
</ul>
</section>
<section class="card"><h2>Domains</h2>
<table><tr><th>domain</th>${i.internal ? '<th>origin</th>' : ''}<th>buckets</th></tr>
${domains}
</table>
</section>
<section class="card"><h2>Rules <small>change propagation</small></h2>
${rules}
</section>
<section class="card"><h2>Example pages <small>${esc(d)}</small></h2>
<ul class="links">
${examples}
</ul>
</section>
</div>
</main>
</body>
</html>
`;
}

export function dashboardPage(o: { version: string; dataUrl: string; intervalMs: number }): string {
  const card = (id: string, title: string, sub: string) => `<section class="card"><h2>${title} <small>${sub}</small></h2><div id="${id}"><p class="empty">loading…</p></div></section>`;
  return `${head('Cascade dashboard')}<body data-source="${esc(o.dataUrl)}" data-interval="${o.intervalMs}">
<header><h1>Cascade dashboard</h1><span class="sub"><a href="/">home</a> · v${esc(o.version)} · <span id="updated">waiting for data</span></span><span id="status" class="sub">connecting</span></header>
<main>
<div class="grid">
${card('p-intake', 'Intake', 'events/s by stream')}
${card('p-lag', 'Propagation lag', 'event time → execution done, per rule (chart: p99)')}
${card('p-flight', 'In flight and retries', 'per rule')}
${card('p-dead', 'Dead letters', 'per rule, since start')}
${card('p-cache', 'Hit ratios', 'since start (chart: hot cache per sample)')}
${card('p-origin', 'Origins', 'latency and errors by domain')}
${card('p-renders', 'Renders', 'through the origin')}
${card('p-store', 'Store size', 'per bucket, measured every minute')}
</div>
</main>
<script src="/_ops/dashboard.js"></script>
</body>
</html>
`;
}
