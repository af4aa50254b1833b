// Small shared imports for the schema tests.
export { SchemaRepository, schemaSourceFor, BUILTIN_SCHEMA_DIR, formatErrors } from '../../src/events/index.ts';
import { isCascadeError } from '../../src/errors/index.ts';

export function isCascadeErrorLike(e: unknown, code: string): boolean {
  return isCascadeError(e) && e.code === code;
}
