// Progress of long operator commands (wiki import, dlq replay, refresh). On a terminal: a
// cli-progress bar with rate and ETA. Otherwise (logs, CI, pipes): a plain line every
// `intervalMs` (2 s) and one at the end: `label: done/total (pct), rate/s, ETA`.
// Lines are printed from tick() itself, so a synchronous loop (the wiki import) reports too.
import cliProgress from 'cli-progress';

export interface Progress {
  /** `n` more items done (default 1). */
  tick(n?: number): void;
  /** The total, once known (or changed). */
  setTotal(total: number): void;
  /** Items done before this run (a resumed refresh): counted in done/total, not in the rate. */
  setStart(done: number): void;
  /** Final line / bar stop. */
  finish(note?: string): void;
}

export interface ProgressOptions {
  label: string;
  total?: number;
  /** Where to write (default stderr, so stdout stays for results). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Force bar (true) or lines (false); default: the stream is a TTY. */
  tty?: boolean;
  intervalMs?: number;
  now?: () => number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function formatRate(r: number): string {
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

export function startProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? 2000;
  const started = now();
  let total = opts.total;
  let base = 0; // done before this run
  let done = 0; // done in this run
  let lastLine = started;
  let finished = false;

  const rate = () => {
    const secs = (now() - started) / 1000;
    return secs > 0 ? done / secs : 0;
  };
  const eta = () => {
    if (total === undefined) return NaN;
    const r = rate();
    return r > 0 ? Math.max(0, total - base - done) / r : NaN;
  };
  const line = (final: boolean, note?: string) => {
    const all = base + done;
    const pct = total ? ` (${Math.floor((all / total) * 100)}%)` : '';
    const tail = final ? `in ${formatDuration((now() - started) / 1000)}` : total === undefined ? '' : `ETA ${formatDuration(eta())}`;
    stream.write(`${opts.label}: ${all}${total === undefined ? '' : `/${total}`}${pct}, ${formatRate(rate())}/s${tail ? `, ${tail}` : ''}${note ? `, ${note}` : ''}\n`);
  };

  if (opts.tty ?? Boolean(stream.isTTY)) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${opts.label} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_text}`,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total ?? 0, 0, { rate: '0', eta_text: '?' });
    const payload = () => ({ rate: formatRate(rate()), eta_text: formatDuration(eta()) });
    return {
      tick(n = 1) {
        done += n;
        bar.update(base + done, payload());
      },
      setTotal(t) {
        total = t;
        bar.setTotal(t);
      },
      setStart(d) {
        base = d;
        bar.update(base + done, payload());
      },
      finish(note) {
        if (finished) return;
        finished = true;
        bar.update(base + done, payload());
        bar.stop();
        if (note) stream.write(`${opts.label}: ${note}\n`);
      },
    };
  }
  // Also while no item completes (a slow origin), so a log shows the command is alive.
  const timer = setInterval(() => {
    if (now() - lastLine < intervalMs) return;
    lastLine = now();
    line(false);
  }, intervalMs);
  timer.unref();
  return {
    tick(n = 1) {
      done += n;
      const t = now();
      if (t - lastLine >= intervalMs) {
        lastLine = t;
        line(false);
      }
    },
    setTotal(t) {
      total = t;
    },
    setStart(d) {
      base = d;
    },
    finish(note) {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      line(true, note);
    },
  };
}

/** Adapts an `onProgress(done, total)` callback (wiki import, dlq replay) to a progress display. */
export function progressCallback(opts: ProgressOptions): { onProgress: (done: number, total: number) => void; finish: (note?: string) => void } {
  const p = startProgress(opts);
  let last = 0;
  let total: number | undefined;
  return {
    onProgress(done, t) {
      if (t !== total) p.setTotal((total = t));
      if (done > last) p.tick(done - last);
      last = Math.max(last, done);
    },
    finish: (note) => p.finish(note),
  };
}
