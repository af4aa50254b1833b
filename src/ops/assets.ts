// The operator pages' stylesheet and the dashboard's script, served from memory under
// /_ops/ (no build step, nothing from a CDN; kept as strings so a compiled build needs no
// copied asset files). The script draws its charts as plain SVG.

export const OPS_CSS = `
:root { --fg: #1d2433; --muted: #5b6478; --line: #d9dee8; --bg: #f6f7fa; --card: #fff; --accent: #2f6fdb; --bad: #c62828; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; background: #1d2433; color: #fff; }
header h1 { margin: 0; font-size: 20px; }
header .sub { color: #b9c1d3; font-size: 13px; }
header a { color: #9fc2ff; }
main { padding: 18px 24px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; min-width: 0; overflow-x: auto; }
section.card h2 { margin: 0 0 8px; font-size: 15px; }
section.card h2 small { font-weight: normal; color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.barcell { width: 45%; vertical-align: middle; }
td code { white-space: nowrap; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.n, th.n { text-align: right; white-space: nowrap; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: #eef1f6; padding: 1px 4px; border-radius: 3px; }
.big { font-size: 28px; font-weight: 600; font-variant-numeric: tabular-nums; }
.pair { display: flex; gap: 28px; margin-bottom: 6px; }
.muted { color: var(--muted); }
.bad { color: var(--bad); font-weight: 600; }
.empty { color: var(--muted); font-style: italic; }
svg.chart { width: 100%; height: auto; max-height: 200px; display: block; margin: 4px 0 8px; }
svg.chart text { font-size: 10px; fill: var(--muted); }
.legend { font-size: 12px; color: var(--muted); margin: -4px 0 6px; }
.legend span { margin-right: 12px; white-space: nowrap; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.bar { height: 12px; background: var(--accent); border-radius: 2px; min-width: 1px; }
ul.links li { margin: 2px 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
#status { margin-left: auto; font-size: 12px; }
`;

