// Request bodies of the content API's forms (transform, save): urlencoded, JSON or multipart,
// into a prototype-free object of strings.
import type { HttpRequest } from '../router/http-types.ts';
import { CascadeError, Errors } from '../errors/index.ts';
import { readBody } from '../router/server.ts';
import { ContentErrors } from './errors.ts';

/** The form fields of a request body (at most `limit` bytes). */
export async function readForm(req: HttpRequest, limit: number): Promise<Record<string, string>> {
    const ct = String(req.headers['content-type'] ?? '');
    const body = await readBody(req, limit);
    if (ct.startsWith('application/x-www-form-urlencoded') || ct === '') {
      return nullProto(new URLSearchParams(body.toString('utf8')));
    }
    if (ct.startsWith('application/json')) {
      try {
        const j = JSON.parse(body.toString('utf8')) as unknown;
        if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not an object');
        return nullProto(Object.entries(j).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
      } catch (e) {
        throw new CascadeError(ContentErrors.badForm, `invalid JSON body: ${(e as Error).message}`);
      }
    }
    if (ct.startsWith('multipart/form-data')) return parseMultipart(body, ct);
    throw new CascadeError(Errors.unsupportedMediaType, `unsupported content type: ${ct}`);
  }

/** A JSON object body of at most 64 KiB (an empty body is `{}`); anything else is a 400. */
export async function readJsonObject(req: HttpRequest): Promise<Record<string, unknown>> {
  const b = await readBody(req, 65536);
  if (b.length === 0) return {};
  try {
    const j = JSON.parse(b.toString('utf8')) as unknown;
    return typeof j === 'object' && j !== null && !Array.isArray(j) ? (j as Record<string, unknown>) : {};
  } catch {
    throw new CascadeError(ContentErrors.badForm, 'the body must be a JSON object');
  }
}

/** Form fields in an object without a prototype (`f.toString` is no field unless sent). */
function nullProto(entries: Iterable<[string, string]>): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** Fields of a multipart/form-data body (no files: the forms here carry text). */
export function parseMultipart(body: Buffer, contentType: string): Record<string, string> {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!m) throw new CascadeError(ContentErrors.badForm, 'multipart body without boundary');
  const boundary = Buffer.from(`--${m[1] ?? m[2]}`);
  // No prototype: a field named `__proto__` or `constructor` is just a field.
  const out = Object.create(null) as Record<string, string>;
  let pos = body.indexOf(boundary);
  while (pos !== -1) {
    const start = pos + boundary.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing boundary
    const headEnd = body.indexOf('\r\n\r\n', start);
    if (headEnd === -1) break;
    const head = body.subarray(start, headEnd).toString('utf8');
    const next = body.indexOf(boundary, headEnd + 4);
    if (next === -1) break;
    const value = body.subarray(headEnd + 4, next - 2); // strip the CRLF before the boundary
    const name = /name="([^"]*)"/i.exec(head)?.[1];
    if (name !== undefined) out[name] = value.toString('utf8');
    pos = next;
  }
  return out;
}
