// Config section `wiki:` of cascade.yaml: JSON Schema fragment and type.
// Owned by src/wiki; src/config/schema.ts composes it into the full schema.

export interface WikiConfig {
  [key: string]: unknown;
}

export const wikiConfigSchema = {
  type: 'object',
  default: {},
} as const;
