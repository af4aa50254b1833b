// Locates ../shared/corpora. Missing corpora fail loudly (they are part of CI's checkout).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const projectRoot = resolve(import.meta.dirname, '..', '..');
export const corpusRoot = process.env.CASCADE_CORPUS_DIR ?? resolve(projectRoot, '..', 'shared', 'corpora');

/** Absolute path of a corpus file; throws with a clear message when it is missing. */
export function corpusPath(...parts: string[]): string {
  const p = resolve(corpusRoot, ...parts);
  if (!existsSync(p)) throw new Error(`corpus file missing: ${p} (expected ../shared/corpora next to the project root)`);
  return p;
}
