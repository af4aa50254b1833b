// Change-propagation rules: the Wikimedia change-propagation `templates:` format, compiled
// once into closures. A problem in a rule is reported with the file, the line, the rule and
// the field (ConfigError from src/config).
import { readFileSync } from 'node:fs';
import { ConfigError, parseYaml, type ConfigProblem, type LoadedYaml } from '../config/index.ts';
import { isCascadeError } from '../errors/index.ts';
import { compileMatch, compileMatchNot, compileRegexString, isRegexString, type CompiledMatch } from './match.ts';
import { compileRequestTemplate, compileStringTemplate, type Expander, type ExecSpec, type RequestTemplate } from './template.ts';
import type { Scope } from './expr.ts';

// Wikimedia's defaults (lib/rule.js), except that an explicit 0 means 0.
export const DEFAULT_RETRY_DELAY = 60_000;
export const DEFAULT_RETRY_FACTOR = 6;
export const DEFAULT_RETRY_LIMIT = 2;
export const DEFAULT_TIMEOUT = 60_000;
export const DEFAULT_JITTER = 0.2;

export interface TopicSelector {
  name?: string;
  regex?: RegExp;
  source: string;
}

export interface ResponseLike {
  status: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: unknown;
}

export interface RuleCase {
  index: number;
  match?: CompiledMatch;
  matchNot?: (v: unknown) => boolean;
  exec: RequestTemplate[];
  sample?: { rate: number; hash: Expander };
}

export interface Rule {
  name: string;
  /** Where the rule was declared. */
  file: string;
  line: number;
  topics: TopicSelector[];
  excludeTopics: TopicSelector[];
  discardCanaryEvents: boolean;
  cases: RuleCase[];
  /** True when a response status/body calls for a retry (`retry_on`). */
  shouldRetry(res: ResponseLike): boolean;
  /** True when an error response counts as done (`ignore`, default 412). */
  shouldIgnore(res: ResponseLike): boolean;
  retryLimit: number;
  retryDelay: number;
  retryFactor: number;
  /** Backoff cap for this rule (ms); undefined: the engine's global cap. */
  retryMaxDelay?: number;
  retryJitter: number;
  timeout: number;
  concurrency?: number;
  orderBy?: Expander;
  rateLimit?: { perSecond: number; burst: number };
  circuitBreaker?: { failures: number; parkMs: number; key?: Expander };
  spec: Record<string, unknown>;
}

export interface RouteResult {
  ruleCase: RuleCase;
  scope: Scope;
}

const RULE_FIELDS = new Set([
  'topic', 'topics', 'exclude_topics', 'match', 'match_not', 'cases', 'discard_canary_events', 'sample', 'exec',
  'retry_on', 'ignore', 'retry_limit', 'retry_delay', 'retry_factor', 'timeout', 'concurrency',
  // extensions (src/changeprop/README.md)
  'order_by', 'rate_limit', 'circuit_breaker', 'retry_max_delay', 'retry_jitter', 'description',
  // accepted for compatibility with Wikimedia's rules; no effect here
  'limiters', 'decode_results', 'budget', 'report',
  // obsolete forms of Wikimedia's older rule files: `switch` is `cases`; `parallel` execs run in order
  'switch', 'parallel',
]);
const CASE_FIELDS = new Set(['match', 'match_not', 'exec', 'sample', 'limiters']);
/** Request settings of an exec; `tags` (older Wikimedia rules) has no effect. */
const EXEC_FIELDS = ['method', 'uri', 'headers', 'query', 'body', 'tags'];

/**
 * YAML merge keys (`<<: *spec`, `<<: [*a, *b]`), which Wikimedia's rule files use: the parser
 * leaves them as a '<<' key holding the aliased map(s). Own keys win, then earlier maps.
 */
export function resolveMergeKeys(v: unknown, depth = 0): unknown {
  if (depth > 100) return v;
  if (Array.isArray(v)) return v.map((x) => resolveMergeKeys(x, depth + 1));
  if (!isObj(v)) return v;
  const out: Record<string, unknown> = {};
  if ('<<' in v) {
    const sources = Array.isArray(v['<<']) ? v['<<'] : [v['<<']];
    for (const src of [...sources].reverse()) {
      if (!isObj(src)) continue;
      const merged = resolveMergeKeys(src, depth + 1) as Record<string, unknown>;
      for (const [k, x] of Object.entries(merged)) out[k] = x;
    }
  }
  for (const [k, x] of Object.entries(v)) if (k !== '<<') out[k] = resolveMergeKeys(x, depth + 1);
  return out;
}

