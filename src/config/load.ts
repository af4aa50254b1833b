// Loads YAML config and validates it against a JSON Schema. A bad config is reported
// with the file, the line and what is wrong, so an operator can fix it at once.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type AnySchema } from 'ajv';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document } from 'yaml';
import { CascadeError, Errors } from '../errors/index.ts';
import type { FromSchema, SchemaInput } from './schema-types.ts';

export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

export class ConfigError extends CascadeError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(Errors.config, problems.map(formatProblem).join('\n'), { extra: { problems } });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? p.path + ': ' : ''}${p.message}`;
}

export interface LoadedYaml<T> {
  value: T;
  /** Where a config path (e.g. ['domains','x','buckets']) stands in the file. */
  locate(path: (string | number)[]): { line: number; column: number };
  file: string;
}

/** Parses YAML text, keeping positions so later validation can name lines. */
export function parseYaml<T = unknown>(text: string, file: string): LoadedYaml<T> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { file, line: pos.line, column: pos.col, path: '', message: e.message.split('\n')[0] };
      }),
    );
  }
  const locate = (path: (string | number)[]) => locateIn(doc, lineCounter, path);
  return { value: doc.toJS({ maxAliasCount: 100 }) as T, locate, file };
}

function locateIn(doc: Document, lc: LineCounter, path: (string | number)[]): { line: number; column: number } {
  // A map entry is where its key is written (`default_domain: x` → the start of the line).
  if (path.length > 0) {
    const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
    const last = path[path.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((it) => (isScalar(it.key) ? it.key.value : it.key) === last);
      if (pair && isNode(pair.key) && pair.key.range) {
        const pos = lc.linePos(pair.key.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
  }
  // Walk up the path until a node with a position is found (a missing key has none).
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const pos = lc.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return { line: 1, column: 1 };
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });

/** Validates (and fills defaults into) `loaded.value` with a JSON Schema; throws ConfigError. */
export function validateConfig<T>(loaded: LoadedYaml<unknown>, schema: AnySchema): T {
  const validate = ajv.compile(schema);
  if (validate(loaded.value)) return loaded.value as T;
  throw new ConfigError(schemaProblems(loaded, validate.errors ?? []));
}

function schemaProblems(loaded: LoadedYaml<unknown>, errors: ErrorObject[]): ConfigProblem[] {
  const seen = new Set<string>();
  const out: ConfigProblem[] = [];
  for (const e of errors) {
    const path = e.instancePath
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      path.push(extra);
      message = `unknown setting '${extra}'`;
    } else if (e.keyword === 'enum') {
      message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    if (e.keyword === 'if' || e.keyword === 'anyOf' || e.keyword === 'oneOf') continue;
    const key = path.join('.') + '|' + message;
    if (seen.has(key)) continue;
    seen.add(key);
    const pos = loaded.locate(path);
    out.push({ file: loaded.file, line: pos.line, column: pos.column, path: path.join('.'), message });
  }
  if (out.length === 0) out.push({ file: loaded.file, line: 1, column: 1, path: '', message: 'does not match the schema' });
  return out;
}

/** Reads and parses a YAML file, keeping positions. */
export function readYamlFile(file: string): LoadedYaml<unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file, line: 0, column: 0, path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseYaml(text, file);
}

/** Reads, parses and validates a YAML file. */
export function loadYamlFile<T>(file: string, schema: AnySchema): T {
  return validateConfig<T>(readYamlFile(file), schema);
}

/**
 * A section given in code rather than in YAML (tests, buckets declared by a capability): checked
 * against its schema, with the schema's defaults filled into a copy.
 */
export function withDefaults<S extends object>(schema: S, value: SchemaInput<S>): FromSchema<S> {
  const validate = ajv.compile(schema); // compiled once per schema object (ajv caches by reference)
  const copy = structuredClone(value);
  if (!validate(copy)) throw new Error(`invalid config value ${JSON.stringify(value)}: ${ajv.errorsText(validate.errors)}`);
  return copy as FromSchema<S>;
}
