// TypeScript types derived from the config's JSON Schemas, so a section's shape and defaults are
// written once (in its schema). Covers the keywords our schemas use: type, properties, required,
// additionalProperties, items, enum, const, anyOf/oneOf and default. The others (pattern, minimum,
// if/then, propertyNames, ...) only constrain values and do not change the type.
//
//   FromSchema<S>   a section after validation: ajv (useDefaults) filled in every `default`, so a
//                   property with one is present.
//   SchemaInput<S>  a section as written: only `required` properties are present.

type Mode = 'validated' | 'written';

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type Empty = Record<never, never>;

type Infer<S, M extends Mode> = S extends { const: infer C }
  ? C
  : S extends { enum: readonly (infer E)[] }
    ? E
    : S extends { type: unknown }
      ? ByType<S, M>
      : S extends { anyOf: readonly unknown[] }
        ? Infer<S['anyOf'][number], M>
        : S extends { oneOf: readonly unknown[] }
          ? Infer<S['oneOf'][number], M>
          : S extends { properties: unknown }
            ? Obj<S, M>
            : unknown;

type ByType<S, M extends Mode> = S extends { type: 'object' }
  ? Obj<S, M>
  : S extends { type: 'array' }
    ? S extends { items: infer I }
      ? Infer<I, M>[]
      : unknown[]
    : S extends { type: 'string' }
      ? string
      : S extends { type: 'number' | 'integer' }
        ? number
        : S extends { type: 'boolean' }
          ? boolean
          : S extends { type: 'null' }
            ? null
            : unknown;

type Props<S> = S extends { properties: infer P } ? P : Empty;
type Required<S> = S extends { required: readonly (infer R)[] } ? R : never;

/** Keys always present: required ones, and (validated) those with a default. */
type Present<S, M extends Mode> = {
  [K in keyof Props<S>]-?: K extends Required<S> ? K : M extends 'validated' ? (Props<S>[K] extends { default: unknown } ? K : never) : never;
}[keyof Props<S>];

type Extra<S, M extends Mode> = S extends { additionalProperties: false }
  ? Empty
  : S extends { additionalProperties: infer A }
    ? A extends object
      ? Record<string, Infer<A, M>>
      : Record<string, unknown>
    : S extends { properties: unknown }
      ? Empty
      : Record<string, unknown>;

type Obj<S, M extends Mode> = Simplify<
  { -readonly [K in Present<S, M>]: Infer<Props<S>[K], M> } & {
    -readonly [K in Exclude<keyof Props<S>, Present<S, M>>]?: Infer<Props<S>[K], M>;
  } & Extra<S, M>
>;

/** A config value after validation with defaults. */
export type FromSchema<S> = Infer<S, 'validated'>;

/** A config value as written (defaults not yet applied). */
export type SchemaInput<S> = Infer<S, 'written'>;
