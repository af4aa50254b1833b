// The `cascade` command line.
import { Command } from 'commander';
import { loadConfig, ConfigError } from '../config/index.ts';

const program = new Command();
program.name('cascade').description('Cascade: content API with persistent caching, event bus and change propagation');

const DEFAULT_CONFIG = 'config/cascade.yaml';

/** One problem on one line; several under a heading, one line each. */
function configErrorText(e: ConfigError): string {
  return e.problems.length === 1 ? `cascade: invalid configuration: ${e.message}` : `cascade: invalid configuration\n${e.message}`;
}

/** A usage mistake: one line on stderr and exit status 2, no stack trace. */
function usage(message: string): never {
  console.error(message);
  process.exit(2);
}

/** A problem in a config or rule file is a usage mistake (described by `text`); anything else is thrown on. */
function exitOnConfigError(e: unknown, text: (e: ConfigError) => string): never {
  if (!(e instanceof ConfigError)) throw e;
  usage(text(e));
}

/** `derive()` over the configured rules, or exit 2 on an invalid rule. */
function validRules<T>(derive: () => T): T {
  try {
    return derive();
  } catch (e) {
    exitOnConfigError(e, (c) => `cascade: invalid rules\n${c.message}`);
  }
}

function envWith(dataDir: string | undefined): NodeJS.ProcessEnv {
  return dataDir === undefined ? process.env : { ...process.env, CASCADE_DATA_DIR: dataDir };
}

function config(file: string, dataDir?: string) {
  try {
    return loadConfig(file, envWith(dataDir));
  } catch (e) {
    exitOnConfigError(e, configErrorText);
  }
}

