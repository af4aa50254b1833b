// Loads a directory of `*.txt` wikitext files as pages: the file name (without `.txt`) is the
// title, with underscores and dashes as written (tests and benchmarks load the 70 real
// articles of ../shared/corpora/wikitext this way).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Wiki } from './wiki.ts';
import { SYSTEM_USER } from './wiki.ts';
import { parseTitle } from './site.ts';

export interface ImportResult {
  imported: number;
  unchanged: number;
  skipped: { file: string; reason: string }[];
  titles: string[];
}

export function titleFromFileName(file: string): string {
  return file.replace(/\.(txt|wiki|wikitext)$/i, '');
}

/** `onProgress(done, total)` after each file (the CLI shows a progress bar). */
export function importWikitextDir(wiki: Wiki, dir: string, onProgress?: (done: number, total: number) => void): ImportResult {
  const result: ImportResult = { imported: 0, unchanged: 0, skipped: [], titles: [] };
  const files = readdirSync(dir)
    .filter((f) => /\.(txt|wiki|wikitext)$/i.test(f))
    .sort();
  let done = 0;
  for (const file of files) {
    onProgress?.(done++, files.length);
    const title = titleFromFileName(file);
    const t = parseTitle(title);
    if (!t) {
      result.skipped.push({ file, reason: 'not a valid title' });
      continue;
    }
    const text = readFileSync(join(dir, file), 'utf8');
    const r = wiki.edit({ title: t.key, text, comment: `Imported from ${file}`, performer: SYSTEM_USER });
    if (r.changed) result.imported++;
    else result.unchanged++;
    result.titles.push(t.key);
  }
  onProgress?.(done, files.length);
  return result;
}
