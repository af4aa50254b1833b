// Starts the event intake on a real SQLite log behind the real HTTP front, for the intake tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { configFromYaml, type CascadeConfig } from '../../src/config/index.ts';
import { Router } from '../../src/router/router.ts';
import { createHttpServer } from '../../src/router/server.ts';
import { openEventBus, mountEvents, type EventBus, type LogRecord } from '../../src/events/index.ts';
import { eventBusShared } from '../../src/config/shared.ts';
import { asLogger, type LogSink } from '../../src/util/logger.ts';

export interface IntakeFixture {
  url: string;
  bus: EventBus;
  config: CascadeConfig;
  dataDir: string;
  /** Every record of `{datacenter}.{stream}`. */
  records(stream: string): Promise<LogRecord[]>;
  post(body: unknown, opts?: { contentType?: string; query?: string; headers?: Record<string, string>; raw?: string }): Promise<{ status: number; body: unknown; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * The intake tests post many streams from loopback: unless a test says otherwise, loopback may
 * produce any stream, including the corpus's change-prop.* examples (internal streams, opened
 * explicitly as an operator would).
 */
const OPEN_TO_LOOPBACK = [
  { streams: ['/.*/'], from: ['loopback'] },
  { streams: ['/^change-prop\\./'], from: ['loopback'], internal: true },
];

export async function startIntake(events: Record<string, unknown>, opts: { datacenter?: string; env?: NodeJS.ProcessEnv; host?: string; logger?: LogSink; producers?: unknown; trustedProxies?: string[] } = {}): Promise<IntakeFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cascade-intake-'));
  const config = configFromYaml(
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      data_dir: dataDir,
      datacenter: opts.datacenter ?? 'dc1',
      default_domain: 'example.wiki',
      domains: { 'example.wiki': { origin: { url: 'http://127.0.0.1:1' } } },
      events: { log: { backend: 'sqlite', path: 'events.sqlite' }, ...(opts.producers === undefined ? { producers: OPEN_TO_LOOPBACK } : opts.producers === null ? {} : { producers: opts.producers }), ...events },
    }),
    '<test>',
    {},
  );
  const bus = await openEventBus(config.events, eventBusShared(config), { env: opts.env, logger: asLogger(opts.logger) });
  const router = new Router();
  mountEvents(router, bus.http);
  const server = createHttpServer({ router, trustedProxies: opts.trustedProxies });
  await new Promise<void>((resolve) => server.listen(0, opts.host ?? '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    bus,
    config,
    dataDir,
    async records(stream) {
      const out: LogRecord[] = [];
      let from = 0;
      for (;;) {
        const page = await bus.log.read(`${config.datacenter}.${stream}`, from, 1000);
        if (page.length === 0) return out;
        out.push(...page);
        from = page[page.length - 1].offset + 1;
      }
    },
    async post(body, o = {}) {
      const res = await fetch(`${url}/v1/events${o.query ?? ''}`, {
        method: 'POST',
        headers: { 'content-type': o.contentType ?? 'application/json', ...o.headers },
        body: o.raw ?? JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* keep text */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await bus.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
