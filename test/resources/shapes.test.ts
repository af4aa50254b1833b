// Named shapes of stored resources: MediaWiki's REST links/media as the mobile content
// service's media-list (the shape its clients and x-amples expect).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHAPES } from '../../src/resources/shapes.ts';

test('pcs-media-list: files the wiki has become items; missing files and junk are left out', () => {
  const answer = {
    files: [
      { title: 'Hummingbird.jpg', preferred: { mediatype: 'BITMAP', url: 'https://upload.example/thumb/Hummingbird.jpg/640px.jpg' }, original: { mediatype: 'BITMAP', url: 'https://upload.example/Hummingbird.jpg' } },
      { title: 'Song.ogg', preferred: { mediatype: 'AUDIO', url: 'https://upload.example/Song.ogg' } },
      { title: 'Clip.webm', preferred: null, original: { mediatype: 'VIDEO', url: 'http://upload.example/Clip.webm' } },
      { title: 'Missing.png', latest: null, preferred: null, original: null },
      { preferred: { url: 'x' } },
    ],
  };
  const out = JSON.parse(SHAPES['pcs-media-list']({ body: Buffer.from(JSON.stringify(answer)), rev: 42, tid: 'abc' }).toString('utf8'));
  assert.equal(out.revision, '42');
  assert.equal(out.tid, 'abc');
  assert.deepEqual(
    out.items.map((i: { title: string; type: string; showInGallery: boolean }) => [i.title, i.type, i.showInGallery]),
    [
      ['File:Hummingbird.jpg', 'image', true],
      ['File:Song.ogg', 'audio', false],
      ['File:Clip.webm', 'video', true],
    ],
  );
  assert.deepEqual(out.items[0].srcset, [{ src: '//upload.example/thumb/Hummingbird.jpg/640px.jpg', scale: '1x' }]);
  assert.equal(out.items[0].leadImage, false);
});

test('pcs-media-list: an answer that is not the expected JSON gives no items, not an error', () => {
  for (const body of ['not json', '{"files": 3}', '[]']) {
    const out = JSON.parse(SHAPES['pcs-media-list']({ body: Buffer.from(body), rev: undefined, tid: 't' }).toString('utf8'));
    assert.deepEqual(out.items, []);
    assert.equal(out.revision, '0');
  }
});
