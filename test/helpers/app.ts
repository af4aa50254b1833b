// A Cascade app for a test: a fresh data dir, a free port, default domain example.wiki, the
// example wiki off unless `yaml` has a `wiki:` block; `yaml` adds the rest of the config.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type App, type StartOptions } from '../../src/app.ts';
import { configFromYaml } from '../../src/config/index.ts';

export interface TestApp {
  app: App;
  dir: string;
  close(): Promise<void>;
}

export async function startTestApp(name: string, yaml: string, opts: StartOptions = { quiet: true }): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), `cascade-${name}-`));
  try {
    const config = configFromYaml(
      `listen: { host: 127.0.0.1, port: 0 }\ndata_dir: ${JSON.stringify(dir)}\ndefault_domain: example.wiki\n${/^wiki:/m.test(yaml) ? '' : 'wiki: { enabled: false }\n'}${yaml}`,
      '<test>',
      {},
    );
    const app = await startApp(config, opts);
    return {
      app,
      dir,
      async close() {
        await app.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
