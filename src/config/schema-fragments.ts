// Pieces of JSON Schema the config sections share, written once. Every helper keeps its
// argument's literal types (`const` type parameters) so FromSchema can read the result.

/** A config section or sub-object: only its own settings, present (and defaulted) when omitted. */
export function section<const P extends Record<string, object>>(properties: P) {
  return { type: 'object', additionalProperties: false, default: {}, properties } as const;
}

/** An object with only these settings (the `required` ones always), present only when written. */
export function closed<const P extends Record<string, object>>(properties: P): { readonly type: 'object'; readonly additionalProperties: false; readonly properties: P };
export function closed<const P extends Record<string, object>, const R extends readonly (keyof P & string)[]>(
  properties: P,
  required: R,
): { readonly type: 'object'; readonly additionalProperties: false; readonly properties: P; readonly required: R };
export function closed(properties: Record<string, object>, required?: readonly string[]) {
  return { type: 'object', additionalProperties: false, properties, ...(required ? { required } : {}) };
}

/** An integer setting with a lower bound and a default (and maybe an upper bound). */
export function int<const D extends number>(minimum: number, dflt: D, maximum?: number) {
  return { type: 'integer', minimum, ...(maximum === undefined ? {} : { maximum }), default: dflt } as const;
}

/** A token bucket: `rate` tokens per second, at most `burst` at once. */
export function rateClass<const R extends number, const B extends number>(rate: R, burst: B) {
  return section({
    rate: { type: 'number', exclusiveMinimum: 0, default: rate },
    burst: { type: 'integer', minimum: 1, default: burst },
  });
}

/** An absolute http(s) URL. */
export const httpUrl = { type: 'string', pattern: '^https?://' } as const;

/** Header (or other) names → string values; empty by default. */
export const stringMap = { type: 'object', additionalProperties: { type: 'string' }, default: {} } as const;

/** A TCP port to listen on (0: any free one). */
export function port<const D extends number>(dflt: D) {
  return { type: 'integer', minimum: 0, maximum: 65535, default: dflt } as const;
}

/** A lowercase identifier (`dependencies` keys, resource names in `depends_on`). */
export const lowerName = { type: 'string', pattern: '^[a-z][a-z0-9-]*$' } as const;
