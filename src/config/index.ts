// Public surface of the config module.
import { resolve, isAbsolute } from 'node:path';
import { loadYamlFile, parseYaml, validateConfig, ConfigError } from './load.ts';
import { cascadeConfigSchema, type CascadeConfig } from './schema.ts';

export { ConfigError, formatProblem, parseYaml, validateConfig, loadYamlFile } from './load.ts';
export type { ConfigProblem, LoadedYaml } from './load.ts';
export type { CascadeConfig, DomainConfig } from './schema.ts';
export { cascadeConfigSchema } from './schema.ts';

/** Loads cascade.yaml, applies environment overrides and resolves data paths. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): CascadeConfig {
  const cfg = loadYamlFile<CascadeConfig>(file, cascadeConfigSchema);
  return finishConfig(cfg, env);
}

/** Validates a config given as YAML text (tests, embedded defaults). */
export function configFromYaml(text: string, file = '<inline>', env: NodeJS.ProcessEnv = process.env): CascadeConfig {
  const cfg = validateConfig<CascadeConfig>(parseYaml(text, file), cascadeConfigSchema);
  return finishConfig(cfg, env);
}

// Relative data paths resolve against the working directory, as the README's quick start assumes.
function finishConfig(cfg: CascadeConfig, env: NodeJS.ProcessEnv): CascadeConfig {
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
  if (!cfg.domains[cfg.default_domain]) {
    throw new ConfigError([{ file: '<config>', line: 1, column: 1, path: 'default_domain', message: `names no configured domain: ${cfg.default_domain}` }]);
  }
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
