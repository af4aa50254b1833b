// Child-process helpers for the ops tests: start a `cascade` command, wait for a JSON log line,
// stop it and wait for its exit. Output is kept for failure messages.
import { spawn, type ChildProcess } from 'node:child_process';
import { eachLine } from '../helpers/net.ts';

export interface CascadeProc {
  child: ChildProcess;
  /** Output lines so far (stdout and stderr). */
  lines: string[];
  exited: Promise<number | null>;
  /** The url of the `cascade listening` line, once seen. */
  url: string;
  /** Resolves with the first JSON line whose msg is `msg`. */
  waitFor(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Environment without CASCADE_* and node:test variables, so the child follows only its config and arguments. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CASCADE_') && !k.startsWith('NODE_TEST')) env[k] = v;
  return { ...env, ...extra };
}

export function startCascade(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): CascadeProc {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = new Promise<number | null>((r) => child.once('exit', (code, sig) => r(code ?? (sig ? 128 : null))));
  const waiters: { msg: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  const seen: Record<string, unknown>[] = [];
  const proc: CascadeProc = {
    child,
    lines,
    exited,
    url: '',
    waitFor(msg, timeoutMs = 60_000) {
      const found = seen.find((m) => m.msg === msg);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${msg}' within ${timeoutMs} ms:\n${lines.slice(-30).join('\n')}`)), timeoutMs);
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`exited (${code}) before '${msg}':\n${lines.slice(-30).join('\n')}`));
        });
        waiters.push({
          msg,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > 400) lines.splice(0, lines.length - 300);
    if (!line.startsWith('{')) return;
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (m.msg === 'cascade listening' && typeof m.url === 'string') proc.url = m.url;
    seen.push(m);
    for (const w of waiters.filter((x) => x.msg === m.msg)) w.resolve(m);
  };
  for (const stream of [child.stdout!, child.stderr!]) eachLine(stream, onLine);
  return proc;
}
