// Public surface of the config module.
import { resolve, isAbsolute } from 'node:path';
import { readYamlFile, parseYaml, validateConfig, ConfigError, type LoadedYaml, type ConfigProblem } from './load.ts';
import { parseCidr } from '../router/cidr.ts';
import { cascadeConfigSchema, type CascadeConfig } from './schema.ts';

export { ConfigError, formatProblem, parseYaml, validateConfig, loadYamlFile, readYamlFile } from './load.ts';
export type { ConfigProblem, LoadedYaml } from './load.ts';
export type { CascadeConfig, DomainConfig } from './schema.ts';
export { cascadeConfigSchema } from './schema.ts';

/** Loads cascade.yaml, applies environment overrides and resolves data paths. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): CascadeConfig {
  return loadConfigWithSource(file, env).config;
}

/** As loadConfig, also returning the parsed file (its node positions name lines in later checks). */
export function loadConfigWithSource(file: string, env: NodeJS.ProcessEnv = process.env): { config: CascadeConfig; source: LoadedYaml<unknown> } {
  const source = readYamlFile(file);
  const cfg = validateConfig<CascadeConfig>(source, cascadeConfigSchema);
  return { config: finishConfig(cfg, env, source), source };
}

/** Validates a config given as YAML text (tests, embedded defaults). */
export function configFromYaml(text: string, file = '<inline>', env: NodeJS.ProcessEnv = process.env): CascadeConfig {
  const source = parseYaml(text, file);
  const cfg = validateConfig<CascadeConfig>(source, cascadeConfigSchema);
  return finishConfig(cfg, env, source);
}

// Relative data paths resolve against the working directory, as the README's quick start assumes.
function finishConfig(cfg: CascadeConfig, env: NodeJS.ProcessEnv, source: LoadedYaml<unknown>): CascadeConfig {
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
  if (env.CASCADE_DATA_DIR) cfg.data_dir = env.CASCADE_DATA_DIR;
  cfg.data_dir = resolve(cfg.data_dir);
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
  if (problems.length > 0) throw new ConfigError(problems);
  return cfg;
}

function envChoice<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[]): T {
  const v = env[name] as T;
  if (!allowed.includes(v)) {
    throw new ConfigError([{ file: `environment variable ${name}`, line: 0, column: 0, path: name, message: `must be one of ${allowed.join(', ')}, not '${v}'` }]);
  }
  return v;
}

/** Resolves a path from config against the data directory. */
export function dataPath(cfg: CascadeConfig, p: string): string {
  return isAbsolute(p) ? p : resolve(cfg.data_dir, p);
}
