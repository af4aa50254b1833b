// JetStream-specific behaviour that the shared conformance suite cannot observe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { openEventLog, type LogConfig } from '../../src/events/log/index.ts';
import { deleteStreamsWithPrefix, isNotFound } from '../../src/events/log/jetstream.ts';
import { NATS_URL, requireBackend, uniqueName } from '../helpers/backends.ts';

test('forgetAfterMs becomes the inactive_threshold of a group\'s durable consumers; other groups keep theirs forever', async (t) => {
  if (!(await requireBackend(t, 'nats'))) return;
  const prefix = uniqueName('cforget').replace(/[^A-Za-z0-9_-]/g, '_');
  const log = await openEventLog({ backend: 'jetstream', url: NATS_URL, stream_prefix: prefix } as LogConfig);
  const nc = await connect({ servers: NATS_URL });
  try {
    await log.append('dc.topic', [{ id: 'a', value: Buffer.from('{}') }]);
    const throwaway = await log.consumer('per-instance', ['dc.topic'], { startAt: 'latest', forgetAfterMs: 60_000 });
    const kept = await log.consumer('rule', ['dc.topic'], { startAt: 'earliest' });
    const jsm = await jetstreamManager(nc);
    const thresholds = new Map<string, number[]>();
    for await (const s of jsm.streams.list()) {
      if (!s.config.name.startsWith(prefix)) continue;
      for await (const c of jsm.consumers.list(s.config.name)) {
        if (!c.config.durable_name) continue;
        const group = c.config.durable_name.includes('per-instance') ? 'per-instance' : c.config.durable_name.includes('rule') ? 'rule' : 'other';
        thresholds.set(group, [...(thresholds.get(group) ?? []), Number(c.config.inactive_threshold ?? 0)]);
      }
    }
    assert.ok((thresholds.get('per-instance') ?? []).length > 0, `durables of the throwaway group: ${JSON.stringify([...thresholds])}`);
    for (const ns of thresholds.get('per-instance')!) assert.equal(ns, 60_000 * 1e6);
    assert.ok((thresholds.get('rule') ?? []).length > 0);
    for (const ns of thresholds.get('rule')!) assert.equal(ns, 0, 'a rule group is never forgotten');
    await throwaway.close();
    await kept.close();
  } finally {
    await log.close();
    await deleteStreamsWithPrefix(NATS_URL, prefix).catch(() => {});
    await nc.close();
  }
});

test('not-found is read from the JetStream API error code, not from the message', async (t) => {
  if (!(await requireBackend(t, 'nats'))) return;
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    const missing = uniqueName('nostream').replace(/[^A-Za-z0-9_-]/g, '_');
    const streamErr = await jsm.streams.info(missing).then(() => undefined, (e: unknown) => e);
    assert.ok(streamErr, 'info of a missing stream rejects');
    assert.equal(isNotFound(streamErr), true, String(streamErr));
    const name = uniqueName('nsconsumer').replace(/[^A-Za-z0-9_-]/g, '_');
    await jsm.streams.add({ name, subjects: [`${name}.>`], storage: 'memory' } as never);
    try {
      const consumerErr = await jsm.consumers.info(name, 'nobody').then(() => undefined, (e: unknown) => e);
      assert.equal(isNotFound(consumerErr), true, String(consumerErr));
      // Another API error (a second stream on the same subjects) is not "not found".
      const overlap = await jsm.streams.add({ name: `${name}_2`, subjects: [`${name}.>`], storage: 'memory' } as never).then(() => undefined, (e: unknown) => e);
      assert.ok(overlap, 'overlapping subjects are refused');
      assert.equal(isNotFound(overlap), false, String(overlap));
    } finally {
      await jsm.streams.delete(name).catch(() => {});
    }
    // A message that merely says "not found" is not a JetStream answer.
    assert.equal(isNotFound(new Error('route not found')), false);
  } finally {
    await nc.close();
  }
});
