// The page summary (GET /page/summary/{title}) from stored Parsoid HTML.
import { analyzePage, htmlToText, type PageAnalysis } from './analyze.ts';
import { contentUrls, imageRefs, pageIdentity } from './page.ts';
import type { DeriveMeta, Summary } from './types.ts';

const THUMB_WIDTH = 320;

/** Derives the summary from Parsoid HTML (or an analysis already made of it). */
export function deriveSummary(html: string | PageAnalysis, meta: DeriveMeta): Summary {
  const page = typeof html === 'string' ? analyzePage(html, { sections: false }) : html;
  const id = pageIdentity(page, meta);
  const extractHtml = page.extractHtml;
  const extract = htmlToText(extractHtml).trim();
  const isMainPage = meta.isMainPage ?? (meta.site !== undefined && meta.site.mainPage.replace(/ /g, '_') === id.title.prefixedDbKey);
  const type: Summary['type'] = isMainPage ? 'mainpage' : page.disambiguation ? 'disambiguation' : extract === '' ? 'no-extract' : 'standard';

  const description = meta.description ?? page.shortDescription;
  const descriptionSource = meta.description !== undefined ? (meta.description_source ?? 'central') : 'local';
  const images = imageRefs(page, meta, [THUMB_WIDTH]);

  // Key order follows the public API's responses.
  const summary: Summary = {
    type,
    title: id.title.prefixedDbKey,
    displaytitle: id.displaytitle,
    namespace: { id: id.title.namespace, text: id.namespaceText },
    ...(meta.wikibase_item ? { wikibase_item: meta.wikibase_item } : {}),
    titles: { canonical: id.title.prefixedDbKey, normalized: id.title.prefixedText, display: id.displaytitle },
    pageid: id.pageid,
    ...(meta.thumbnail && meta.originalimage
      ? { thumbnail: meta.thumbnail, originalimage: meta.originalimage }
      : images
        ? { thumbnail: images.thumbs.get(THUMB_WIDTH)!, originalimage: images.original }
        : {}),
    lang: id.lang,
    dir: id.dir,
    revision: id.revision,
    tid: id.tid,
    timestamp: id.timestamp,
    ...(description ? { description, description_source: descriptionSource } : {}),
    ...((meta.coordinates ?? page.coordinates) ? { coordinates: meta.coordinates ?? page.coordinates } : {}),
    content_urls: contentUrls(id, meta),
    extract,
    extract_html: extractHtml,
  };
  return summary;
}