/** Closes `closeable` and exits on SIGINT or SIGTERM. */
function stopOnSignal(closeable: { close(): Promise<void> }): void {
  const stop = async () => {
    await closeable.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

/** Loads the config with every check serve relies on (rules, dependencies, patterns, dirs); exit 2 on a problem. */
async function checkedConfig(file: string, dataDir?: string) {
  const { loadCheckedConfig } = await import('../config/check.ts');
  try {
    return await loadCheckedConfig(file, envWith(dataDir));
  } catch (e) {
    exitOnConfigError(e, configErrorText);
  }
}

program
  .command('serve')
  .description('start Cascade (the embedded default unless the config says otherwise)')
  .option('-c, --config <file>', 'config file (relative paths in it follow its directory)', DEFAULT_CONFIG)
  .option('--data-dir <dir>', 'data directory (overrides data_dir; CASCADE_DATA_DIR does too)')
  .action(async (opts: { config: string; dataDir?: string }) => {
    const { startApp } = await import('../app.ts');
    const { describeStartupError } = await import('./startup-errors.ts');
    const cfg = await checkedConfig(opts.config, opts.dataDir);
    let app;
    try {
      app = await startApp(cfg);
    } catch (e) {
      // An operational failure (port taken, database down): one line, no stack trace.
      console.error(`cascade: cannot start: ${describeStartupError(e, cfg)}`);
      process.exit(1);
    }
    stopOnSignal(app);
  });

program
  .command('migrate')
  .description('create or migrate the storage schema and exit')
  .option('-c, --config <file>', 'config file', DEFAULT_CONFIG)
  .action(async (opts: { config: string }) => {
    const { openStore } = await import('../storage/index.ts');
    const cfg = config(opts.config);
    const { storeShared } = await import('../config/shared.ts');
    const store = await openStore(cfg.storage, storeShared(cfg));
    console.log(`cascade: ${store.backend} storage schema is up to date`);
    await store.close();
  });

program
  .command('check-config')
  .description('validate a config file and exit')
  .argument('[file]', 'config file', DEFAULT_CONFIG)
  .action(async (file: string) => {
    await checkedConfig(file);
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

rules
  .command('explain')
  .description('print the dependency graph and every rule that runs (derived from resources.<name>.depends_on, and configured)')
  .option('-c, --config <file>', 'config file', DEFAULT_CONFIG)
  .action(async (opts: { config: string }) => {
    const cfg = config(opts.config);
    const { explainRules, DERIVED_FILE } = await import('../changeprop/service.ts');
    const { deriveAllRules } = await import('../resources/rules.ts');
    const { stringify } = await import('yaml');
    const ex = validRules(() => explainRules(cfg.changeprop, deriveAllRules(cfg)));
    console.log(`# dependency graph (${opts.config}: resources.<name>.depends_on)`);
    if (!ex.derived.graph.length) console.log('#   (none declared)');
    for (const g of ex.derived.graph) console.log(`#   ${g.from} → ${g.to}   [${g.rules.join(', ')}]${g.note ? ` (${g.note})` : ''}`);
    for (const n of ex.replaced) console.log(`#   derived rule ${n} is replaced by a configured rule of that name`);
    const derived = ex.rules.filter((r) => r.file === DERIVED_FILE);
    const own = ex.rules.filter((r) => r.file !== DERIVED_FILE);
    console.log(`\n# derived rules (${derived.length})`);
    console.log(stringify({ templates: Object.fromEntries(derived.map((r) => [r.name, r.spec])) }, { lineWidth: 0 }).trimEnd());
    console.log(`\n# configured rules (${own.length}: changeprop.rule_files, changeprop.templates)`);
    for (const r of own) console.log(`#   ${r.name}  (${r.file}:${r.line})`);
  });

const dlq = program.command('dlq').description('change-propagation dead letters');
async function dlqContext(file: string) {
  const cfg = config(file);
  const { configuredRules, dlqStreams } = await import('../changeprop/service.ts');
  const { deriveAllRules } = await import('../resources/rules.ts');
  const { openEventLog } = await import('../events/log/index.ts');
  const ruleList = validRules(() => configuredRules(cfg.changeprop, deriveAllRules(cfg)));
  const log = await openEventLog(cfg.events.log, { baseDir: cfg.data_dir });
  return { cfg, rules: ruleList, log, streams: dlqStreams(cfg.changeprop, { datacenter: cfg.datacenter, dataDir: cfg.data_dir }) };
}
function pickRule<T extends { name: string }>(list: T[], name: string): T {
  const r = list.find((x) => x.name === name);
  return r ?? usage(`cascade: no rule named ${name} (rules: ${list.map((x) => x.name).join(', ') || 'none'})`);
}
function parseSince(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const rel = /^(\d+)([smhd])$/.exec(s);
  if (rel) return Date.now() - Number(rel[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2] as 's']!;
  const t = Date.parse(s);
  return Number.isNaN(t) ? usage(`cascade: --since wants an ISO time or a duration like 30m, 2h, 1d: ${s}`) : t;
}
dlq
  .command('list')
  .description("list dead letters (all rules, or one)")
  .option('-c, --config <file>', 'config file', DEFAULT_CONFIG)
  .option('--rule <name>', 'only this rule')
  .option('--since <time>', 'only since this ISO time or duration (30m, 2h, 1d)')
  .option('--json', 'one JSON object per line')
  .action(async (opts: { config: string; rule?: string; since?: string; json?: boolean }) => {
    const { listDeadLetters } = await import('../changeprop/dlq.ts');
    const ctx = await dlqContext(opts.config);
    const names = opts.rule ? [pickRule(ctx.rules, opts.rule).name] : ctx.rules.map((r) => r.name);
    let n = 0;
    for (const name of names) {
      for (const d of await listDeadLetters(ctx.log, ctx.streams, name, { since: parseSince(opts.since) })) {
        n++;
        if (opts.json) console.log(JSON.stringify(d));
        else console.log(`${new Date(d.timestamp).toISOString()}  ${name}  #${d.offset}  ${d.status ?? '-'}  ${d.uri ?? '-'}  ${d.message}`);
      }
    }
    if (!opts.json) console.error(`${n} dead letter${n === 1 ? '' : 's'}`);
    await ctx.log.close();
  });
dlq
  .command('replay')
  .description("re-publish a rule's dead letters to its retry stream (a running engine executes them)")
  .option('-c, --config <file>', 'config file', DEFAULT_CONFIG)
  .requiredOption('--rule <name>', 'the rule')
  .option('--since <time>', 'only since this ISO time or duration (30m, 2h, 1d)')
  .option('--filter <match>', "only events matching this match object (rule syntax, YAML/JSON), e.g. '{meta: {domain: en.wikipedia.org}}'")
  .action(async (opts: { config: string; rule: string; since?: string; filter?: string }) => {
    const { replayDeadLetters } = await import('../changeprop/dlq.ts');
    const { parse } = await import('yaml');
    const { progressCallback } = await import('../ops/progress.ts');
    const ctx = await dlqContext(opts.config);
    const rule = pickRule(ctx.rules, opts.rule);
    const filter = opts.filter === undefined ? undefined : parse(opts.filter);
    const progress = progressCallback({ label: `replay ${rule.name}` });
    const n = await replayDeadLetters(ctx.log, ctx.streams, rule, { since: parseSince(opts.since), filter, onProgress: progress.onProgress });
    progress.finish();
    console.log(`re-published ${n} dead letter${n === 1 ? '' : 's'} of ${rule.name}`);
    await ctx.log.close();
  });

// [wiki] the example wiki origin, standalone
// [origins] what a wiki offers Cascade
const originCmd = program.command('origin').description('wiki origins');
originCmd
  .command('check')
  .description('probe a MediaWiki (siteinfo, REST routes, transform, Parsoid version, recentchanges) and print the config block to paste')
  .argument('<url>', 'the wiki, e.g. https://wiki.example.org (or its /w/api.php)')
  .option('--domain <domain>', 'the Cascade domain for the config block (default: the wiki\'s server name)')
  .option('--json', 'print the report as JSON')
  .action(async (url: string, opts: { domain?: string; json?: boolean }) => {
    const { checkOrigin, formatReport } = await import('../origins/mediawiki/check.ts');
    const report = await checkOrigin(url, { domain: opts.domain });
    console.log(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
    if (!report.probes[0]?.ok) process.exitCode = 1;
  });

const wikiCmd = program.command('wiki').description('the example wiki origin');
wikiCmd
  .command('serve')
  .description('run the example wiki on its own (MediaWiki REST/action API subset)')
  .option('-c, --config <file>', 'config file (its wiki: section gives the defaults)', DEFAULT_CONFIG)
  .option('--port <port>', 'port (0 picks a free one)')
  .option('--db <file>', 'the wiki SQLite file')
  .option('--events-url <url>', "Cascade's event intake, e.g. http://127.0.0.1:7231/v1/events")
  .option('--test-hooks', 'enable /w/rest.php/v1/_test/* (render counters, fault injection)')
  .action(async (opts: { config: string; port?: string; db?: string; eventsUrl?: string; testHooks?: boolean }) => {
    const { startWiki } = await import('../wiki/index.ts');
    const { dataPath } = await import('../config/index.ts');
    const cfg = config(opts.config);
    const w = cfg.wiki;
    const { createLogger } = await import('../util/logger.ts');
    const log = createLogger();
    const handle = await startWiki({
      dbPath: opts.db ?? dataPath(cfg, w.path),
      host: w.host,
      port: opts.port === undefined ? w.port : Number(opts.port),
      domain: w.domain,
      eventsUrl: opts.eventsUrl ?? w.events_url ?? `http://${cfg.listen.host}:${cfg.listen.port}/v1/events`,
      testHooks: opts.testHooks ?? w.test_hooks,
      seed: w.seed,
      logger: log,
    });
    log('example wiki listening', { url: handle.url, domain: w.domain });
    stopOnSignal(handle);
  });
wikiCmd
  .command('import')
  .description('import a directory of *.txt wikitext files (file name = title) into the example wiki')
  .argument('<dir>', 'directory, e.g. ../shared/corpora/wikitext')
  .option('-c, --config <file>', 'config file', DEFAULT_CONFIG)
  .option('--db <file>', 'the wiki SQLite file')
  .action(async (dir: string, opts: { config: string; db?: string }) => {
    const { importWikitextDir } = await import('../wiki/index.ts');
    const { dataPath } = await import('../config/index.ts');
    const { progressCallback } = await import('../ops/progress.ts');
    const cfg = config(opts.config);
    const progress = progressCallback({ label: 'import' });
    const r = await importWikitextDir(dir, { dbPath: opts.db ?? dataPath(cfg, cfg.wiki.path), domain: cfg.wiki.domain, seed: cfg.wiki.seed, onProgress: progress.onProgress });
    progress.finish();
    for (const s of r.skipped) console.error(`skipped ${s.file}: ${s.reason}`);
    console.log(`imported ${r.imported} page${r.imported === 1 ? '' : 's'} (${r.unchanged} unchanged, ${r.skipped.length} skipped)`);
  });

// [ops] backup, restore, refresh
const { registerOpsCommands } = await import('../ops/commands.ts');
registerOpsCommands(program, config, DEFAULT_CONFIG);

await program.parseAsync(process.argv);
