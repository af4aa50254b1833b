// Builds change propagation from cascade.yaml: the configured rules (rule files and inline
// `templates:`) and the engine on the event log. Used by src/app.ts and the CLI.
import { ConfigError } from '../config/load.ts';
import type { ChangepropConfig } from './config.ts';
import type { EventLog } from '../events/log/types.ts';
import { compileRuleMap, loadRuleFile, type Rule } from './rule.ts';
import { ChangePropEngine } from './engine.ts';
import type { DlqStreams } from './dlq.ts';
import type { DerivedRules } from './deps.ts';
import type { SysOptions, TransclusionLister } from './sys.ts';
import { OriginClient } from '../content/origin.ts';
import { MediaWikiAdapter } from '../origins/mediawiki/adapter.ts';
import { trackEngine } from './metrics.ts';
import { loadSigningKey } from './signing.ts';
import type { Dispatch } from '../router/inprocess.ts';
import type { Logger } from '../util/logger.ts';
import type { Clock } from '../util/clock.ts';

export const DERIVED_FILE = '<derived from changeprop.dependencies>';

/** What change propagation takes from outside its own section (`changeprop:`). */
export interface ChangepropShared {
  /** Topics are `{datacenter}.{stream}`. */
  datacenter: string;
  /** Where the signing key is kept when `signing_key` is unset. */
  dataDir: string;
  /** The configured domains and their origins (allowed hosts, `/sys/` modules). */
  domains: Record<string, { origin: { url: string } }>;
  /** Origin request timeout of a process without the content API (its own origin client). */
  originTimeoutMs: number;
  /** Streams declared to the event bus (`events.streams`; `/regex/` patterns are skipped). */
  eventStreams: string[];
  /** Rules derived from the declared resources (src/resources/rules.ts). */
  derived: DerivedRules;
}

/** The user's rules (rule files and inline `templates:`); throws ConfigError on a bad one or a duplicate name. */
export function userRules(cp: Pick<ChangepropConfig, 'rule_files' | 'templates'>): Rule[] {
  const rules: Rule[] = [];
  for (const f of cp.rule_files) rules.push(...loadRuleFile(f));
  if (Object.keys(cp.templates).length) rules.push(...compileRuleMap(cp.templates, '<config changeprop.templates>', undefined, ['changeprop', 'templates']));
  const seen = new Map<string, Rule>();
  for (const r of rules) {
    const prev = seen.get(r.name);
    if (prev) {
      throw new ConfigError([{ file: r.file, line: r.line, column: 1, path: r.name, message: `rule '${r.name}' is declared twice (also at ${prev.file}:${prev.line})` }]);
    }
    seen.set(r.name, r);
  }
  return rules;
}

export interface ExplainedRules {
  derived: DerivedRules;
  /** Derived rules replaced by a user rule of the same name. */
  replaced: string[];
  rules: Rule[];
}

/** Derived rules (from `changeprop.dependencies`) and the user's rules; a user rule replaces a derived one of its name. */
export function explainRules(cp: Pick<ChangepropConfig, 'rule_files' | 'templates'>, derived: DerivedRules): ExplainedRules {
  const users = userRules(cp);
  const names = new Set(users.map((r) => r.name));
  const replaced = Object.keys(derived.templates).filter((n) => names.has(n));
  const keep = Object.fromEntries(Object.entries(derived.templates).filter(([n]) => !names.has(n)));
  const rules = [...compileRuleMap(keep, DERIVED_FILE), ...users];
  return { derived, replaced, rules };
}

/** Every rule that runs: derived and configured. Throws ConfigError (file, line, rule, field). */
export function configuredRules(cp: Pick<ChangepropConfig, 'rule_files' | 'templates'>, derived: DerivedRules): Rule[] {
  return explainRules(cp, derived).rules;
}

