import { defineError } from '../errors/index.ts';

export const ResourceErrors = {
  notDeclared: defineError('CASCADE_RESOURCE_NOT_DECLARED', 404, 'Resource not declared for this domain'),
  backendFailed: defineError('CASCADE_RESOURCE_BACKEND_FAILED', 502, 'Backend request failed'),
  badParameter: defineError('CASCADE_RESOURCE_BAD_PARAMETER', 400, 'Invalid parameter'),
} as const;
