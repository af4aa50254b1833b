// Backup and restore of the embedded default: the SQLite store, the SQLite event log and the
// example wiki. A backup runs while Cascade serves: it opens the files itself (WAL lets another
// process read while the server writes), opens a read transaction on each file first, so each
// copy is the snapshot of that instant (every write committed, hence acknowledged, before the
// backup started is in it), then copies them with SQLite's online backup API.
// Files are snapshotted in the order wiki → event log → store: a wiki event delivered after the
// wiki's snapshot is still in its outbox and sent again (deduplicated by id), and a rule that
// ran after the log's snapshot runs again on restore (change propagation is at least once).
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { dataPath, type CascadeConfig } from '../config/index.ts';
import { CascadeError } from '../errors/index.ts';
import { OpsErrors } from './cli-errors.ts';

export type BackupRole = 'wiki' | 'events' | 'storage';

export interface BackupManifest {
  format: 'cascade-backup/1';
  created_at: string;
  files: { role: BackupRole; file: string; source: string; bytes: number }[];
  /** What was not backed up and why (another backend, a disabled wiki). */
  skipped: string[];
}

/** What a backup reads of the config: where each capability keeps its SQLite file, and the server's address (restore). */
type BackupConfig = Pick<CascadeConfig, 'data_dir' | 'wiki' | 'events' | 'storage' | 'listen'>;

/** The SQLite files of a config, in snapshot order, and what has no SQLite file to copy. */
export function sqliteFiles(cfg: BackupConfig): { files: { role: BackupRole; path: string }[]; skipped: string[] } {
  const files: { role: BackupRole; path: string }[] = [];
  const skipped: string[] = [];
  const wikiPath = dataPath(cfg, cfg.wiki.path);
  if (cfg.wiki.enabled || existsSync(wikiPath)) files.push({ role: 'wiki', path: wikiPath });
  else skipped.push('wiki: disabled, no file');
  const log = cfg.events.log;
  if (log.backend === 'sqlite') files.push({ role: 'events', path: isAbsolute(log.path) ? log.path : resolve(cfg.data_dir, log.path) });
  else skipped.push(`events: the ${log.backend} log (back it up with its own tools)`);
  if (cfg.storage.backend === 'sqlite') files.push({ role: 'storage', path: dataPath(cfg, cfg.storage.sqlite.path) });
  else skipped.push(`storage: ${cfg.storage.backend} (back it up with its own tools, e.g. pg_dump)`);
  return { files, skipped };
}

export interface BackupProgress {
  role: BackupRole;
  totalPages: number;
  remainingPages: number;
}

