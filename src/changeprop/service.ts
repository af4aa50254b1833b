// Builds change propagation from cascade.yaml: the configured rules (rule files and inline
// `templates:`) and the engine on the event log. Used by src/app.ts and the CLI.
import { ConfigError, type CascadeConfig } from '../config/index.ts';
import type { EventLog } from '../events/log/types.ts';
import { compileRuleMap, loadRuleFile, type Rule } from './rule.ts';
import { ChangePropEngine } from './engine.ts';
import type { DlqStreams } from './dlq.ts';

/** Every configured rule; throws ConfigError (file, line, rule, field) on a bad one or a duplicate name. */
export function configuredRules(config: CascadeConfig): Rule[] {
  const cp = config.changeprop;
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

export function dlqStreams(config: CascadeConfig): DlqStreams {
  return { datacenter: config.datacenter, dlqStream: config.changeprop.dlq_stream, retryStream: config.changeprop.retry_stream };
}

/** Stream names `/regex/` rule topics resolve against: configured streams that are plain names. */
export function knownStreams(config: CascadeConfig): string[] {
  const out = new Set(config.changeprop.streams);
  const streams = (config.events as { streams?: Record<string, unknown> }).streams ?? {};
  for (const name of Object.keys(streams)) if (!name.startsWith('/')) out.add(name);
  return [...out];
}

export interface ChangepropService {
  engine: ChangePropEngine;
  rules: Rule[];
  close(): Promise<void>;
}

/** Starts the engine. `selfUrl` is Cascade's own address (relative exec URIs, allowed host). */
export async function startChangeprop(
  config: CascadeConfig,
  deps: { log: EventLog; selfUrl: string; logger?: (msg: string, f?: Record<string, unknown>) => void },
): Promise<ChangepropService> {
  const cp = config.changeprop;
  const rules = configuredRules(config);
  const allowed = [...cp.allowed_hosts, deps.selfUrl];
  for (const d of Object.values(config.domains)) allowed.push(d.origin.url);
  const engine = new ChangePropEngine({
    log: deps.log,
    rules,
    datacenter: config.datacenter,
    datacenters: cp.datacenters,
    knownStreams: knownStreams(config),
    allowedHosts: allowed,
    baseUri: cp.base_uri ?? deps.selfUrl,
    concurrency: cp.concurrency,
    retryStream: cp.retry_stream,
    dlqStream: cp.dlq_stream,
    dedupeWindowMs: cp.dedupe_window_seconds * 1000,
    retryMaxDelayMs: cp.retry_max_delay_ms,
    userAgent: cp.user_agent,
    logger: deps.logger,
  });
  await engine.start();
  deps.logger?.('changeprop started', { rules: rules.map((r) => r.name) });
  return { engine, rules, close: () => engine.stop() };
}
