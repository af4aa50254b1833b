// A small path router: segment trie with `{name}` (one segment) and `{+name}` (the rest of
// the path) parameters. Literal segments win over parameters. Kept tiny because it sits on
// the hot path of every request.
import type { HttpRequest, HttpResponse } from './http-types.ts';

export interface RequestContext {
  req: HttpRequest;
  res: HttpResponse;
  method: string;
  /** The raw path (percent-encoded, as received). */
  path: string;
  /** Decoded path parameters. */
  params: Record<string, string>;
  query: URLSearchParams;
  requestId: string;
  /** True when the caller is inside the trust boundary (see server.ts `isInternalCaller`). */
  internal: boolean;
  /**
   * The client's address as the trust boundary sees it: the socket's peer, or the address a
   * trusted proxy forwarded for (server.ts). Producer authorization and rate limits key on it.
   */
  clientIp: string;
  /** The route pattern that matched, for metrics (e.g. `/{domain}/v1/page/html/{title}`). */
  route: string;
}

export type Handler = (ctx: RequestContext) => Promise<void> | void;

interface Node {
  literal: Map<string, Node>;
  param?: { name: string; node: Node };
  rest?: { name: string; handlers: Map<string, Handler>; pattern: string };
  handlers: Map<string, Handler>;
  pattern?: string;
}

const newNode = (): Node => ({ literal: new Map(), handlers: new Map() });

export interface Match {
  handler: Handler;
  params: Record<string, string>;
  route: string;
}

/** Most paths remembered per method (a hit costs one Map lookup and no allocation). */
const MATCH_CACHE_SIZE = 4096;
/** Longer paths are matched every time (bounds the cache's memory). */
const MAX_CACHED_PATH = 512;

export class Router {
  private root: Node = newNode();
  private matchCache = new Map<string, Map<string, Match>>();

  /** Registers `handler` for `method` (or '*') on `pattern`, e.g. `/{domain}/sys/kv/{bucket}/{key}`. */
  add(method: string | string[], pattern: string, handler: Handler): this {
    const methods = Array.isArray(method) ? method : [method];
    const segs = splitPath(pattern);
    let node = this.root;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i];
      const rest = /^\{\+(\w+)\}$/.exec(s);
      if (rest) {
        if (i !== segs.length - 1) throw new Error(`{+${rest[1]}} must be last in ${pattern}`);
        node.rest ??= { name: rest[1], handlers: new Map(), pattern };
        for (const m of methods) node.rest.handlers.set(m.toUpperCase(), handler);
        this.matchCache.clear();
        return this;
      }
      const param = /^\{(\w+)\}$/.exec(s);
      if (param) {
        if (node.param && node.param.name !== param[1]) {
          throw new Error(`conflicting parameter names {${node.param.name}} and {${param[1]}} in ${pattern}`);
        }
        node.param ??= { name: param[1], node: newNode() };
        node = node.param.node;
      } else {
        let next = node.literal.get(s);
        if (!next) node.literal.set(s, (next = newNode()));
        node = next;
      }
    }
    node.pattern = pattern;
    for (const m of methods) node.handlers.set(m.toUpperCase(), handler);
    this.matchCache.clear();
    return this;
  }

  /**
   * Finds the handler for a path. Returns `undefined` when nothing matches, or
   * `{ allowed }` when the path matches but not the method. Matches are cached per method
   * and path; their `params` are frozen because requests share them.
   */
  find(method: string, path: string): Match | { allowed: string[] } | undefined {
    let byPath = this.matchCache.get(method);
    const cached = byPath?.get(path);
    if (cached) return cached;
    const m = this.match(method, path);
    if (m && 'handler' in m && path.length <= MAX_CACHED_PATH) {
      if (!byPath) this.matchCache.set(method, (byPath = new Map()));
      else if (byPath.size >= MATCH_CACHE_SIZE) byPath.clear();
      Object.freeze(m.params);
      byPath.set(path, m);
    }
    return m;
  }

  private match(method: string, path: string): Match | { allowed: string[] } | undefined {
    const segs = splitPath(path);
    const params: Record<string, string> = {};
    const found = this.walk(this.root, segs, 0, params);
    if (!found) return undefined;
    const { handlers, pattern } = found;
    const h = handlers.get(method) ?? (method === 'HEAD' ? handlers.get('GET') : undefined) ?? handlers.get('*');
    if (!h) return { allowed: [...handlers.keys()] };
    return { handler: h, params, route: pattern };
  }

  private walk(
    node: Node,
    segs: string[],
    i: number,
    params: Record<string, string>,
  ): { handlers: Map<string, Handler>; pattern: string } | undefined {
    if (i === segs.length) {
      if (node.handlers.size > 0) return { handlers: node.handlers, pattern: node.pattern! };
      return undefined;
    }
    const lit = node.literal.get(segs[i]);
    if (lit) {
      const r = this.walk(lit, segs, i + 1, params);
      if (r) return r;
    }
    if (node.param && segs[i] !== '') {
      const r = this.walk(node.param.node, segs, i + 1, params);
      if (r) {
        params[node.param.name] = safeDecode(segs[i]);
        return r;
      }
    }
    if (node.rest) {
      params[node.rest.name] = segs.slice(i).map(safeDecode).join('/');
      return { handlers: node.rest.handlers, pattern: node.rest.pattern };
    }
    return undefined;
  }
}

/** Splits `/a/b/` into ['a','b',''] — a trailing slash is a segment of its own (`/page/html/X/` lists revisions). */
export function splitPath(path: string): string[] {
  const p = path.startsWith('/') ? path.slice(1) : path;
  return p === '' ? [] : p.split('/');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
