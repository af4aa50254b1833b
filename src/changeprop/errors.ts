// Errors of change propagation, declared once (see src/errors/index.ts).
import { defineError } from '../errors/index.ts';

export const ChangepropErrors = {
  /** A rule file or rule spec is invalid (reported with file, line, rule and field). */
  invalidRule: defineError('CASCADE_CHANGEPROP_INVALID_RULE', 400, 'Invalid change-propagation rule'),
  /** A template expression does not parse or refers to something forbidden. */
  invalidTemplate: defineError('CASCADE_CHANGEPROP_INVALID_TEMPLATE', 400, 'Invalid template expression'),
  /** An expression failed while being evaluated against an event. */
  templateEval: defineError('CASCADE_CHANGEPROP_TEMPLATE_EVAL', 400, 'Template evaluation failed'),
  /** An exec request names a host outside the configured allow-list. */
  hostNotAllowed: defineError('CASCADE_CHANGEPROP_HOST_NOT_ALLOWED', 403, 'Outbound host not allowed'),
  /** The x-triggered-by chain shows the event has been through this rule already. */
  loopDetected: defineError('CASCADE_CHANGEPROP_LOOP', 508, 'Propagation loop detected'),
  /** No such rule (CLI, replay). */
  unknownRule: defineError('CASCADE_CHANGEPROP_UNKNOWN_RULE', 404, 'Unknown rule'),
} as const;