/** service-runner's config-time `{env(NAME)}`, which a rule cannot use here (where it is, or undefined). */
function findEnvReference(v: unknown, path: (string | number)[] = [], depth = 0): { path: (string | number)[]; text: string } | undefined {
  if (depth > 50) return undefined;
  if (typeof v === 'string') {
    const m = /\{env\([^)]*\)\}/.exec(v);
    return m ? { path, text: m[0] } : undefined;
  }
  const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : isObj(v) ? Object.entries(v) : [];
  for (const [k, x] of entries) {
    const r = findEnvReference(x, [...path, k], depth + 1);
    if (r) return r;
  }
  return undefined;
}

/** Collects problems while compiling, each with rule, field and position. */
class Problems {
  list: ConfigProblem[] = [];
  constructor(
    private file: string,
    private locate: (p: (string | number)[]) => { line: number; column: number },
    private base: (string | number)[],
  ) {}
  add(rule: string, field: (string | number)[], message: string): void {
    const path = [...this.base, rule, ...field];
    const pos = this.locate(path);
    const fieldName = field.join('.');
    this.list.push({
      file: this.file,
      line: pos.line,
      column: pos.column,
      path: path.join('.'),
      message: `rule '${rule}'${fieldName ? `, field '${fieldName}'` : ''}: ${message}`,
    });
  }
  /** Runs `fn`, turning a thrown error into a problem at `field`. */
  guard<T>(rule: string, field: (string | number)[], fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      this.add(rule, field, isCascadeError(e) || e instanceof Error ? (e as Error).message : String(e));
      return undefined;
    }
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function compileTopic(s: unknown): TopicSelector {
  if (typeof s !== 'string' || s === '') throw new Error('a topic must be a non-empty string');
  if (isRegexString(s)) return { regex: compileRegexString(s), source: s };
  return { name: s, source: s };
}

/** `retry_on` / `ignore`: { status: [500, '5xx', '50x'], <other response field>: value }. */
function compileResponseCondition(spec: unknown): (res: ResponseLike) => boolean {
  // Older Wikimedia rules list statuses bare (`retry_on: [500]`): a list means { status: list }.
  if (Array.isArray(spec)) spec = { status: spec };
  if (!isObj(spec)) throw new Error('must be an object such as { status: [\'50x\'] }');
  const conds: ((res: ResponseLike) => boolean)[] = [];
  for (const [key, val] of Object.entries(spec)) {
    const opts = Array.isArray(val) ? val : [val];
    if (key === 'status') {
      const tests = opts.map((o) => {
        const s = String(o);
        if (/^[0-9]+$/.test(s)) {
          const n = Number(s);
          return (st: number) => st === n;
        }
        if (/^[0-9x]+$/.test(s)) {
          const re = new RegExp('^' + s.replace(/x/g, '\\d') + '$');
          return (st: number) => re.test(String(st));
        }
        throw new Error(`invalid status pattern ${JSON.stringify(o)} (use 503, '5xx' or '50x')`);
      });
      conds.push((res) => tests.some((t) => t(res.status)));
    } else {
      const wanted = opts.map((o) => stableJson(o));
      conds.push((res) => wanted.includes(stableJson((res as unknown as Record<string, unknown>)[key])));
    }
  }
  return (res) => conds.every((c) => c(res));
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(stableJson).join(',') + ']';
  if (isObj(v)) return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + stableJson(v[k])).join(',') + '}';
  return JSON.stringify(v) ?? 'undefined';
}

