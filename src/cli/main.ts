// The `cascade` command line.
import { Command } from 'commander';
import { loadConfig, ConfigError } from '../config/index.ts';

const program = new Command();
program.name('cascade').description('Cascade: content API with persistent caching, event bus and change propagation');

const DEFAULT_CONFIG = 'config/cascade.yaml';

function config(file: string) {
  try {
    return loadConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`cascade: invalid configuration\n${e.message}`);
      process.exit(2);
    }
    throw e;
  }
}

program
  .command('serve')
  .description('start Cascade (the embedded default unless the config says otherwise)')
  .option('-c, --config <file>', 'config file', DEFAULT_CONFIG)
  .action(async (opts: { config: string }) => {
    const { startApp } = await import('../app.ts');
    const app = await startApp(config(opts.config));
    const stop = async () => {
      await app.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
  });

program
  .command('migrate')
  .description('create or migrate the storage schema and exit')
  .option('-c, --config <file>', 'config file', DEFAULT_CONFIG)
  .action(async (opts: { config: string }) => {
    const { openStore } = await import('../storage/index.ts');
    const cfg = config(opts.config);
    const store = await openStore(cfg);
    console.log(`cascade: ${store.backend} storage schema is up to date`);
    await store.close();
  });

program
  .command('check-config')
  .description('validate a config file and exit')
  .argument('[file]', 'config file', DEFAULT_CONFIG)
  .action((file: string) => {
    config(file);
    console.log(`${file}: ok`);
  });

// [changeprop] rule files and dead letters
const rules = program.command('rules').description('change-propagation rules');
rules
  .command('check')
  .description('validate rule files (Wikimedia change-propagation `templates:` format) without starting anything')
  .argument('<files...>', 'rule files')
  .action(async (files: string[]) => {
    const { loadRuleFile } = await import('../changeprop/index.ts');
    let bad = false;
    for (const f of files) {
      try {
        const list = loadRuleFile(f);
        console.log(`${f}: ok (${list.length} rule${list.length === 1 ? '' : 's'}: ${list.map((r) => r.name).join(', ')})`);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        bad = true;
        console.error(e.message);
      }
    }
    if (bad) process.exit(2);
  });

await program.parseAsync(process.argv);
