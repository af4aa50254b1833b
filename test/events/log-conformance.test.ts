// The event log contract (test/events/log-conformance.ts), run against every backend: the
// embedded SQLite log and NATS JetStream (real server; fails under CI when NATS is down).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventLog, type LogConfig } from '../../src/events/log/index.ts';
import { NATS_URL, requireBackend, uniqueName } from '../helpers/backends.ts';
import { runLogConformance, type LogUnderTest } from './log-conformance.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cascade-log-'));
const sqliteFile = join(tmp, 'events.sqlite');
const streamPrefix = uniqueName('ctest').replace(/[^A-Za-z0-9_-]/g, '_');

const backends: LogUnderTest[] = [
  {
    name: 'sqlite',
    async open(_t, extra = {}) {
      return openEventLog({ backend: 'sqlite', path: sqliteFile, synchronous: 'normal', trim_interval_ms: 100, ...extra } as LogConfig);
    },
    async cleanup() {
      rmSync(tmp, { recursive: true, force: true });
    },
  },
  {
    // synchronous=full acknowledges after an fsync of the WAL done off the event loop.
    name: 'sqlite (synchronous=full)',
    async open(_t, extra = {}) {
      return openEventLog({ backend: 'sqlite', path: join(tmp, 'events-full.sqlite'), synchronous: 'full', trim_interval_ms: 100, ...extra } as LogConfig);
    },
    async cleanup() {
      rmSync(tmp, { recursive: true, force: true });
    },
  },
  {
    name: 'jetstream',
    async open(t, extra = {}) {
      if (!(await requireBackend(t, 'nats'))) return undefined;
      return openEventLog({ backend: 'jetstream', url: NATS_URL, stream_prefix: streamPrefix, ...extra } as LogConfig);
    },
    async cleanup() {
      if (!(await requireBackend(undefined, 'nats').catch(() => false))) return;
      const { deleteStreamsWithPrefix } = await import('../../src/events/log/jetstream.ts');
      await deleteStreamsWithPrefix(NATS_URL, streamPrefix);
    },
  },
];

for (const b of backends) runLogConformance(b);
