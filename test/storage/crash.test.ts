// Crash safety: a child writing to the SQLite store is SIGKILLed mid-stream; after reopening,
// every put it had acknowledged reads back byte-identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore, bucketSpec } from '../../src/storage/index.ts';
import { corpusPath } from '../helpers/corpus.ts';

interface Ack {
  kind: string;
  key: string;
  rev: number;
  tid: string;
  sha: string;
}

/** Runs the writer until it has acknowledged `minAcks` puts, then SIGKILLs it. */
function runAndKill(path: string, synchronous: string, compression: string, minAcks: number): Promise<{ acks: Ack[]; signal: string | null }> {
  const writer = join(import.meta.dirname, 'fixtures', 'crash-writer.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', writer, path, synchronous, corpusPath('html', 'Dog.html'), compression], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acks: Ack[] = [];
  let buf = '';
  let killed = false;
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      // Only complete lines count: a torn last line was never fully reported.
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') continue;
        const [kind, key, rev, tid, sha] = line.split(' ');
        acks.push({ kind, key, rev: Number(rev), tid, sha });
      }
      if (!killed && acks.length >= minAcks) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!killed) reject(new Error(`writer exited on its own (code ${code}, signal ${signal})`));
      else resolve({ acks, signal });
    });
  });
}

// The history variant: rows are deltas on earlier rows and a latest copy per key is rewritten on
// every put; after the kill every acknowledged render must still rebuild from its chain.
for (const [synchronous, compression] of [
  ['normal', 'gzip'],
  ['full', 'gzip'],
  ['normal', 'history'],
] as const) {
  test(`SIGKILL during puts (synchronous=${synchronous}, ${compression}): every acknowledged put reads back byte-identical`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cascade-crash-'));
    const path = join(dir, 'store.sqlite');
    try {
      const { acks, signal } = await runAndKill(path, synchronous, compression, 1500);
      assert.equal(signal, 'SIGKILL');
      assert.ok(acks.length >= 1500, `acks ${acks.length}`);

      const store = SqliteStore.open({ path, synchronous: 'normal' });
      try {
        await store.declareBucket(
          bucketSpec(
            'crash.example',
            'html',
            compression === 'history' ? { type: 'key_rev_value', compression: 'history', history: { max_chain: 6 } } : { type: 'key_rev_value', compression: 'gzip' },
          ),
        );
        await store.declareBucket(bucketSpec('crash.example', 'meta', { type: 'key_value', compression: 'none' }));
        let checked = 0;
        for (const a of acks) {
          const bucket = a.kind === 'kv' ? 'meta' : 'html';
          const rec = await store.getRevTid('crash.example', bucket, a.key, a.rev, a.tid);
          assert.ok(rec, `acknowledged put ${a.kind} ${a.key}/${a.rev}/${a.tid} is missing after the crash`);
          assert.equal(createHash('sha256').update(rec.body()).digest('hex'), a.sha, `${a.key}/${a.rev} differs`);
          checked++;
        }
        assert.equal(checked, acks.length);
        if (compression === 'history') {
          // The latest copy of each key is the newest acknowledged render (or a newer one).
          const newest = new Map<string, Ack>();
          for (const a of acks) if (a.kind === 'krv' && (newest.get(a.key)?.rev ?? -1) < a.rev) newest.set(a.key, a);
          for (const [key, a] of newest) {
            const latest = await store.getLatest('crash.example', 'html', key);
            assert.ok(latest && (latest.rev as number) >= a.rev, `latest of ${key}`);
            if (latest.rev === a.rev) assert.equal(createHash('sha256').update(latest.body()).digest('hex'), a.sha);
          }
          // And the store writes on from the recovered chains.
          const r = await store.put({ domain: 'crash.example', bucket: 'html', key: 'Page_1', rev: 1e9, body: 'after' });
          assert.equal((await store.getRevTid('crash.example', 'html', 'Page_1', 1e9, r.tid))?.body().toString(), 'after');
        }
        // The store is writable again after recovery.
        const r = await store.put({ domain: 'crash.example', bucket: 'meta', key: 'after-crash', body: 'ok' });
        assert.equal(r.status, 'created');
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
