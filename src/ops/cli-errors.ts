// Errors of the operator commands (backup, restore, refresh). Named apart from the other ops
// files' errors; codes are CASCADE_BACKUP_* / CASCADE_REFRESH_*.
import { defineError } from '../errors/index.ts';

export const OpsErrors = {
  backupTarget: defineError('CASCADE_BACKUP_TARGET_NOT_EMPTY', 409, 'The backup directory is not empty'),
  backupSource: defineError('CASCADE_BACKUP_SOURCE_MISSING', 404, 'A file to back up does not exist'),
  backupInvalid: defineError('CASCADE_BACKUP_INVALID', 400, 'Not a usable Cascade backup'),
  restoreBusy: defineError('CASCADE_BACKUP_RESTORE_BUSY', 409, 'Cascade is running on the files to restore'),
  refreshPattern: defineError('CASCADE_REFRESH_BAD_PATTERN', 400, 'Bad title pattern'),
  refreshOrigin: defineError('CASCADE_REFRESH_ORIGIN_FAILED', 502, 'The page list could not be read from the origin'),
  refreshState: defineError('CASCADE_REFRESH_BAD_STATE', 400, 'The refresh state file does not match this refresh'),
} as const;
