// The operator commands `cascade backup`, `cascade restore` and `cascade refresh`, registered on
// the CLI program (src/cli/main.ts) so main.ts stays a list of commands.
import type { Command } from 'commander';
import type { CascadeConfig } from '../config/index.ts';
import { CascadeError } from '../errors/index.ts';

type LoadConfig = (file: string, dataDir?: string) => CascadeConfig;

// Operator mistakes (busy files, bad pattern) end with one line and exit 1, not a stack trace.
async function reporting(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof CascadeError)) throw e;
    console.error(`cascade: ${e.title}: ${e.message}`);
    process.exit(1);
  }
}

/** A command on one directory that reads the config (with --data-dir), errors reported in one line. */
function dirCommand(
  program: Command,
  config: LoadConfig,
  defaultConfig: string,
  c: { name: string; description: string; dir: string; configHelp: string },
  run: (dir: string, config: () => CascadeConfig) => Promise<void>,
): void {
  program
    .command(c.name)
    .description(c.description)
    .argument('<dir>', c.dir)
    .option('-c, --config <file>', c.configHelp, defaultConfig)
    .option('--data-dir <dir>', 'data directory (overrides data_dir)')
    .action((dir: string, opts: { config: string; dataDir?: string }) => reporting(() => run(dir, () => config(opts.config, opts.dataDir))));
}

