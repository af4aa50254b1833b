import { CascadeError, defineError } from '../errors/index.ts';

export const TitleErrors = {
  invalid: defineError('CASCADE_TITLE_INVALID', 400, 'Invalid page title'),
} as const;

/**
 * The reasons a title is rejected, named as MediaWiki and the `mediawiki-title` package
 * name them, so clients that know those codes keep working.
 */
export type TitleErrorCode =
  | 'title-invalid-empty'
  | 'title-invalid-utf8'
  | 'title-invalid-characters'
  | 'title-invalid-talk-namespace'
  | 'title-invalid-relative'
  | 'title-invalid-magic-tilde'
  | 'title-invalid-too-long'
  | 'title-invalid-leading-colon';

/** A title that cannot be normalized: HTTP 400, `titleCode` is the MediaWiki reason. */
export class TitleError extends CascadeError {
  readonly titleCode: TitleErrorCode;
  readonly input: string;

  constructor(titleCode: TitleErrorCode, input: string, extra: Record<string, unknown> = {}) {
    super(TitleErrors.invalid, `${titleCode}: ${JSON.stringify(input.length > 300 ? `${input.slice(0, 300)}…` : input)}`, {
      extra: { title_error: titleCode, ...extra },
    });
    this.name = 'TitleError';
    this.titleCode = titleCode;
    this.input = input;
  }
}