/** Options of the in-process `/sys/` modules: the domains' origins, fan-out batch, purges. */
export function sysOptions(cp: ChangepropConfig, shared: Pick<ChangepropShared, 'domains' | 'originTimeoutMs'>, transclusions?: TransclusionLister): SysOptions {
  const origins: Record<string, string> = {};
  for (const [d, c] of Object.entries(shared.domains)) origins[d] = c.origin.url;
  const base = { origins, transclusionBatch: cp.transclusion_batch, purge: cp.purge };
  if (transclusions) return { ...base, transclusions };
  // Running without the content API (a changeprop-only process): an adapter of its own.
  const client = new OriginClient(shared.domains, { timeoutMs: shared.originTimeoutMs, connections: 2 });
  const adapter = new MediaWikiAdapter(client);
  return { ...base, transclusions: (d, t, n, c) => adapter.transclusions(d, t, n, c), close: () => client.close() };
}

export function dlqStreams(cp: ChangepropConfig, shared: Pick<ChangepropShared, 'datacenter' | 'dataDir'>): DlqStreams {
  return { datacenter: shared.datacenter, dlqStream: cp.dlq_stream, retryStream: cp.retry_stream, signingKey: signingKey(cp, shared.dataDir) };
}

/** The key that signs retry and continuation events: `changeprop.signing_key`, else `{data_dir}/changeprop.key`. */
export function signingKey(cp: Pick<ChangepropConfig, 'signing_key'>, dataDir: string): Buffer {
  return loadSigningKey(cp.signing_key, dataDir);
}

/** Stream names `/regex/` rule topics resolve against: configured streams that are plain names. */
export function knownStreams(cp: Pick<ChangepropConfig, 'streams'>, eventStreams: string[]): string[] {
  const out = new Set(cp.streams);
  for (const name of eventStreams) if (!name.startsWith('/')) out.add(name);
  return [...out];
}

export interface ChangepropService {
  engine: ChangePropEngine;
  rules: Rule[];
  close(): Promise<void>;
}

/**
 * Starts the engine. `selfUrl` is Cascade's own address (relative exec URIs, allowed host);
 * `dispatch`, its server's handler, runs those requests in process (`changeprop.in_process`).
 */
export async function startChangeprop(
  cp: ChangepropConfig,
  shared: ChangepropShared,
  deps: { log: EventLog; selfUrl: string; dispatch?: Dispatch; logger?: Logger; clock?: Clock; transclusions?: TransclusionLister },
): Promise<ChangepropService> {
  const rules = configuredRules(cp, shared.derived);
  if (!cp.signing_key && deps.log.backend !== 'sqlite') {
    // Another instance on this log would dead-letter our retries as unsigned, and we theirs.
    deps.logger?.('changeprop: no changeprop.signing_key configured; instances sharing this event log must share one (using the data dir key)', { file: shared.dataDir });
  }
  const allowed = [...cp.allowed_hosts, deps.selfUrl];
  for (const d of Object.values(shared.domains)) allowed.push(d.origin.url);
  const baseUri = cp.base_uri ?? deps.selfUrl;
  // In process only when relative URIs resolve to this very server (a base_uri elsewhere, e.g.
  // a CDN in front, keeps them on HTTP).
  const local = cp.in_process && deps.dispatch && deps.selfUrl && sameOrigin(baseUri, deps.selfUrl) ? deps.dispatch : undefined;
  const engine = new ChangePropEngine({
    log: deps.log,
    rules,
    datacenter: shared.datacenter,
    datacenters: cp.datacenters,
    knownStreams: knownStreams(cp, shared.eventStreams),
    domains: Object.keys(shared.domains),
    signingKey: signingKey(cp, shared.dataDir),
    allowedHosts: allowed,
    baseUri,
    ...(local ? { local } : {}),
    concurrency: cp.concurrency,
    retryStream: cp.retry_stream,
    dlqStream: cp.dlq_stream,
    dedupeWindowMs: cp.dedupe_window_seconds * 1000,
    retryMaxDelayMs: cp.retry_max_delay_ms,
    userAgent: cp.user_agent,
    logger: deps.logger,
    ...(deps.clock ? { clock: deps.clock } : {}),
    sys: sysOptions(cp, shared, deps.transclusions),
    http: { connections: cp.http_connections, pipelining: cp.http_pipelining },
  });
  await engine.start();
  const untrack = trackEngine(engine);
  deps.logger?.('changeprop started', { rules: rules.map((r) => r.name) });
  return {
    engine,
    rules,
    close: async () => {
      untrack();
      await engine.stop();
    },
  };
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
