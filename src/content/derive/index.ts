// Derived representations of stored Parsoid HTML: the page summary and the mobile sections.
export { deriveSummary } from './summary.ts';
export { deriveMobileSections, markReferenceSections } from './mobile.ts';
export { deriveMobileHtml, MOBILE_HTML_VERSION } from './mobile-html.ts';
export { analyzePage, htmlToText } from './analyze.ts';
export type { PageAnalysis, SectionInfo, AnalyzeOptions } from './analyze.ts';
export type * from './types.ts';
