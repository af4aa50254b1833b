// Child process of crash-intake.test.ts: the HTTP intake on a SQLite log in the given data
// directory, killed with SIGKILL by the test. Prints `READY <url>` once listening.
import type { AddressInfo } from 'node:net';
import { configFromYaml } from '../../src/config/index.ts';
import { Router } from '../../src/router/router.ts';
import { createHttpServer } from '../../src/router/server.ts';
import { openEventBus, mountEvents } from '../../src/events/index.ts';
import { eventBusShared } from '../../src/config/shared.ts';

const dataDir = process.argv[2];
const config = configFromYaml(
  JSON.stringify({
    listen: { host: '127.0.0.1', port: 0 },
    data_dir: dataDir,
    datacenter: 'dc1',
    default_domain: 'example.wiki',
    domains: { 'example.wiki': { origin: { url: 'http://127.0.0.1:1' } } },
    events: {
      schema_base_uris: ['builtin'],
      streams: { 'mediawiki.revision-create': { schema_title: 'mediawiki/revision/create' } },
      log: { backend: 'sqlite', path: 'events.sqlite' },
    },
  }),
  '<crash-child>',
  {},
);
const bus = await openEventBus(config.events, eventBusShared(config));
const router = new Router();
mountEvents(router, { intake: bus.intake, maxBodyBytes: config.events.max_body_bytes, allowHasty: false });
const server = createHttpServer({ router });
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
