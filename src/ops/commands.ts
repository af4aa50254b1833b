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

export function registerOpsCommands(program: Command, config: LoadConfig, defaultConfig: string): void {
  program
    .command('backup')
    .description('copy the SQLite store, event log and example wiki into DIR, online (SQLite backup API; Cascade may keep serving)')
    .argument('<dir>', 'new or empty directory')
    .option('-c, --config <file>', 'config file', defaultConfig)
    .option('--data-dir <dir>', 'data directory (overrides data_dir)')
    .action((dir: string, opts: { config: string; dataDir?: string }) =>
      reporting(async () => {
        const { backup } = await import('./backup.ts');
        const started = Date.now();
        const m = await backup(config(opts.config, opts.dataDir), dir);
        for (const f of m.files) console.log(`${f.role}: ${f.source} → ${f.file} (${(f.bytes / 1048576).toFixed(1)} MiB)`);
        for (const s of m.skipped) console.log(`skipped ${s}`);
        console.log(`backup of ${m.created_at} written to ${dir} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      }),
    );

  program
    .command('restore')
    .description('put a backup made by `cascade backup` back in place (Cascade must be stopped)')
    .argument('<dir>', 'the backup directory')
    .option('-c, --config <file>', 'config file (where the files go)', defaultConfig)
    .option('--data-dir <dir>', 'data directory (overrides data_dir)')
    .action((dir: string, opts: { config: string; dataDir?: string }) =>
      reporting(async () => {
        const { restore, readManifest } = await import('./backup.ts');
        const m = readManifest(dir);
        const r = await restore(config(opts.config, opts.dataDir), dir);
        for (const f of r.restored) console.log(`${f.role}: → ${f.path}`);
        console.log(`restored the backup of ${m.created_at}`);
      }),
    );
}
