// Public surface of title normalization (MediaWiki rules, per a wiki's siteinfo).
export { parseSiteinfo, namespaceKey } from './siteinfo.ts';
export type { SiteInfo, NamespaceInfo, CaseRule } from './siteinfo.ts';
export { normalizeTitle } from './normalize.ts';
export type { Title } from './normalize.ts';
export { TitleError, TitleErrors } from './errors.ts';
export type { TitleErrorCode } from './errors.ts';
export { convertByteClassToUnicodeClass } from './byteclass.ts';
export { ucfirst, phpCharToUpper } from './ucfirst.ts';
export { sanitizeIP } from './ip.ts';
