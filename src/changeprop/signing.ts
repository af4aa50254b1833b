// Cascade's own change-propagation events (retries, template fan-out and its continuations)
// carry an HMAC-SHA256 `signature` over the event's JSON (without `signature`), so that the engine can tell them from
// events someone else wrote to those streams: a forged retry could otherwise pick its own
// `retries_left`, `emitter_id` and `original_event`.
//
// The key: `changeprop.signing_key` in cascade.yaml, else `{data_dir}/changeprop.key`
// (32 random bytes, hex, mode 0600), created on first use. Instances that share an event log
// (and so each other's retry streams) must share the key: configure `signing_key`.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const KEY_FILE = 'changeprop.key';

export class EventSigner {
  private readonly key: Buffer;
  constructor(key: Buffer | string) {
    this.key = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
    if (this.key.length < 16) throw new Error('a signing key needs at least 16 bytes');
  }

  private mac(ev: Record<string, unknown>): Buffer {
    const { signature: _omit, ...rest } = ev;
    // JSON.stringify of a parsed event gives back the text it was parsed from (same key order,
    // same number and string forms), so the bytes signed are the bytes verified.
    return createHmac('sha256', this.key).update(JSON.stringify(rest)).digest();
  }

  /** The event with its `signature`. */
  sign<T extends object>(ev: T): T & { signature: string } {
    return { ...ev, signature: this.mac(ev as Record<string, unknown>).toString('base64url') };
  }

  /** True when the event carries a valid signature. Never throws. */
  verify(ev: unknown): boolean {
    try {
      if (ev === null || typeof ev !== 'object') return false;
      const sig = (ev as { signature?: unknown }).signature;
      if (typeof sig !== 'string' || sig.length > 100) return false;
      const got = Buffer.from(sig, 'base64url');
      const want = this.mac(ev as Record<string, unknown>);
      return got.length === want.length && timingSafeEqual(got, want);
    } catch {
      return false; // e.g. nesting too deep to canonicalize: not ours
    }
  }
}

/**
 * The signing key: the configured one, else the one in the data dir (created, mode 0600, when
 * missing; two processes racing to create it end up with the same file).
 */
export function loadSigningKey(configured: string | undefined, dataDir: string): Buffer {
  if (configured) return Buffer.from(configured, 'utf8');
  const path = join(dataDir, KEY_FILE);
  const read = (): Buffer | undefined => {
    try {
      const text = readFileSync(path, 'utf8').trim();
      if (!/^[0-9a-f]{64,}$/i.test(text)) throw new Error(`${path}: not a hex key of 32 bytes or more`);
      if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
      return Buffer.from(text, 'hex');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  };
  const existing = read();
  if (existing) return existing;
  mkdirSync(dataDir, { recursive: true });
  try {
    writeFileSync(path, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const created = read();
  if (!created) throw new Error(`${path}: could not create the change-propagation signing key`);
  return created;
}