/** FNV-1a 32-bit: a fast, stable hash for deterministic sampling. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function num(p: Problems, rule: string, spec: Record<string, unknown>, field: string, min: number, max = Infinity, int = false): number | undefined {
  const v = spec[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || Number.isNaN(v) || v < min || v > max || (int && !Number.isInteger(v))) {
    p.add(rule, [field], `must be ${int ? 'an integer' : 'a number'} ${max === Infinity ? `>= ${min}` : `between ${min} and ${max}`}`);
    return undefined;
  }
  return v;
}

function compileExec(p: Problems, rule: string, field: (string | number)[], exec: unknown): RequestTemplate[] {
  if (exec === undefined) return [];
  const list = Array.isArray(exec) ? exec : [exec];
  const out: RequestTemplate[] = [];
  list.forEach((req, i) => {
    const f = Array.isArray(exec) ? [...field, i] : field;
    if (!isObj(req) || typeof req.uri !== 'string' || req.uri === '') {
      p.add(rule, f, 'each request must be an object with a "uri"');
      return;
    }
    for (const k of Object.keys(req)) {
      if (!EXEC_FIELDS.includes(k)) p.add(rule, [...f, k], `unknown request setting '${k}'`);
    }
    if (req.method !== undefined && (typeof req.method !== 'string' || (!req.method.includes('{') && !/^[A-Za-z]+$/.test(req.method)))) {
      p.add(rule, [...f, 'method'], 'must be an HTTP method name');
    }
    for (const part of ['headers', 'query'] as const) {
      if (req[part] !== undefined && !isObj(req[part])) p.add(rule, [...f, part], 'must be an object');
    }
    const { tags: _noEffect, ...request } = req;
    const t = p.guard(rule, f, () => compileRequestTemplate(request as ExecSpec));
    if (t) out.push(t);
  });
  return out;
}

function compileSample(p: Problems, rule: string, field: (string | number)[], spec: unknown): RuleCase['sample'] {
  if (spec === undefined) return undefined;
  if (!isObj(spec) || typeof spec.rate !== 'number' || spec.rate < 0 || spec.rate > 1) {
    p.add(rule, field, 'must be { rate: 0..1, hash_template: "..." }');
    return undefined;
  }
  for (const k of Object.keys(spec)) if (k !== 'rate' && k !== 'hash_template') p.add(rule, [...field, k], `unknown setting '${k}'`);
  const tpl = typeof spec.hash_template === 'string' ? spec.hash_template : '{{message.meta.id}}';
  const hash = p.guard(rule, [...field, 'hash_template'], () => compileStringTemplate(tpl, true));
  return hash ? { rate: spec.rate, hash } : undefined;
}

function compileCase(p: Problems, rule: string, field: (string | number)[], spec: Record<string, unknown>, index: number): RuleCase {
  const c: RuleCase = { index, exec: compileExec(p, rule, [...field, 'exec'], spec.exec) };
  if (spec.match !== undefined) {
    if (!isObj(spec.match)) p.add(rule, [...field, 'match'], 'must be an object');
    else c.match = p.guard(rule, [...field, 'match'], () => compileMatch(spec.match));
  }
  if (spec.match_not !== undefined) {
    if (!isObj(spec.match_not) && !Array.isArray(spec.match_not)) p.add(rule, [...field, 'match_not'], 'must be an object or an array of objects');
    else c.matchNot = p.guard(rule, [...field, 'match_not'], () => compileMatchNot(spec.match_not));
  }
  c.sample = compileSample(p, rule, [...field, 'sample'], spec.sample);
  return c;
}

/** A list of topic selectors (`topics`, `exclude_topics`); absent is none. */
function compileTopicList(p: Problems, rule: string, field: string, spec: unknown): TopicSelector[] {
  if (spec === undefined) return [];
  if (!Array.isArray(spec)) {
    p.add(rule, [field], 'must be a list of topic names or /regex/');
    return [];
  }
  const out: TopicSelector[] = [];
  spec.forEach((t, i) => {
    const s = p.guard(rule, [field, i], () => compileTopic(t));
    if (s) out.push(s);
  });
  return out;
}

