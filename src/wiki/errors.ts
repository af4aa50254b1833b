// Errors of the example wiki. The REST routes render them in MediaWiki's REST error shape
// (`{errorKey, messageTranslations, httpCode, httpReason}`), not as problem+json, because the
// wiki plays a real MediaWiki; `extra.errorKey` carries MediaWiki's message key.
import { defineError } from '../errors/index.ts';

export const WikiErrors = {
  notFound: defineError('CASCADE_WIKI_NOT_FOUND', 404, 'No such page or revision'),
  permissionDenied: defineError('CASCADE_WIKI_PERMISSION_DENIED', 403, 'Revision content is hidden'),
  editConflict: defineError('CASCADE_WIKI_EDIT_CONFLICT', 409, 'Edit conflict'),
  badRequest: defineError('CASCADE_WIKI_BAD_REQUEST', 400, 'Bad request to the example wiki'),
  injected: defineError('CASCADE_WIKI_INJECTED_FAILURE', 503, 'Injected render failure (test hook)'),
} as const;
