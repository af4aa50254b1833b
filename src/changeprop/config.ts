// Config section `changeprop:` of cascade.yaml: JSON Schema fragment and type.
// Owned by src/changeprop; src/config/schema.ts composes it into the full schema.

export interface ChangepropConfig {
  [key: string]: unknown;
}

export const changepropConfigSchema = {
  type: 'object',
  default: {},
} as const;
