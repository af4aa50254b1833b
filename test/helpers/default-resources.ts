// The `resources:` block of the shipped config (config/cascade.yaml), as YAML to put in a
// test's config: what a user of the default config is served (media-list, history…).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { projectRoot } from './corpus.ts';

const shipped = parse(readFileSync(join(projectRoot, 'config', 'cascade.yaml'), 'utf8')) as { resources?: unknown };

export const DEFAULT_RESOURCES_YAML = stringify({ resources: shipped.resources ?? {} });
