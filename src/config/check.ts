// Everything `serve` would refuse, checked before it listens and by `cascade check-config`:
// stream patterns, schema directories, the data directory, origins and purge targets, and —
// with change propagation on — rule files, inline rules, execs and the dependency graph.
// Each problem names the file, line and column (rule files: their own; the rest: the config).
// The rule loaders of src/changeprop do the compiling; this only gathers and locates.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type ConfigProblem, type LoadedYaml } from './load.ts';
import { loadConfigWithSource } from './index.ts';
import type { CascadeConfig } from './schema.ts';

type Locate = LoadedYaml<unknown>['locate'];

export class ProblemList {
  readonly list: ConfigProblem[] = [];
  constructor(
    readonly file: string,
    readonly locate: Locate,
  ) {}
  at(path: (string | number)[], message: string): void {
    const pos = this.locate(path);
    this.list.push({ file: this.file, line: pos.line, column: pos.column, path: path.join('.'), message });
  }
  /** Problems of a loader's ConfigError; those without a real position are placed at `path`. */
  adopt(e: ConfigError, path: (string | number)[]): void {
    for (const p of e.problems) {
      if (p.line > 0 && !p.file.startsWith('<')) this.list.push(p);
      else this.at(path, p.message);
    }
  }
}

/** Loads a config file and runs every check; throws one ConfigError listing all problems. */
export async function loadCheckedConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<CascadeConfig> {
  const { config, source } = loadConfigWithSource(file, env);
  const problems = await checkConfig(config, source);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

export async function checkConfig(cfg: CascadeConfig, source: LoadedYaml<unknown>): Promise<ConfigProblem[]> {
  const p = new ProblemList(source.file, source.locate);
  checkDataDir(cfg, p);
  checkStreams(cfg, p);
  checkSchemaBases(cfg, p);
  await checkProducers(cfg, p);
  for (const [d, dc] of Object.entries(cfg.domains)) {
    if (!URL.canParse(dc.origin.url)) p.at(['domains', d, 'origin', 'url'], `not a URL: ${dc.origin.url}`);
  }
  if (cfg.changeprop.enabled) {
    const { checkChangeprop } = await import('./check-rules.ts');
    checkChangeprop(cfg, p);
  }
  return p.list;
}

/** The data directory must be a writable directory, or creatable under one. */
function checkDataDir(cfg: CascadeConfig, p: ProblemList): void {
  const dir = resolve(cfg.data_dir);
  let probe = dir;
  while (!existsSync(probe)) {
    const up = dirname(probe);
    if (up === probe) break;
    probe = up;
  }
  try {
    if (!statSync(probe).isDirectory()) {
      p.at(['data_dir'], probe === dir ? `${dir} is not a directory` : `${dir} cannot be created: ${probe} is a file`);
      return;
    }
    accessSync(probe, constants.W_OK | constants.X_OK);
  } catch (e) {
    p.at(['data_dir'], `${dir} is not writable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** events.producers: networks parse, stream patterns compile, token variables are set (src/events/producers.ts). */
async function checkProducers(cfg: CascadeConfig, p: ProblemList): Promise<void> {
  const { checkProducerConfig } = await import('../events/producers.ts');
  const { ownStreams } = await import('./shared.ts');
  try {
    checkProducerConfig(cfg.events, ownStreams(cfg));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const q of e.problems) {
      const path = q.path.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      p.at(path, q.file.startsWith('environment variable') ? `${q.file} ${q.message}` : q.message);
    }
  }
}

/** `/regex/flags` stream names must compile. */
function checkStreams(cfg: CascadeConfig, p: ProblemList): void {
  for (const name of Object.keys(cfg.events.streams)) {
    const m = /^\/(.*)\/([a-z]*)$/s.exec(name);
    if (!m) {
      if (name.startsWith('/')) p.at(['events', 'streams', name], `stream pattern ${name} must be written /regex/ (flags after the last slash)`);
      continue;
    }
    try {
      new RegExp(m[1]!, m[2]!.replace(/[gy]/g, ''));
    } catch (e) {
      p.at(['events', 'streams', name], `invalid stream pattern ${name}: ${(e as Error).message}`);
    }
  }
}

/** Local schema repositories (a directory or file:// URL) must exist. */
function checkSchemaBases(cfg: CascadeConfig, p: ProblemList): void {
  cfg.events.schema_base_uris.forEach((base, i) => {
    if (base === 'builtin') return;
    let dir: string;
    if (/^https?:\/\//i.test(base)) {
      if (!URL.canParse(base)) p.at(['events', 'schema_base_uris', i], `not a URL: ${base}`);
      return;
    }
    if (base.startsWith('file:')) {
      try {
        dir = fileURLToPath(base);
      } catch (e) {
        p.at(['events', 'schema_base_uris', i], `not a file URL: ${(e as Error).message}`);
        return;
      }
    } else if (/^[a-z][a-z0-9+.-]*:/i.test(base)) {
      p.at(['events', 'schema_base_uris', i], `unsupported schema base ${base} (builtin, a directory, file:// or http(s)://)`);
      return;
    } else dir = resolve(base);
    let st;
    try {
      st = statSync(dir);
    } catch {
      p.at(['events', 'schema_base_uris', i], `schema directory ${dir} does not exist`);
      return;
    }
    if (!st.isDirectory()) p.at(['events', 'schema_base_uris', i], `schema base ${dir} is not a directory`);
  });
}
