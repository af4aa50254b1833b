// Public surface of the config module.
import { resolve, isAbsolute, dirname } from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { readYamlFile, parseYaml, validateConfig, ConfigError, type LoadedYaml, type ConfigProblem } from './load.ts';
import { parseCidr } from '../router/cidr.ts';
import { cascadeConfigSchema, type CascadeConfig } from './schema.ts';
import { applyResources, compileResources } from '../resources/declare.ts';
import { withBuiltinDeclarations } from '../resources/builtins.ts';

export { ConfigError, formatProblem, parseYaml, validateConfig, loadYamlFile, readYamlFile } from './load.ts';
export type { ConfigProblem, LoadedYaml } from './load.ts';
export type { CascadeConfig, DomainConfig } from './schema.ts';
export { cascadeConfigSchema } from './schema.ts';

export interface LoadOptions {
  /** Where notes about ambiguous paths go (default: stderr). */
  warn?: (message: string) => void;
}

/**
 * Loads cascade.yaml, applies environment overrides and resolves data paths. Relative paths in
 * the file (data_dir, rule_files, schema directories) resolve against the file's directory, so
 * `cascade serve --config /etc/cascade/cascade.yaml` works from any working directory.
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): CascadeConfig {
  return loadConfigWithSource(file, env, opts).config;
}

/** As loadConfig, also returning the parsed file (its node positions name lines in later checks). */
export function loadConfigWithSource(file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): { config: CascadeConfig; source: LoadedYaml<unknown> } {
  const source = readYamlFile(file);
  withBuiltinDeclarations(source.value);
  const cfg = validateConfig<CascadeConfig>(source, cascadeConfigSchema);
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`cascade: warning: ${m}\n`));
  return { config: finishConfig(cfg, env, source, { file, configDir: dirname(resolve(file)), warn }), source };
}

/** Validates a config given as YAML text (tests, embedded defaults). */
export function configFromYaml(text: string, file = '<inline>', env: NodeJS.ProcessEnv = process.env): CascadeConfig {
  const source = parseYaml(text, file);
  withBuiltinDeclarations(source.value);
  const cfg = validateConfig<CascadeConfig>(source, cascadeConfigSchema);
  return finishConfig(cfg, env, source);
}

// Inline configs (no file) resolve relative paths against the working directory.
function finishConfig(cfg: CascadeConfig, env: NodeJS.ProcessEnv, source: LoadedYaml<unknown>, from?: { file: string; configDir: string; warn: (m: string) => void }): CascadeConfig {
  // The distributed engines can be chosen without editing the file (CI, containers).
  if (env.CASCADE_STORAGE_BACKEND) cfg.storage.backend = envChoice(env, 'CASCADE_STORAGE_BACKEND', ['sqlite', 'postgres']);
  if (env.CASCADE_PG_URL) cfg.storage.postgres.url = env.CASCADE_PG_URL;
  const log = cfg.events.log;
  if (env.CASCADE_LOG_BACKEND) log.backend = envChoice(env, 'CASCADE_LOG_BACKEND', ['sqlite', 'jetstream']);
  if (log.backend === 'jetstream') {
    if (env.CASCADE_NATS_URL) log.url = env.CASCADE_NATS_URL;
    log.url ??= 'nats://127.0.0.1:4222';
  }
  if (env.CASCADE_PORT) cfg.listen.port = Number(env.CASCADE_PORT);
  if (env.CASCADE_DATA_DIR) cfg.data_dir = resolve(env.CASCADE_DATA_DIR); // a command-line value: the cwd
  else if (from) cfg.data_dir = resolveFromConfig(cfg.data_dir, 'data_dir', from, looksLikeDataDir);
  cfg.data_dir = resolve(cfg.data_dir);
  if (from) {
    cfg.changeprop.rule_files = cfg.changeprop.rule_files.map((f, i) => resolveFromConfig(f, `changeprop.rule_files[${i}]`, from, existsSync));
    cfg.events.schema_base_uris = cfg.events.schema_base_uris.map((b, i) =>
      b === 'builtin' || /^[a-z][a-z0-9+.-]*:/i.test(b) ? b : resolveFromConfig(b, `events.schema_base_uris[${i}]`, from, existsSync),
    );
  }
  const problems: ConfigProblem[] = [];
  const at = (path: (string | number)[], message: string) => {
    const pos = source.locate(path);
    problems.push({ file: source.file, line: pos.line, column: pos.column, path: path.join('.'), message });
  };
  if (!Object.hasOwn(cfg.domains, cfg.default_domain)) {
    at(['default_domain'], `names no configured domain: ${cfg.default_domain} (configured: ${Object.keys(cfg.domains).join(', ')})`);
  }
  cfg.http.trusted_proxies.forEach((p, i) => {
    try {
      parseCidr(p);
    } catch (e) {
      at(['http', 'trusted_proxies', i], (e as Error).message);
    }
  });
  // Declared resources: checked here (file and line), then their buckets and dependencies join the config.
  const resources = compileResources(cfg, source.file, source.locate, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  applyResources(cfg, resources, from?.warn);
  return cfg;
}

// Before relative paths followed the config file they followed the working directory. An old
// setup whose path exists only there keeps working, with a warning saying how to make it explicit.
function resolveFromConfig(p: string, key: string, from: { file: string; configDir: string; warn: (m: string) => void }, exists: (p: string) => boolean): string {
  if (isAbsolute(p)) return p;
  const byConfig = resolve(from.configDir, p);
  const byCwd = resolve(p);
  if (byConfig === byCwd) return byConfig;
  if (exists(byConfig)) {
    if (exists(byCwd)) from.warn(`${from.file}: ${key} '${p}' resolves against the config file's directory (${byConfig}), not the working directory (${byCwd}, which exists too); write an absolute path to be explicit`);
    return byConfig;
  }
  if (exists(byCwd)) {
    from.warn(`${from.file}: ${key} '${p}' is used relative to the working directory (${byCwd}) as before; relative paths now follow the config file's directory (${byConfig}): write an absolute path`);
    return byCwd;
  }
  return byConfig;
}

// A data dir worth keeping: one holding Cascade's SQLite files (an empty folder is not).
function looksLikeDataDir(dir: string): boolean {
  try {
    return readdirSync(dir).some((n) => n.endsWith('.sqlite'));
  } catch {
    return false;
  }
}

function envChoice<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[]): T {
  const v = env[name] as T;
  if (!allowed.includes(v)) {
    throw new ConfigError([{ file: `environment variable ${name}`, line: 0, column: 0, path: name, message: `must be one of ${allowed.join(', ')}, not '${v}'` }]);
  }
  return v;
}

/** Resolves a path from config against the data directory. */
export function dataPath(cfg: Pick<CascadeConfig, 'data_dir'>, p: string): string {
  return isAbsolute(p) ? p : resolve(cfg.data_dir, p);
}