function compileRule(p: Problems, name: string, given: unknown, file: string, line: number): Rule | undefined {
  const before = p.list.length;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) p.add(name, [], 'a rule name may contain only letters, digits, _ . and -');
  if (!isObj(given)) {
    p.add(name, [], 'must be an object');
    return undefined;
  }
  let spec = resolveMergeKeys(given) as Record<string, unknown>;
  const env = findEnvReference(spec);
  if (env) {
    p.add(name, env.path, `${env.text}: service-runner's environment substitution is not supported in rules; write the value itself (a relative URI such as '/{{message.meta.domain}}/v1/…' reaches Cascade, which replaces RESTBASE_URL)`);
    return undefined;
  }
  if (spec.switch !== undefined) {
    // The older name of `cases`.
    if (spec.cases !== undefined) p.add(name, ['switch'], "use 'cases' only ('switch' is its older name)");
    else {
      const { switch: cases, ...rest } = spec;
      spec = { ...rest, cases };
    }
  }
  for (const k of Object.keys(spec)) if (!RULE_FIELDS.has(k)) p.add(name, [k], `unknown setting '${k}'`);

  const topics: TopicSelector[] = [];
  if (spec.topic !== undefined) {
    const t = p.guard(name, ['topic'], () => compileTopic(spec.topic));
    if (t) topics.push(t);
  }
  topics.push(...compileTopicList(p, name, 'topics', spec.topics));
  if (spec.topic === undefined && spec.topics === undefined) p.add(name, [], "no 'topic' (or 'topics') specified");
  const excludeTopics = compileTopicList(p, name, 'exclude_topics', spec.exclude_topics);

  const cases: RuleCase[] = [];
  let topMatch: RuleCase | undefined;
  if (spec.cases !== undefined) {
    if (!Array.isArray(spec.cases) || spec.cases.length === 0) p.add(name, ['cases'], 'must be a non-empty list');
    else {
      if (spec.exec !== undefined) p.add(name, ['exec'], "cannot be combined with 'cases' (give each case its exec)");
      spec.cases.forEach((c, i) => {
        if (!isObj(c)) return p.add(name, ['cases', i], 'must be an object');
        for (const k of Object.keys(c)) if (!CASE_FIELDS.has(k)) p.add(name, ['cases', i, k], `unknown setting '${k}'`);
        cases.push(compileCase(p, name, ['cases', i], c, i));
      });
      // A top-level match/match_not/sample with cases is a precondition every case shares.
      if (spec.match !== undefined || spec.match_not !== undefined || spec.sample !== undefined) {
        topMatch = compileCase(p, name, [], { match: spec.match, match_not: spec.match_not, sample: spec.sample }, -1);
      }
    }
  } else cases.push(compileCase(p, name, [], spec, 0));

  if (spec.discard_canary_events !== undefined && typeof spec.discard_canary_events !== 'boolean') {
    p.add(name, ['discard_canary_events'], 'must be true or false');
  }
  // Wikimedia's default: '50x' (500-509); '5xx' would retry 510-599 too.
  const retryOn = spec.retry_on === undefined ? { status: ['50x'] } : spec.retry_on;
  const ignore = spec.ignore === undefined ? { status: [412] } : spec.ignore;
  const shouldRetry = p.guard(name, ['retry_on'], () => compileResponseCondition(retryOn));
  const shouldIgnore = p.guard(name, ['ignore'], () => compileResponseCondition(ignore));
  const retryLimit = num(p, name, spec, 'retry_limit', 0, 1000, true);
  const retryDelay = num(p, name, spec, 'retry_delay', 0);
  const retryFactor = num(p, name, spec, 'retry_factor', 1);
  const retryMaxDelay = num(p, name, spec, 'retry_max_delay', 0);
  const retryJitter = num(p, name, spec, 'retry_jitter', 0, 1);
  const timeout = num(p, name, spec, 'timeout', 1);
  const concurrency = num(p, name, spec, 'concurrency', 1, 10000, true);

  let orderBy: Expander | undefined;
  if (spec.order_by !== undefined) {
    if (typeof spec.order_by !== 'string') p.add(name, ['order_by'], "must be a template string such as '{{message.meta.uri}}'");
    else orderBy = p.guard(name, ['order_by'], () => compileStringTemplate(spec.order_by as string, true));
  }
  let rateLimit: Rule['rateLimit'];
  if (spec.rate_limit !== undefined) {
    const r = spec.rate_limit;
    if (!isObj(r) || typeof r.per_second !== 'number' || r.per_second <= 0 || (r.burst !== undefined && (typeof r.burst !== 'number' || r.burst < 1))) {
      p.add(name, ['rate_limit'], 'must be { per_second: > 0, burst: >= 1 }');
    } else rateLimit = { perSecond: r.per_second, burst: typeof r.burst === 'number' ? r.burst : Math.max(1, Math.ceil(r.per_second)) };
  }
  let circuitBreaker: Rule['circuitBreaker'];
  if (spec.circuit_breaker !== undefined) {
    const c = spec.circuit_breaker;
    if (!isObj(c) || typeof c.failures !== 'number' || c.failures < 1 || (c.park_ms !== undefined && (typeof c.park_ms !== 'number' || c.park_ms < 0))) {
      p.add(name, ['circuit_breaker'], 'must be { failures: >= 1, park_ms: >= 0, key: template }');
    } else {
      const key = typeof c.key === 'string' ? p.guard(name, ['circuit_breaker', 'key'], () => compileStringTemplate(c.key as string, true)) : undefined;
      circuitBreaker = { failures: c.failures, parkMs: typeof c.park_ms === 'number' ? c.park_ms : 60_000, key };
    }
  }
  if (p.list.length > before || !shouldRetry || !shouldIgnore) return undefined;

  const allCases = topMatch ? cases.map((c) => ({ ...c, pre: topMatch })) : cases;
  return {
    name,
    file,
    line,
    topics,
    excludeTopics,
    discardCanaryEvents: spec.discard_canary_events !== false,
    cases: allCases,
    shouldRetry,
    shouldIgnore,
    retryLimit: retryLimit ?? DEFAULT_RETRY_LIMIT,
    retryDelay: retryDelay ?? DEFAULT_RETRY_DELAY,
    retryFactor: retryFactor ?? DEFAULT_RETRY_FACTOR,
    retryMaxDelay,
    retryJitter: retryJitter ?? DEFAULT_JITTER,
    timeout: timeout ?? DEFAULT_TIMEOUT,
    concurrency,
    orderBy,
    rateLimit,
    circuitBreaker,
    spec,
  };
}

