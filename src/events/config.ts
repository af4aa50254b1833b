// Config section `events:` of cascade.yaml: JSON Schema fragment and type.
// Owned by src/events; src/config/schema.ts composes it into the full schema.

export interface EventsConfig {
  [key: string]: unknown;
}

export const eventsConfigSchema = {
  type: 'object',
  default: {},
} as const;
