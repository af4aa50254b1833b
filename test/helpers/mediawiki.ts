// A throw-away real MediaWiki (Debian's `mediawiki` package, SQLite, the Parsoid bundled in core)
// for end-to-end tests and benchmarks. Installed once per machine into a template directory under
// the OS temp dir (install.php + a few articles from ../shared/corpora/wikitext), then copied per
// instance and served by `php -S` on an ephemeral loopback port in its own process group.
// Nothing under /etc/mediawiki or /var/lib/mediawiki is touched: each instance has its own
// LocalSettings.php, selected with MW_CONFIG_FILE.
//
// Under CI=true a wiki that cannot be set up fails the test; elsewhere it skips loudly.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { corpusPath } from './corpus.ts';
import { freePort } from './net.ts';

const run = promisify(execFile);

export const MW_ROOT = process.env.CASCADE_MW_ROOT ?? '/usr/share/mediawiki';
const PHP = process.env.CASCADE_PHP ?? 'php';
export const ADMIN_USER = 'Admin';
export const ADMIN_PASSWORD = 'Cascade-test-pass-1';
/** Bump when the template's content or settings change, so stale templates are not reused. */
const TEMPLATE_VERSION = 3;

/** Articles imported into every wiki: corpus file (../shared/corpora/wikitext) → title. */
export const DEFAULT_ARTICLES: Record<string, string> = {
  'Bodmin.txt': 'Bodmin',
  'BBDO.txt': 'BBDO',
  'Goryeo-ware.txt': 'Goryeo ware',
  'RNDIS.txt': 'RNDIS',
  'Charlie-Milstead.txt': 'Charlie Milstead',
  'HMS-Irresistible.txt': 'HMS Irresistible',
};

export interface MediaWikiOptions {
  /** Also serve core's development REST routes (`/coredev/v0/transform/…`). Default false (stock). */
  coreDevRoutes?: boolean;
  /** Send `$wgRCFeeds` JSON over UDP to 127.0.0.1:<port>. */
  rcFeedUdpPort?: number;
  /** `$wgJobRunRate` (default MediaWiki's 1: jobs run at the end of web requests). */
  jobRunRate?: number;
  /** PHP lines appended to LocalSettings.php. */
  extraSettings?: string;
  /** `PHP_CLI_SERVER_WORKERS` (default 4), so renders and API calls run side by side. */
  workers?: number;
}

export interface EditResult {
  pageid: number;
  title: string;
  /** The new revision, or the current one when the edit changed nothing. */
  revid: number;
  oldrevid: number;
  nochange: boolean;
}

/** An action API response as parsed JSON; tests read the fields they assert on. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely typed API JSON, test-only
export type ApiJson = any;

export interface MediaWiki {
  /** Origin base URL for Cascade (`http://127.0.0.1:<port>`); entry points under `/w/`. */
  url: string;
  apiUrl: string;
  restUrl: string;
  dir: string;
  configFile: string;
  /** Titles imported at setup. */
  articles: string[];
  /** Action API GET (JSON, formatversion 2) as the logged-in admin. */
  api(params: Record<string, string | number | boolean>): Promise<ApiJson>;
  /** Action API POST with a CSRF token as the logged-in admin; throws on `error`. */
  post(params: Record<string, string | number | boolean>): Promise<ApiJson>;
  edit(title: string, text: string, summary?: string): Promise<EditResult>;
  delete(title: string, reason?: string): Promise<void>;
  undelete(title: string, reason?: string): Promise<void>;
  /** Moves a page; leaves a redirect behind unless `noredirect`. */
  move(from: string, to: string, opts?: { noredirect?: boolean; reason?: string }): Promise<void>;
  /**
   * Revision deletion (action=revisiondelete). `hide` defaults to content; `suppress: true`
   * also hides it from admins (oversight; logged in the private suppress log, not in recentchanges).
   */
  suppressRevision(revid: number, opts?: { hide?: Array<'content' | 'comment' | 'user'>; suppress?: boolean; show?: boolean }): Promise<void>;
  /** Runs the job queue to completion (maintenance/runJobs.php). */
  runJobs(): Promise<void>;
  /** Latest revision id of a title (undefined when missing). */
  latestRevision(title: string): Promise<number | undefined>;
  /** HTTP GET against the wiki (path beginning with `/`). */
  get(path: string): Promise<Response>;
  /** Requests the server has logged so far matching a substring (php -S access log). */
  requestLog(): string[];
  close(): Promise<void>;
}

