// Change propagation's Prometheus series: the per-rule outcome counters and in-flight
// executions are read from the live engines' stats at scrape time (no work per event); the
// propagation lag (the event's meta.dt → its execution done) is a histogram observed per success.
import { metrics } from '../router/metrics.ts';
import type { ChangePropEngine, RuleStats } from './engine.ts';

export const propagationLag = metrics.histogram(
  'cascade_changeprop_lag_seconds',
  "Change propagation lag by rule: from the event's meta.dt to its execution's success",
  ['rule'],
  [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
);

const OUTCOMES: (keyof RuleStats)[] = ['received', 'executed', 'succeeded', 'ignored', 'retried', 'dead', 'deduped', 'superseded', 'loops', 'parked'];

const outcomes = metrics.sampled<ChangePropEngine>(
  'cascade_changeprop_events_total',
  'Change propagation events by rule and outcome (dead: written to the dead-letter stream; retried: a retry scheduled)',
  'counter',
  ['rule', 'outcome'],
  function* (engine) {
    for (const [rule, s] of Object.entries(engine.stats())) for (const o of OUTCOMES) yield [[rule, o], s[o]];
  },
);

const inFlight = metrics.sampled<ChangePropEngine>(
  'cascade_changeprop_in_flight',
  'Executions in progress by rule (concurrency slots taken)',
  'gauge',
  ['rule'],
  function* (engine) {
    for (const r of engine.runners) yield [[r.rule.name], r.inFlightCount];
  },
);

/** Reports this engine's series until the returned function is called (on stop). */
export function trackEngine(engine: ChangePropEngine): () => void {
  const a = outcomes.track(engine);
  const b = inFlight.track(engine);
  return () => {
    a();
    b();
  };
}