function caseAccepts(c: RuleCase, message: unknown): Scope | undefined {
  if (c.match && !c.match.test(message)) return undefined;
  if (c.matchNot && c.matchNot(message)) return undefined;
  const scope: Scope = { message, match: c.match ? c.match.expand(message) : {} };
  if (c.sample) {
    const h = fnv1a(String(c.sample.hash(scope)));
    if (h / 0x100000000 >= c.sample.rate) return undefined;
  }
  return scope;
}

/**
 * Decides what a rule does with an event: undefined when it does not apply (canary, no case
 * matched, sampled out), else the first matching case and the template scope.
 */
export function routeEvent(rule: Rule, message: unknown): RouteResult | undefined {
  if (rule.discardCanaryEvents) {
    const meta = (message as { meta?: { domain?: unknown } } | null)?.meta;
    if (meta && meta.domain === 'canary') return undefined;
  }
  for (const c of rule.cases) {
    const pre = (c as RuleCase & { pre?: RuleCase }).pre;
    if (pre && !caseAccepts(pre, message)) return undefined;
    const scope = caseAccepts(c, message);
    if (scope) return { ruleCase: c, scope };
  }
  return undefined;
}

function topicMatches(sel: TopicSelector, topic: string): boolean {
  return sel.regex ? sel.regex.test(topic) : sel.name === topic;
}

/** The streams a rule consumes, given the known stream names (for `/regex/` topics). */
export function resolveRuleStreams(rule: Rule, knownStreams: Iterable<string>): string[] {
  const out = new Set<string>();
  const known = [...knownStreams];
  for (const sel of rule.topics) {
    if (sel.name) out.add(sel.name);
    else for (const s of known) if (topicMatches(sel, s)) out.add(s);
  }
  for (const s of [...out]) if (rule.excludeTopics.some((x) => topicMatches(x, s))) out.delete(s);
  return [...out].sort();
}

/** Finds the rules map in a parsed file: `templates:` at the top, inside a full change-prop config, or the top level itself. */
function findTemplates(value: unknown, path: (string | number)[] = []): { rules: Record<string, unknown>; path: (string | number)[] } | undefined {
  if (!isObj(value) && !Array.isArray(value)) return undefined;
  if (isObj(value) && isObj(value.templates)) {
    const t = value.templates;
    if (path.length === 0) return { rules: t, path: ['templates'] };
    const vals = Object.values(t);
    if (vals.length === 0 || vals.some((r) => isObj(r) && ('topic' in r || 'topics' in r))) return { rules: t, path: [...path, 'templates'] };
  }
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [k, v] of entries) {
    const r = findTemplates(v, [...path, k]);
    if (r) return r;
  }
  return undefined;
}

/** Compiles the rules of a parsed YAML document. Throws ConfigError naming every problem. */
export function compileRulesFrom(loaded: LoadedYaml<unknown>): Rule[] {
  let found = findTemplates(loaded.value);
  if (!found && isObj(loaded.value) && !('services' in loaded.value)) found = { rules: loaded.value, path: [] };
  if (!found) {
    throw new ConfigError([{ file: loaded.file, line: 1, column: 1, path: '', message: "no rules found (expected a 'templates:' map of rules)" }]);
  }
  return compileRuleMap(found.rules, loaded.file, loaded.locate, found.path);
}

/** Compiles a map of rules (name → spec). `locate` maps config paths to positions. */
export function compileRuleMap(
  rules: Record<string, unknown>,
  file: string,
  locate: (p: (string | number)[]) => { line: number; column: number } = () => ({ line: 1, column: 1 }),
  base: (string | number)[] = [],
): Rule[] {
  const p = new Problems(file, locate, base);
  const out: Rule[] = [];
  for (const [name, spec] of Object.entries(rules)) {
    const r = compileRule(p, name, spec, file, locate([...base, name]).line);
    if (r) out.push(r);
  }
  if (p.list.length) throw new ConfigError(p.list);
  return out;
}

/** Reads and compiles a rule file. */
export function loadRuleFile(file: string): Rule[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file, line: 0, column: 0, path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  return compileRulesFrom(parseYaml(text, file));
}

/** Compiles rules given as YAML text (tests, inline config). */
export function rulesFromYaml(text: string, file = '<inline>'): Rule[] {
  return compileRulesFrom(parseYaml(text, file));
}
