// Config section `content:` of cascade.yaml: JSON Schema fragment and type.
// Owned by src/content; src/config/schema.ts composes it into the full schema.

export interface ContentConfig {
  [key: string]: unknown;
}

export const contentConfigSchema = {
  type: 'object',
  default: {},
} as const;