/** Copies the config's SQLite files into `dir` (created; must not hold a backup already). */
export async function backup(cfg: BackupConfig, dir: string, opts: { onProgress?: (p: BackupProgress) => void } = {}): Promise<BackupManifest> {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) throw new CascadeError(OpsErrors.backupTarget, `${target} exists and is not empty`);
  const { files, skipped } = sqliteFiles(cfg);
  for (const f of files) {
    if (!existsSync(f.path)) throw new CascadeError(OpsErrors.backupSource, `${f.role}: ${f.path} does not exist (has Cascade run with this config?)`);
  }
  // Written beside the target and renamed at the end: a half-made backup never looks complete.
  const partial = `${target}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const dbs = files.map((f) => ({ ...f, db: new Database(f.path, { fileMustExist: true }) }));
  try {
    for (const d of dbs) {
      d.db.pragma('busy_timeout = 10000');
      d.db.exec('BEGIN');
      d.db.prepare('SELECT count(*) FROM sqlite_master').get(); // starts the read: the snapshot
    }
    const manifest: BackupManifest = { format: 'cascade-backup/1', created_at: new Date().toISOString(), files: [], skipped };
    for (const d of dbs) {
      const file = `${d.role}.sqlite`;
      // One step for the whole file: inside the open read transaction, never restarted by writers.
      await d.db.backup(join(partial, file), {
        progress: (p) => {
          opts.onProgress?.({ role: d.role, ...p });
          return 0x7fffffff;
        },
      });
      opts.onProgress?.({ role: d.role, totalPages: 1, remainingPages: 0 });
      d.db.exec('COMMIT');
      manifest.files.push({ role: d.role, file, source: d.path, bytes: statSync(join(partial, file)).size });
    }
    writeFileSync(join(partial, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    rmSync(target, { recursive: true, force: true });
    mkdirSync(dirname(target), { recursive: true });
    renameSync(partial, target);
    return manifest;
  } catch (e) {
    rmSync(partial, { recursive: true, force: true });
    throw e;
  } finally {
    for (const d of dbs) if (d.db.open) d.db.close();
  }
}

export function readManifest(dir: string): BackupManifest {
  let m: BackupManifest;
  try {
    m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
  } catch (e) {
    throw new CascadeError(OpsErrors.backupInvalid, `${dir}: no readable manifest.json (${(e as Error).message})`);
  }
  if (m.format !== 'cascade-backup/1' || !Array.isArray(m.files)) throw new CascadeError(OpsErrors.backupInvalid, `${dir}/manifest.json: not a Cascade backup (format ${String(m.format)})`);
  return m;
}

/**
 * Puts a backup's files where the config keeps them. Refuses while a process has them open or
 * a server answers on the configured port: replacing files under a running SQLite corrupts them.
 */
export async function restore(cfg: BackupConfig, dir: string): Promise<{ restored: { role: BackupRole; path: string }[] }> {
  const from = resolve(dir);
  const manifest = readManifest(from);
  const { files } = sqliteFiles(cfg);
  const plan = manifest.files.map((m) => {
    const to = files.find((f) => f.role === m.role);
    if (!to) throw new CascadeError(OpsErrors.backupInvalid, `the backup has the ${m.role} file but this config keeps no ${m.role} SQLite file`);
    if (!existsSync(join(from, m.file))) throw new CascadeError(OpsErrors.backupInvalid, `${from}: ${m.file} is missing`);
    return { role: m.role, src: join(from, m.file), path: to.path };
  });
  const holders = processesHolding(plan.map((p) => p.path));
  if (holders.length) throw new CascadeError(OpsErrors.restoreBusy, `${holders.join(', ')} ha${holders.length === 1 ? 's' : 've'} the files open; stop Cascade first`);
  if (cfg.listen.port && (await answers(cfg.listen.host, cfg.listen.port))) {
    throw new CascadeError(OpsErrors.restoreBusy, `a server answers on ${cfg.listen.host}:${cfg.listen.port}; stop Cascade first`);
  }
  for (const p of plan) {
    mkdirSync(dirname(p.path), { recursive: true });
    const tmp = `${p.path}.restore-${process.pid}`;
    copyFileSync(p.src, tmp);
    // The old WAL and shared-memory files belong to the old database: replayed on the
    // restored one they would corrupt it.
    for (const suffix of ['-wal', '-shm', '-journal']) rmSync(p.path + suffix, { force: true });
    renameSync(tmp, p.path);
  }
  return { restored: plan.map((p) => ({ role: p.role, path: p.path })) };
}

// Linux: which processes hold any of the files (or their WAL) open. Elsewhere nothing is found
// and the port check is what is left.
function processesHolding(paths: string[]): string[] {
  const wanted = new Set(paths.flatMap((p) => [p, `${p}-wal`, `${p}-shm`]));
  const out: string[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return out;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (wanted.has(target)) {
        out.push(`process ${pid}${pid === String(process.pid) ? ' (this one)' : ''} (${basename(target)})`);
        break;
      }
    }
  }
  return out;
}

/** Whether something accepts TCP connections on host:port (a running Cascade). */
export function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.setTimeout(1000);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('timeout', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(false));
  });
}
