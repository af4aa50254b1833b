import { defineError } from '../errors/index.ts';

export const StorageErrors = {
  unknownBucket: defineError('CASCADE_STORAGE_UNKNOWN_BUCKET', 404, 'Unknown bucket'),
  badRev: defineError('CASCADE_STORAGE_BAD_REV', 400, 'Invalid revision'),
  badTid: defineError('CASCADE_STORAGE_BAD_TID', 400, 'Invalid tid'),
  badKey: defineError('CASCADE_STORAGE_BAD_KEY', 400, 'Invalid key'),
  keyTooLong: defineError('CASCADE_STORAGE_KEY_TOO_LONG', 400, 'Key too long'),
  bodyTooLarge: defineError('CASCADE_STORAGE_BODY_TOO_LARGE', 413, 'Body too large'),
  badPageToken: defineError('CASCADE_STORAGE_BAD_PAGE_TOKEN', 400, 'Invalid page token'),
  badBucketSpec: defineError('CASCADE_STORAGE_BAD_BUCKET_SPEC', 400, 'Invalid bucket specification'),
  backendUnavailable: defineError('CASCADE_STORAGE_UNAVAILABLE', 503, 'Storage backend unavailable'),
} as const;