/** True when php and MediaWiki look installed. */
export function mediaWikiAvailable(): { ok: boolean; reason?: string } {
  if (!existsSync(join(MW_ROOT, 'maintenance', 'install.php'))) return { ok: false, reason: `MediaWiki not found at ${MW_ROOT} (apt-get install --no-install-recommends mediawiki)` };
  return { ok: true };
}

/**
 * Starts a wiki, or (outside CI) marks the test skipped and returns undefined when it cannot.
 * Under CI=true any failure is thrown, so the test fails.
 */
export async function requireMediaWiki(t: TestContext | undefined, opts: MediaWikiOptions = {}): Promise<MediaWiki | undefined> {
  try {
    const a = mediaWikiAvailable();
    if (!a.ok) throw new Error(a.reason);
    await run(PHP, ['-r', 'foreach (["pdo_sqlite","intl","mbstring","xml"] as $e) if (!extension_loaded($e)) { fwrite(STDERR, "php extension $e missing\\n"); exit(1); }']);
    return await startMediaWiki(opts);
  } catch (e) {
    const msg = `real MediaWiki unavailable: ${(e as Error).message}`;
    if (process.env.CI) throw new Error(`${msg} (CI requires it; .ci/run installs it)`, { cause: e });
    console.error(`\n!!! SKIPPING: ${msg}\n`);
    // Suite hooks get a context without skip(); their tests skip themselves on undefined.
    if (typeof t?.skip === 'function') t.skip(msg);
    return undefined;
  }
}

