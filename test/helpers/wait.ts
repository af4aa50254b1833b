// Waiting in tests: for a condition or for a value, never for a fixed time. The one poll loop
// the suites share.

async function poll<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string, everyMs: number, retryErrors: boolean): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      if (!retryErrors) throw e;
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves once `cond` holds; an error thrown by `cond` fails at once. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition', everyMs = 20): Promise<void> {
  await poll(cond, timeoutMs, what, everyMs, false);
}

/** The first value `probe` gives (not undefined or false); a thrown error counts as "not yet" and is reported on timeout. */
export function valueWithin<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string, everyMs = 20): Promise<T> {
  return poll(probe, timeoutMs, what, everyMs, true);
}
