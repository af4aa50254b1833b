// Named response shapes for stored resources (`shape:` in a declaration): a backend's answer
// turned into the shape clients of the public API expect, in code (no templates run here).
// One so far: MediaWiki's REST `links/media` → the mobile content service's media-list.

export interface ShapeInput {
  /** The backend's answer. */
  body: Buffer;
  /** The revision and tid the stored render gets. */
  rev: number | undefined;
  tid: string;
}

export type Shape = (i: ShapeInput) => Buffer;

interface MediaFile {
  title?: unknown;
  preferred?: { mediatype?: unknown; url?: unknown } | null;
  original?: { mediatype?: unknown; url?: unknown } | null;
}

/** MediaWiki media types → the media-list's `type`. */
const MEDIA_TYPES: Record<string, string> = { BITMAP: 'image', DRAWING: 'image', VIDEO: 'video', AUDIO: 'audio' };

/** A URL as the media-list writes it: protocol-relative. */
const protocolRelative = (u: string) => u.replace(/^https?:/, '');

/**
 * `{files: [...]}` (MediaWiki 1.35+ REST `/v1/page/{title}/links/media`) → `{revision, tid,
 * items}`. Files the wiki does not have (no `preferred` rendition) are left out, as the mobile
 * content service lists only media it can show. What links/media does not say (the section,
 * the caption, the lead image) is left out rather than made up; `leadImage` is false.
 */
function pcsMediaList(i: ShapeInput): Buffer {
  let files: MediaFile[] = [];
  try {
    const j = JSON.parse(i.body.toString('utf8')) as { files?: unknown };
    if (Array.isArray(j.files)) files = j.files as MediaFile[];
  } catch {
    // Not JSON: no items.
  }
  const items = files.flatMap((f) => {
    const r = f.preferred ?? f.original;
    if (typeof f.title !== 'string' || !r || typeof r.url !== 'string') return [];
    const type = MEDIA_TYPES[String(r.mediatype)] ?? 'image';
    const title = f.title.startsWith('File:') ? f.title.replace(/ /g, '_') : `File:${f.title.replace(/ /g, '_')}`;
    return [{ title, leadImage: false, type, showInGallery: type === 'image' || type === 'video', srcset: [{ src: protocolRelative(r.url), scale: '1x' }] }];
  });
  return Buffer.from(JSON.stringify({ revision: String(i.rev ?? 0), tid: i.tid, items }));
}

export const SHAPES: Record<string, Shape> = {
  'pcs-media-list': pcsMediaList,
};
