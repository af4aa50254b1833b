// In-process producer (EventProducer): the same validation and durability as the HTTP
// intake, for callers inside this process (the content API's resource_change events).
import { CascadeError } from '../errors/index.ts';
import type { EventProducer } from './log/types.ts';
import { EventErrors } from './errors.ts';
import type { Intake } from './intake.ts';

export class IntakeProducer implements EventProducer {
  constructor(private readonly intake: Intake) {}

  /**
   * Validates every event first; if any is invalid nothing is appended and the call throws
   * (CASCADE_EVENTS_INVALID, with each reason). Resolves once all events are durable.
   */
  async produce(events: Record<string, unknown>[]): Promise<void> {
    if (events.length === 0) return;
    const checked = await this.intake.check(events);
    if (checked.invalid.length > 0) {
      const reasons = checked.invalid.map((i) => ({ index: i.index, message: i.context.message, errors: i.context.errorsText }));
      throw new CascadeError(EventErrors.invalidEvents, `${checked.invalid.length} of ${events.length} events are invalid: ${reasons[0].message}`, { extra: { invalid: reasons } });
    }
    if (checked.error.length > 0) {
      throw new CascadeError(EventErrors.produceFailed, checked.error[0].context.message, { extra: { failed: checked.error.length } });
    }
    const appended = await this.intake.append(checked.valid);
    if (appended.error.length > 0) {
      throw new CascadeError(EventErrors.produceFailed, `${appended.error.length} of ${events.length} events could not be made durable: ${appended.error[0].context.message}`);
    }
  }
}
