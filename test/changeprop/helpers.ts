// Shared pieces of the change-propagation tests: a real local HTTP target that records every
// request it gets, and event builders on the real durable log.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventLog } from '../../src/events/log/types.ts';
import { openEventLog } from '../../src/events/log/index.ts';
import { NATS_URL, uniqueName } from '../helpers/backends.ts';


export interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

export type Behaviour = (req: Seen, nth: number) => { status: number; headers?: Record<string, string>; body?: string; delayMs?: number };

export class Target {
  readonly seen: Seen[] = [];
  private counts = new Map<string, number>();
  private server: Server;
  url = '';
  active = 0;
  maxActive = 0;
  behaviour: Behaviour = () => ({ status: 200 });

  constructor() {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const s: Seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString(), at: Date.now() };
        this.seen.push(s);
        const nth = (this.counts.get(s.path) ?? 0) + 1;
        this.counts.set(s.path, nth);
        const b = this.behaviour(s, nth);
        this.active++;
        this.maxActive = Math.max(this.maxActive, this.active);
        setTimeout(() => {
          this.active--;
          res.writeHead(b.status, { 'content-type': 'application/json', ...b.headers });
          res.end(b.body ?? JSON.stringify({ status: b.status, title: b.status >= 400 ? 'failure title' : 'ok' }));
        }, b.delayMs ?? 0);
      });
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    return this;
  }
  get host(): string {
    return this.url.replace('http://', '');
  }
  count(path: string): number {
    return this.seen.filter((s) => s.path === path).length;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export interface TestLog {
  log: EventLog;
  close(): Promise<void>;
}

/** A fresh real SQLite log in a temporary directory. */
export async function sqliteLog(): Promise<TestLog & { path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-cp-'));
  const path = join(dir, 'events.sqlite');
  const log = await openEventLog({ backend: 'sqlite', path, synchronous: 'normal' });
  return {
    log,
    path,
    async close() {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A real JetStream log with a unique stream prefix; its streams are deleted afterwards. */
export async function jetstreamLog(): Promise<TestLog> {
  const prefix = uniqueName('cp').replace(/[^A-Za-z0-9_-]/g, '_');
  const log = await openEventLog({ backend: 'jetstream', url: NATS_URL, stream_prefix: prefix, storage: 'memory' });
  return {
    log,
    async close() {
      await log.close();
      const { deleteStreamsWithPrefix } = await import('../../src/events/log/jetstream.ts');
      await deleteStreamsWithPrefix(NATS_URL, prefix);
    },
  };
}

export function event(stream: string, fields: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    $schema: '/resource_change/1.0.0',
    meta: { id: randomUUID(), dt: new Date().toISOString(), stream, domain: 'example.wiki', uri: `https://example.wiki/wiki/P${Math.random()}`, ...meta },
    ...fields,
  };
}

export async function append(log: EventLog, topic: string, events: Record<string, unknown>[]): Promise<void> {
  await log.append(
    topic,
    events.map((e) => ({ id: String((e.meta as { id: string }).id), value: Buffer.from(JSON.stringify(e)) })),
  );
}

export { until } from '../helpers/wait.ts';

export async function readAll(log: EventLog, topic: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let from = 0;
  for (;;) {
    const recs = await log.read(topic, from, 1000);
    if (!recs.length) return out;
    for (const r of recs) out.push(JSON.parse(r.value.toString()));
    from = recs[recs.length - 1].offset + 1;
  }
}