export function registerOpsCommands(program: Command, config: LoadConfig, defaultConfig: string): void {
  registerRefreshCommand(program, config, defaultConfig);
  const backupHelp = 'copy the SQLite store, event log and example wiki into DIR, online (SQLite backup API; Cascade may keep serving)';
  dirCommand(program, config, defaultConfig, { name: 'backup', description: backupHelp, dir: 'new or empty directory', configHelp: 'config file' }, async (dir, cfg) => {
    const { backup } = await import('./backup.ts');
    const started = Date.now();
    const m = await backup(cfg(), dir);
    for (const f of m.files) console.log(`${f.role}: ${f.source} → ${f.file} (${(f.bytes / 1048576).toFixed(1)} MiB)`);
    for (const s of m.skipped) console.log(`skipped ${s}`);
    console.log(`backup of ${m.created_at} written to ${dir} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
  const restoreHelp = 'put a backup made by `cascade backup` back in place (Cascade must be stopped)';
  dirCommand(program, config, defaultConfig, { name: 'restore', description: restoreHelp, dir: 'the backup directory', configHelp: 'config file (where the files go)' }, async (dir, cfg) => {
    const { restore, readManifest } = await import('./backup.ts');
    const m = readManifest(dir);
    const r = await restore(cfg(), dir);
    for (const f of r.restored) console.log(`${f.role}: → ${f.path}`);
    console.log(`restored the backup of ${m.created_at}`);
  });
}

export function parseRate(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(v.trim());
  if (!m || Number(m[1]) <= 0) throw new Error(`--rate wants requests per second, e.g. 20 or 20/s: ${v}`);
  return Number(m[1]);
}

export function registerRefreshCommand(program: Command, config: LoadConfig, defaultConfig: string): void {
  program
    .command('refresh')
    .description("re-render (or warm) a domain's pages, all or by title pattern: after a renderer deploy")
    .argument('[domain]', 'domain (default: default_domain)')
    .option('-c, --config <file>', 'config file', defaultConfig)
    .option('--url <url>', "a running Cascade (default: the one answering on the config's listen address, else one started in this process)")
    .option('--origin <url>', "the domain's origin for the page list (default: its origin.url)")
    .option('--mode <mode>', 'rerender (internal no-cache GET: render again) or warm (plain GET: render what is missing)', 'rerender')
    .option('--pattern <glob|/regex/>', "only titles matching, e.g. 'Silver*' or '/^List of/'")
    .option('--namespace <ns>', 'namespaces, comma separated', '0')
    .option('--rate <n/s>', 'at most this many requests started per second')
    .option('--concurrency <n>', 'requests at a time', '4')
    .option('--state <file>', 'state file (default: <data_dir>/refresh-<domain>-<mode>.json)')
    .option('--resume', 'continue the refresh recorded in the state file')
    .action(
      (
        domainArg: string | undefined,
        opts: { config: string; url?: string; origin?: string; mode: string; pattern?: string; namespace: string; rate?: string; concurrency: string; state?: string; resume?: boolean },
      ) =>
        reporting(async () => {
          const { refresh } = await import('./refresh.ts');
          const { startProgress } = await import('./progress.ts');
          const { join } = await import('node:path');
          const usage = (m: string) => {
            console.error(`cascade: ${m}`);
            process.exit(2);
          };
          if (opts.mode !== 'rerender' && opts.mode !== 'warm') return usage(`--mode is rerender or warm, not ${opts.mode}`);
          const namespaces = opts.namespace.split(',').map(Number);
          if (namespaces.some((n) => !Number.isInteger(n))) return usage(`--namespace wants numbers: ${opts.namespace}`);
          const concurrency = Number(opts.concurrency);
          if (!Number.isInteger(concurrency) || concurrency < 1) return usage(`--concurrency wants a positive integer: ${opts.concurrency}`);
          let rate: number | undefined;
          try {
            rate = opts.rate === undefined ? undefined : parseRate(opts.rate);
          } catch (e) {
            return usage((e as Error).message);
          }
          const cfg = config(opts.config);
          const domain = domainArg ?? cfg.default_domain;
          if (!cfg.domains[domain]) return usage(`no domain ${domain} in ${opts.config} (domains: ${Object.keys(cfg.domains).join(', ')})`);
          let app: { url: string; close(): Promise<void> } | undefined;
          if (!opts.url && cfg.listen.port) {
            // A Cascade already serving this config owns its ports: talk to it instead.
            const { answers } = await import('./backup.ts');
            if (await answers(cfg.listen.host, cfg.listen.port)) {
              opts.url = `http://${cfg.listen.host}:${cfg.listen.port}`;
              console.error(`cascade: using the Cascade answering on ${opts.url} (--url to choose another)`);
            }
          }
          if (!opts.url) {
            const { startApp } = await import('../app.ts');
            cfg.listen.port = 0;
            app = await startApp(cfg, { quiet: true });
          }
          const ac = new AbortController();
          const onSignal = () => ac.abort(new Error('interrupted'));
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          const stateFile = opts.state ?? join(cfg.data_dir, `refresh-${domain}-${opts.mode}.json`);
          const progress = startProgress({ label: `${opts.mode} ${domain}` });
          try {
            const r = await refresh({
              cascadeUrl: opts.url ?? app!.url,
              originUrl: opts.origin ?? cfg.domains[domain].origin.url,
              domain,
              mode: opts.mode,
              pattern: opts.pattern,
              namespaces,
              ratePerSec: rate,
              concurrency,
              stateFile,
              resume: opts.resume,
              internalToken: cfg.admin_token,
              progress,
              signal: ac.signal,
            });
            progress.finish(r.state.failed.length ? `${r.state.failed.length} failed` : undefined);
            for (const f of r.state.failed) console.log(`failed ${f.title}: ${f.status}`);
            if (r.interrupted) {
              const at = r.state.position ? `after ${r.state.position.key} (namespace ${r.state.position.ns})` : 'at the start';
              console.log(`interrupted ${at}: ${r.state.done} pages done; --resume continues (state: ${stateFile})`);
              process.exitCode = 130;
            } else {
              console.log(`${opts.mode === 'rerender' ? 're-rendered' : 'warmed'} ${r.state.done} page${r.state.done === 1 ? '' : 's'} of ${domain} (${r.requested} in this run, ${r.state.failed.length} failed)`);
              if (r.state.failed.length) process.exitCode = 1;
            }
          } finally {
            progress.finish();
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
            await app?.close();
          }
        }),
    );
}
