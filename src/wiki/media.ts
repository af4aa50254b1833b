// The media a page's wikitext links to, in the shape of MediaWiki's REST
// `GET /v1/page/{title}/links/media` (MediaLinksHandler): `{ files: [ … ] }`, in link order,
// each file once. The example wiki keeps no uploads, so a file's details are those of a file
// description page without a file (no `preferred` / `original` renditions: null).
const FILE_LINK = /\[\[\s*(?:File|Image)\s*:\s*([^|\]\n]+)/gi;

export interface MediaFile {
  title: string;
  file_description_url: string;
  latest: { timestamp: string; user: { id: number; name: string } } | null;
  preferred: null;
  original: null;
}

export function mediaLinks(wikitext: string, wikiBase: string): { files: MediaFile[] } {
  const seen = new Set<string>();
  const files: MediaFile[] = [];
  for (const m of wikitext.matchAll(FILE_LINK)) {
    const name = m[1]!.trim().replace(/_/g, ' ').replace(/\s+/g, ' ');
    if (!name) continue;
    const title = `File:${name[0]!.toUpperCase()}${name.slice(1)}`;
    if (seen.has(title)) continue;
    seen.add(title);
    files.push({ title, file_description_url: `${wikiBase}/wiki/${encodeURIComponent(title.replace(/ /g, '_')).replace(/%3A/g, ':')}`, latest: null, preferred: null, original: null });
  }
  return { files };
}