function phpString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Settings every instance gets (appended to install.php's LocalSettings). */
function commonSettings(dir: string): string {
  return `
# --- Cascade test settings ---
$wgCacheDirectory = ${phpString(join(dir, 'cache'))};
$wgShowExceptionDetails = true;
$wgUseInstantCommons = false;
$wgEnableUploads = false;
$wgMainCacheType = CACHE_NONE;
$wgParserCacheType = CACHE_DB;
$wgPasswordAttemptThrottle = [];
$wgRateLimits = [];
# Revision deletion and oversight (core gives them to the 'suppress' group only).
$wgGroupPermissions['sysop']['deleterevision'] = true;
$wgGroupPermissions['sysop']['deletelogentry'] = true;
$wgGroupPermissions['sysop']['suppressrevision'] = true;
$wgGroupPermissions['sysop']['viewsuppressed'] = true;
$wgGroupPermissions['sysop']['suppressionlog'] = true;
`;
}

let templatePromise: Promise<string> | undefined;

/** Builds (once per machine and settings) the installed, imported wiki that instances copy. */
function template(): Promise<string> {
  templatePromise ??= buildTemplate();
  return templatePromise;
}

async function buildTemplate(): Promise<string> {
  const version = readFileSync(join(MW_ROOT, 'includes', 'Defines.php'), 'utf8').match(/MW_VERSION', '([^']+)'/)?.[1] ?? 'unknown';
  const hash = createHash('sha256').update(JSON.stringify([TEMPLATE_VERSION, version, MW_ROOT, DEFAULT_ARTICLES])).digest('hex').slice(0, 12);
  const final = join(tmpdir(), `cascade-mediawiki-template-${hash}`);
  if (existsSync(join(final, 'ready'))) return final;
  const work = `${final}.tmp-${process.pid}-${Date.now()}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'db'), { recursive: true });
  mkdirSync(join(work, 'cache'), { recursive: true });
  mkdirSync(join(work, 'import'), { recursive: true });
  await run(PHP, [
    join(MW_ROOT, 'maintenance', 'install.php'),
    '--dbtype', 'sqlite', '--dbpath', join(work, 'db'), '--dbname', 'wiki',
    '--server', 'http://127.0.0.1:1', '--scriptpath', '/w', '--lang', 'en',
    '--pass', ADMIN_PASSWORD, '--confpath', work, 'Cascade Test Wiki', ADMIN_USER,
  ], { cwd: work, maxBuffer: 16 << 20 });
  // install.php writes LocalSettings.php; keep it as the base every instance rewrites.
  renameSync(join(work, 'LocalSettings.php'), join(work, 'LocalSettings.base.php'));
  const conf = join(work, 'LocalSettings.php');
  writeFileSync(conf, instanceSettings(work, work, 1, {}));
  const env = { ...process.env, MW_CONFIG_FILE: conf };
  for (const [file, title] of Object.entries(DEFAULT_ARTICLES)) {
    cpSync(corpusPath('wikitext', file), join(work, 'import', title));
  }
  await run(PHP, [join(MW_ROOT, 'maintenance', 'importTextFiles.php'), '--bot', '--summary', 'import from corpus',
    ...Object.values(DEFAULT_ARTICLES).map((t) => join(work, 'import', t))], { env, cwd: work, maxBuffer: 16 << 20 });
  await run(PHP, [join(MW_ROOT, 'maintenance', 'runJobs.php')], { env, cwd: work, maxBuffer: 16 << 20 });
  await run(PHP, [join(MW_ROOT, 'maintenance', 'rebuildLocalisationCache.php'), '--lang', 'en'], { env, cwd: work, maxBuffer: 16 << 20 });
  rmSync(join(work, 'import'), { recursive: true, force: true });
  writeFileSync(join(work, 'ready'), new Date().toISOString());
  try {
    renameSync(work, final);
  } catch {
    // Another process finished first; use its template.
    rmSync(work, { recursive: true, force: true });
  }
  return final;
}

/** LocalSettings.php for a wiki whose data lives in `dir`, served on `port`. */
function instanceSettings(templateDir: string, dir: string, port: number, opts: MediaWikiOptions): string {
  let base = readFileSync(join(templateDir, 'LocalSettings.base.php'), 'utf8');
  base = base
    .replace(/^\$wgServer = .*$/m, `$wgServer = ${phpString(`http://127.0.0.1:${port}`)};`)
    .replace(/^\$wgSQLiteDataDir = .*$/m, `$wgSQLiteDataDir = ${phpString(join(dir, 'db'))};`);
  let extra = commonSettings(dir);
  if (opts.coreDevRoutes) extra += `$wgRestAPIAdditionalRouteFiles[] = 'includes/Rest/coreDevelopmentRoutes.json';\n`;
  if (opts.jobRunRate !== undefined) extra += `$wgJobRunRate = ${Number(opts.jobRunRate)};\n`;
  if (opts.rcFeedUdpPort) {
    extra += `$wgRCFeeds['cascade'] = [ 'formatter' => JSONRCFeedFormatter::class, 'uri' => 'udp://127.0.0.1:${Number(opts.rcFeedUdpPort)}', 'add_interwiki_prefix' => false, 'omit_bots' => false ];\n`;
  }
  if (opts.extraSettings) extra += `${opts.extraSettings}\n`;
  return `${base}\n${extra}`;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) killGroup(p);
});

function killGroup(p: ChildProcess): void {
  if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

export async function startMediaWiki(opts: MediaWikiOptions = {}): Promise<MediaWiki> {
  const tpl = await template();
  const dir = mkdtempSync(join(tmpdir(), 'cascade-mediawiki-'));
  cpSync(join(tpl, 'db'), join(dir, 'db'), { recursive: true });
  cpSync(join(tpl, 'cache'), join(dir, 'cache'), { recursive: true });
  mkdirSync(join(dir, 'docroot'));
  // The docroot maps /w/ onto the MediaWiki install, so /w/api.php and /w/rest.php/… resolve
  // like on a standard install (php -S fills PATH_INFO for rest.php itself).
  symlinkSync(MW_ROOT, join(dir, 'docroot', 'w'));
  const port = await freePort();
  const configFile = join(dir, 'LocalSettings.php');
  writeFileSync(configFile, instanceSettings(tpl, dir, port, opts));
  const logFile = join(dir, 'server.log');
  const logFd = openSync(logFile, 'a');
  const env = { ...process.env, MW_CONFIG_FILE: configFile, PHP_CLI_SERVER_WORKERS: String(opts.workers ?? 4) };
  const proc = spawn(PHP, ['-S', `127.0.0.1:${port}`, '-t', join(dir, 'docroot')], {
    env,
    cwd: dir,
    detached: true,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const url = `http://127.0.0.1:${port}`;

  const cookies = new Map<string, string>();
  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const remember = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      if (i > 0) cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
  };
  const apiGet = async (params: Record<string, string | number | boolean>) => {
    const q = new URLSearchParams({ format: 'json', formatversion: '2', ...stringify(params) });
    const res = await fetch(`${url}/w/api.php?${q}`, { headers: { cookie: cookieHeader() } });
    remember(res);
    const text = await res.text();
    if (!res.ok) throw new Error(`MediaWiki API ${params.action}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };
  const apiPost = async (params: Record<string, string | number | boolean>) => {
    const body = new URLSearchParams({ format: 'json', formatversion: '2', ...stringify(params) });
    const res = await fetch(`${url}/w/api.php`, { method: 'POST', body, headers: { cookie: cookieHeader() } });
    remember(res);
    const text = await res.text();
    if (!res.ok) throw new Error(`MediaWiki API ${params.action}: HTTP ${res.status} ${text.slice(0, 300)}`);
    const j = JSON.parse(text);
    if (j.error) throw new Error(`MediaWiki API ${params.action}: ${j.error.code}: ${j.error.info}`);
    return j;
  };

  const close = async () => {
    killGroup(proc);
    if (proc.exitCode === null && proc.signalCode === null) await new Promise((r) => proc.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`php -S exited (${proc.exitCode}): ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      try {
        const j = await apiGet({ action: 'query', meta: 'siteinfo' });
        if (j.query?.general?.generator) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`MediaWiki did not answer on ${url} within 30 s: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const lt = await apiGet({ action: 'query', meta: 'tokens', type: 'login' });
    const login = await apiPost({ action: 'login', lgname: ADMIN_USER, lgpassword: ADMIN_PASSWORD, lgtoken: lt.query.tokens.logintoken });
    if (login.login?.result !== 'Success') throw new Error(`MediaWiki login failed: ${JSON.stringify(login)}`);
  } catch (e) {
    await close();
    throw e;
  }

  let csrf: string | undefined;
  const token = async () => {
    csrf ??= (await apiGet({ action: 'query', meta: 'tokens', type: 'csrf' })).query.tokens.csrftoken as string;
    return csrf;
  };
  const post = async (params: Record<string, string | number | boolean>) => apiPost({ ...params, token: await token() });

  const latestRevision = async (title: string): Promise<number | undefined> => {
    const j = await apiGet({ action: 'query', prop: 'revisions', rvprop: 'ids', titles: title });
    const p = j.query?.pages?.[0];
    return p && !p.missing ? (p.revisions?.[0]?.revid as number) : undefined;
  };

  return {
    url,
    apiUrl: `${url}/w/api.php`,
    restUrl: `${url}/w/rest.php`,
    dir,
    configFile,
    articles: Object.values(DEFAULT_ARTICLES),
    api: apiGet,
    post,
    async edit(title, text, summary = 'test edit') {
      const j = await post({ action: 'edit', title, text, summary, bot: true });
      const e = j.edit;
      if (e.result !== 'Success') throw new Error(`edit ${title}: ${JSON.stringify(e)}`);
      const nochange = e.nochange !== undefined && e.nochange !== false;
      const revid = nochange ? ((await latestRevision(title)) ?? 0) : e.newrevid;
      return { pageid: e.pageid, title: e.title, revid, oldrevid: e.oldrevid ?? 0, nochange };
    },
    async delete(title, reason = 'test delete') {
      await post({ action: 'delete', title, reason });
    },
    async undelete(title, reason = 'test undelete') {
      await post({ action: 'undelete', title, reason });
    },
    async move(from, to, o = {}) {
      await post({ action: 'move', from, to, reason: o.reason ?? 'test move', ...(o.noredirect ? { noredirect: true } : {}), movetalk: true });
    },
    async suppressRevision(revid, o = {}) {
      const hide = (o.hide ?? ['content']).join('|');
      await post({
        action: 'revisiondelete', type: 'revision', ids: revid,
        ...(o.show ? { show: hide } : { hide }),
        suppress: o.suppress ? 'yes' : 'nochange', reason: 'test revision deletion',
      });
    },
    async runJobs() {
      await run(PHP, [join(MW_ROOT, 'maintenance', 'runJobs.php')], { env, cwd: dir, maxBuffer: 16 << 20 });
    },
    latestRevision,
    get: (path) => fetch(url + path, { headers: { cookie: cookieHeader() } }),
    requestLog: () => readFileSync(logFile, 'utf8').split('\n').filter((l) => / \[\d{3}\]: /.test(l)),
    close,
  };
}

function stringify(p: Record<string, string | number | boolean>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) {
    if (v === false) continue;
    out[k] = v === true ? '1' : String(v);
  }
  return out;
}
