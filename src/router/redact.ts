// What external callers may learn from an error: never where Cascade's internal services
// live. Details of errors seen by external callers lose URLs, IP literals, `localhost` and the
// configured internal host names (with their ports); the full detail goes to the log.
import { isIP } from 'node:net';
import { CascadeError } from '../errors/index.ts';

const HIDDEN = '[internal address]';
const URL_RE = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>()]+/gi;
const V4_RE = /\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b/g;
const V6_BRACKET_RE = /\[[0-9a-f:.]+(?:%[\w.-]+)?\](?::\d{1,5})?/gi;
const V6_RE = /(?:[0-9a-f]{0,4}:){2,7}[0-9a-f.]{0,15}/gi;
const LOCALHOST_RE = /\blocalhost(?::\d{1,5})?\b/gi;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class DetailRedactor {
  private readonly hostsRe: RegExp | undefined;

  /** `hosts`: internal host names (origins, the listen address) to hide besides IP literals. */
  constructor(hosts: readonly string[] = []) {
    const names = [...new Set(hosts.filter((h) => h && !isIP(h) && h !== 'localhost'))];
    this.hostsRe = names.length ? new RegExp(`\\b(?:${names.map(escapeRe).join('|')})(?::\\d{1,5})?\\b`, 'gi') : undefined;
  }

  /**
   * The detail an external caller may see. Server errors (5xx) lose every address; client
   * errors (their detail often echoes the request, e.g. a title `User:127.0.0.1`) lose URLs
   * and internal host names only.
   */
  redact(detail: string, status: number): string {
    let d = detail.replace(URL_RE, HIDDEN);
    if (this.hostsRe) d = d.replace(this.hostsRe, HIDDEN);
    if (status >= 500) {
      d = d
        .replace(V6_BRACKET_RE, HIDDEN)
        .replace(V4_RE, HIDDEN)
        .replace(V6_RE, (m) => (isIP(m.replace(/[.:]+$/, '')) === 6 ? HIDDEN : m))
        .replace(LOCALHOST_RE, HIDDEN);
    }
    return d;
  }

  /** `e` itself when nothing needs hiding, else a copy with the redacted detail and string extras. */
  apply(e: CascadeError): CascadeError {
    const detail = this.redact(e.message, e.status);
    let extra: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(e.extra)) {
      if (typeof v !== 'string') continue;
      const r = this.redact(v, e.status);
      if (r !== v) (extra ??= { ...e.extra })[k] = r;
    }
    if (detail === e.message && extra === undefined) return e;
    return new CascadeError({ code: e.code, status: e.status, title: e.title }, detail, { extra: extra ?? e.extra });
  }
}
