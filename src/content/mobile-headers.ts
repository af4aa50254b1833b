// Headers of the derived representations as the mobile content service sends them: the content
// type per representation, `content-language` on everything derived for reading, and the legacy
// security headers its API spec checks (`x-frame-options`, `x-content-security-policy`). Mobile HTML is a page to display, so it gets a CSP that lets it
// show images and styles (the service's `mobile_html_csp`), not the API's `default-src 'none'`.
import { MOBILE_HTML_TYPE, MOBILE_TYPE, SUMMARY_TYPE } from './html.ts';

/** The mobile content service's CSP for mobile-html, with the wiki's own hosts as 'self' and any https origin for media. */
export const MOBILE_HTML_CSP =
  "default-src 'none'; connect-src 'self'; media-src 'self' https:; img-src 'self' https: data:; object-src 'none'; " +
  "script-src 'self' 'unsafe-inline'; style-src 'self' https: 'unsafe-inline'; frame-ancestors 'self'";
/** The API's CSP (as the router's default), repeated under the legacy header name. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

export function derivedType(bucket: string): string {
  if (bucket === 'summary') return SUMMARY_TYPE;
  if (bucket === 'mobile-html') return MOBILE_HTML_TYPE;
  return MOBILE_TYPE;
}

/** Headers a stored representation carries besides the common ones (none for Parsoid HTML). */
export function representationHeaders(bucket: string, lang: string | undefined): [string, string][] {
  if (bucket === 'html') return [];
  const out: [string, string][] = lang ? [['content-language', lang]] : [];
  const csp = bucket === 'mobile-html' ? MOBILE_HTML_CSP : API_CSP;
  out.push(['x-frame-options', 'SAMEORIGIN'], ['content-security-policy', csp], ['x-content-security-policy', csp], ['x-webkit-csp', csp]);
  // The mobile content service's value on its responses (preflights, which CORS reads it from, keep the router's list).
  out.push(['access-control-allow-headers', 'accept, x-requested-with, content-type']);
  return out;
}