// Plain ES2017, no template literals (this file holds it in one).
export const DASHBOARD_JS = String.raw`
(function () {
  'use strict';
  var COLORS = ['#2f6fdb', '#e07b00', '#2e9d4f', '#c62828', '#7b4fc9', '#00838f', '#8d6e63', '#d81b60'];
  var token = new URLSearchParams(location.search).get('token');
  var headers = token ? { authorization: 'Bearer ' + token } : {};
  var dataUrl = document.body.getAttribute('data-source');
  var intervalMs = Number(document.body.getAttribute('data-interval')) || 2000;

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(1) + 'k';
    return Number.isInteger(v) ? String(v) : v.toFixed(digits === undefined ? 2 : digits);
  }
  function secs(v) {
    if (v === null || v === undefined) return '–';
    if (v < 1) return (v * 1000).toFixed(v < 0.01 ? 1 : 0) + ' ms';
    return v.toFixed(2) + ' s';
  }
  function pct(v) { return v === null || v === undefined ? '–' : (v * 100).toFixed(1) + ' %'; }
  function bytes(v) {
    var u = ['B', 'KB', 'MB', 'GB', 'TB'], i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(1) : String(v)) + ' ' + u[i];
  }
  // A value cell: shown formatted, the raw number in data-v (tests compare it with /metrics).
  function cell(key, v, text, cls) {
    return el('td', { 'class': cls || 'n', 'data-k': key, 'data-v': v === null || v === undefined ? '' : String(v) }, [text]);
  }
  function table(head, rows, emptyText) {
    if (!rows.length) return el('p', { 'class': 'empty' }, [emptyText]);
    var thead = el('tr', null, head.map(function (h, i) { return el('th', { 'class': i ? 'n' : null }, [h]); }));
    return el('table', null, [thead].concat(rows.map(function (r) { return el('tr', null, r); })));
  }

  // A line chart of [[ms, value or null], ...] series, drawn into an SVG of 600x150 units.
  function chart(series, yfmt) {
    var W = 600, H = 150, L = 56, B = 16, T = 6;
    var s = svg('svg', { 'class': 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img' });
    var xs = [], ys = [];
    series.forEach(function (se) { se.points.forEach(function (p) { xs.push(p[0]); if (p[1] !== null) ys.push(p[1]); }); });
    var ymax = Math.max.apply(null, ys.concat([0])) || 1, ymin = 0;
    var xmin = Math.min.apply(null, xs), xmax = Math.max.apply(null, xs);
    if (!xs.length) { xmin = Date.now() - 60000; xmax = Date.now(); }
    if (xmax === xmin) xmin = xmax - 1000;
    function X(t) { return L + (W - L - 4) * (t - xmin) / (xmax - xmin); }
    function Y(v) { return T + (H - T - B) * (1 - (v - ymin) / (ymax - ymin)); }
    [0, 0.5, 1].forEach(function (f) {
      var v = ymin + (ymax - ymin) * f;
      s.appendChild(svg('line', { x1: L, x2: W - 4, y1: Y(v), y2: Y(v), stroke: '#e3e7ef', 'stroke-width': 1 }));
      var t = svg('text', { x: L - 4, y: Y(v) + 3, 'text-anchor': 'end' });
      t.textContent = yfmt(v);
      s.appendChild(t);
    });
    var tl = svg('text', { x: L, y: H - 3 }); tl.textContent = new Date(xmin).toLocaleTimeString(); s.appendChild(tl);
    var tr = svg('text', { x: W - 4, y: H - 3, 'text-anchor': 'end' }); tr.textContent = new Date(xmax).toLocaleTimeString(); s.appendChild(tr);
    series.forEach(function (se, i) {
      var d = '', pen = false;
      se.points.forEach(function (p) {
        if (p[1] === null) { pen = false; return; }
        d += (pen ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1) + ' ';
        pen = true;
      });
      if (d) s.appendChild(svg('path', { d: d, fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': 1.6, 'vector-effect': 'non-scaling-stroke' }));
      // Dots too while there are few points: a lone sample between gaps still shows.
      if (se.points.length < 40) se.points.forEach(function (p) {
        if (p[1] !== null) s.appendChild(svg('circle', { cx: X(p[0]).toFixed(1), cy: Y(p[1]).toFixed(1), r: 2.2, fill: COLORS[i % COLORS.length] }));
      });
    });
    var box = el('div');
    box.appendChild(s);
    if (series.length) {
      box.appendChild(el('div', { 'class': 'legend' }, series.map(function (se, i) {
        var sw = el('i'); sw.style.background = COLORS[i % COLORS.length];
        return el('span', null, [sw, se.name]);
      })));
    }
    return box;
  }
  function seriesWith(data, prefix) {
    return Object.keys(data.series).filter(function (k) { return k.indexOf(prefix) === 0; }).sort().map(function (k) {
      return { name: k.slice(prefix.length) || k, points: data.series[k] };
    });
  }
  function bars(rows, key, label, value, text) {
    if (!rows.length) return el('p', { 'class': 'empty' }, ['nothing yet']);
    var max = Math.max.apply(null, rows.map(value).concat([1]));
    return table(['', '', ''], rows.map(function (r) {
      var b = el('div', { 'class': 'bar' }); b.style.width = (100 * value(r) / max).toFixed(1) + '%';
      return [el('td', null, [label(r)]), el('td', { 'class': 'barcell' }, [b]), cell(key(r), value(r), text(r))];
    }), '');
  }
  function fill(id, nodes) {
    var box = document.getElementById(id);
    while (box.firstChild) box.removeChild(box.firstChild);
    nodes.forEach(function (n) { box.appendChild(n); });
  }

  function render(d) {
    document.getElementById('updated').textContent = 'updated ' + new Date(d.time).toLocaleTimeString() + ' · rates over the last ' + d.window_seconds + ' s';
    document.getElementById('updated').setAttribute('data-time', d.time);

    fill('p-intake', [
      chart(seriesWith(d, 'intake:'), function (v) { return fmt(v, 1); }),
      table(['stream', 'events/s', 'accepted', 'invalid', 'failed'], d.intake.map(function (s) {
        return [el('td', null, [s.stream]), cell('intake.rate.' + s.stream, s.rate, fmt(s.rate)), cell('intake.accepted.' + s.stream, s.accepted, fmt(s.accepted)),
          cell('intake.invalid.' + s.stream, s.invalid, fmt(s.invalid), s.invalid ? 'n bad' : 'n'), cell('intake.failed.' + s.stream, s.failed, fmt(s.failed), s.failed ? 'n bad' : 'n')];
      }), 'no events taken in yet')
    ]);
    fill('p-lag', [
      chart(seriesWith(d, 'lag_p99:'), secs),
      table(['rule', 'p50', 'p99', 'executions', 'over'], d.rules.map(function (r) {
        return [el('td', null, [r.rule]), cell('lag.p50.' + r.rule, r.lag.p50, secs(r.lag.p50)), cell('lag.p99.' + r.rule, r.lag.p99, secs(r.lag.p99)),
          cell('lag.count.' + r.rule, r.lag.count, fmt(r.lag.count)), el('td', { 'class': 'n muted' }, [r.lag.over === 'window' ? 'last min' : 'all time'])];
      }), 'no rules running')
    ]);
    fill('p-flight', [
      table(['rule', 'in flight', 'done/s', 'received', 'retries', 'retry/s'], d.rules.map(function (r) {
        return [el('td', null, [r.rule]), cell('inflight.' + r.rule, r.in_flight, fmt(r.in_flight)), cell('exec_rate.' + r.rule, r.exec_rate, fmt(r.exec_rate)),
          cell('received.' + r.rule, r.received, fmt(r.received)), cell('retried.' + r.rule, r.retried, fmt(r.retried), r.retried ? 'n bad' : 'n'), cell('retry_rate.' + r.rule, r.retry_rate, fmt(r.retry_rate))];
      }), 'no rules running')
    ]);
    fill('p-dead', [
      table(['rule', 'dead', 'to list them'], d.rules.map(function (r) {
        var link = el('a', { href: '/_dashboard/dead-letters/' + encodeURIComponent(r.rule) + (token ? '?token=' + encodeURIComponent(token) : ''), title: 'what ' + r.dlq_command + ' shows, as JSON' }, [r.dlq_command]);
        return [el('td', null, [r.rule]), cell('dead.' + r.rule, r.dead, fmt(r.dead), r.dead ? 'n bad' : 'n'), el('td', null, [el('code', null, [link])])];
      }), 'no rules running')
    ]);
    var c = d.cache;
    fill('p-cache', [
      el('div', { 'class': 'pair' }, [
        el('div', null, [el('div', { 'class': 'muted' }, ['hot cache']), el('div', { 'class': 'big', 'data-k': 'cache.hot.ratio', 'data-v': c.hot.ratio === null ? '' : String(c.hot.ratio) }, [pct(c.hot.ratio)]),
          el('div', { 'class': 'muted' }, [fmt(c.hot.hits) + ' hits · ' + fmt(c.hot.misses) + ' misses · ' + bytes(c.hot.bytes)])]),
        el('div', null, [el('div', { 'class': 'muted' }, ['store (served without rendering)']), el('div', { 'class': 'big', 'data-k': 'cache.store.ratio', 'data-v': c.store.ratio === null ? '' : String(c.store.ratio) }, [pct(c.store.ratio)]),
          el('div', { 'class': 'muted' }, [fmt(c.store.hits) + ' hits · ' + fmt(c.store.misses) + ' misses (rendered or derived)'])])
      ]),
      chart(seriesWith(d, 'hot_ratio'), pct)
    ]);
    fill('p-origin', [
      table(['domain', 'p50', 'p99', 'requests', 'errors', 'errors/s'], d.origins.map(function (o) {
        return [el('td', null, [o.domain]), cell('origin.p50.' + o.domain, o.latency.p50, secs(o.latency.p50)), cell('origin.p99.' + o.domain, o.latency.p99, secs(o.latency.p99)),
          cell('origin.requests.' + o.domain, o.requests, fmt(o.requests)), cell('origin.errors.' + o.domain, o.errors, fmt(o.errors), o.errors ? 'n bad' : 'n'), cell('origin.error_rate.' + o.domain, o.error_rate, fmt(o.error_rate))];
      }), 'no origin requests yet')
    ]);
    fill('p-renders', [
      el('div', { 'class': 'pair' }, [
        el('div', null, [el('div', { 'class': 'big', 'data-k': 'renders.per_minute', 'data-v': String(d.renders.per_minute) }, [fmt(d.renders.per_minute, 1)]), el('div', { 'class': 'muted' }, ['renders / minute'])]),
        el('div', null, [el('div', { 'class': 'big', 'data-k': 'renders.total', 'data-v': String(d.renders.total) }, [fmt(d.renders.total)]), el('div', { 'class': 'muted' }, ['since start'])])
      ]),
      chart(seriesWith(d, 'renders'), function (v) { return fmt(v, 1); })
    ]);
    fill('p-store', [
      bars(d.storage, function (b) { return 'store.bytes.' + b.domain + '/' + b.bucket; }, function (b) { return b.domain + ' / ' + b.bucket + ' (' + fmt(b.rows) + ' rows)'; },
        function (b) { return b.bytes; }, function (b) { return bytes(b.bytes); })
    ]);
  }

  var status = document.getElementById('status');
  var failures = 0;
  function poll() {
    fetch(dataUrl, { headers: headers }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (d) {
      failures = 0;
      status.textContent = 'live';
      status.className = '';
      render(d);
    }).catch(function (e) {
      failures++;
      status.textContent = 'not updating: ' + e.message;
      status.className = 'bad';
    }).then(function () {
      setTimeout(poll, Math.min(intervalMs * Math.pow(2, failures), 30000));
    });
  }
  poll();
})();
`;
