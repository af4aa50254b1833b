// Validation errors in the shape EventGate reports them: the AJV error objects (ajv 8's, plus
// the `dataPath` ajv 6 gave EventGate's clients, e.g. `.meta.id`) and an `errorsText` built as
// EventGate builds it (`'<dataPath>' <message>`, comma-separated). Checks the intake makes
// itself (stream, $schema, meta.id) are reported as error objects of the same shape.
import type { ErrorObject } from 'ajv';

export interface EventValidationError {
  keyword: string;
  /** JSON Pointer of the offending value (ajv 8), e.g. `/meta/id`. */
  instancePath: string;
  /** The same as ajv 6 wrote it (EventGate's clients read this), e.g. `.meta.id`. */
  dataPath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message: string;
}

/** `/meta/id` → `.meta.id`, `/a-b/0` → `['a-b'][0]` (ajv 6's JavaScript property notation). */
export function dataPathOf(instancePath: string): string {
  if (instancePath === '') return '';
  return instancePath
    .slice(1)
    .split('/')
    .map((raw) => {
      const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      if (/^\d+$/.test(seg)) return `[${seg}]`;
      if (/^[a-z$_][a-z$_0-9]*$/i.test(seg)) return `.${seg}`;
      return `['${seg.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
    })
    .join('');
}

export function fromAjv(errors: readonly ErrorObject[] | null | undefined): EventValidationError[] {
  if (!errors) return [];
  return errors.map((e) => ({
    keyword: e.keyword,
    instancePath: e.instancePath,
    dataPath: dataPathOf(e.instancePath),
    schemaPath: e.schemaPath,
    params: e.params as Record<string, unknown>,
    message: e.message ?? 'is invalid',
  }));
}

/** An error object for a check the intake makes itself; `path` is a JSON Pointer (`/meta/stream`). */
export function intakeError(path: string, message: string, keyword = 'intake'): EventValidationError {
  const instancePath = path === '/' ? '' : path;
  return { keyword, instancePath, dataPath: dataPathOf(instancePath), schemaPath: '', params: {}, message };
}

/** EventGate's `errorsText`. */
export function errorsText(errors: readonly EventValidationError[]): string {
  return errors.map((e) => `'${e.dataPath}' ${e.message}`).join(', ');
}
