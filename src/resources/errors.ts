// Errors of declared resources (backend failures answer as the content API's origin errors).
import { defineError } from '../errors/index.ts';

export const ResourceErrors = {
  notDeclared: defineError('CASCADE_RESOURCE_NOT_DECLARED', 404, 'Resource not declared for this domain'),
  revisionNotStored: defineError('CASCADE_RESOURCE_REVISION_NOT_STORED', 404, 'No render of this revision is stored'),
} as const;
