import type { DurableTask, Orchestrator } from '@durable-rx/runtime';
import { helloSequence } from '@durable-rx/runtime/samples';

/** How long the customer has to confirm a ReserveTicket offer. */
export const DISCOUNT_TIMEOUT_SECONDS = 120;

/** Custom status of ReserveTicket while it waits for `BookingConfirmed`. */
export interface BookingOffer {
  readonly discount: number;
  readonly discountTimeout: number;
}

/** E1_HelloSequence: three activities; the custom status names the last city greeted (the seed sample itself). */
export { helloSequence };

/**
 * ReserveTicket: the discount appears as custom status, then the orchestration waits for `BookingConfirmed` (true or
 * false) on a durable timer of {@link DISCOUNT_TIMEOUT_SECONDS}.
 */
export const reserveTicket: Orchestrator<boolean> = function* (ctx) {
  const userId = ctx.getInput<string>();
  const discount: number = yield ctx.callActivity<number>('CalculateDiscount', userId);
  const offer: BookingOffer = { discount, discountTimeout: DISCOUNT_TIMEOUT_SECONDS };
  ctx.setCustomStatus(offer);
  const deadline = ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + DISCOUNT_TIMEOUT_SECONDS * 1000));
  const answer = ctx.waitForExternalEvent<boolean>('BookingConfirmed');
  const winner: DurableTask<unknown> = yield ctx.Task.any<DurableTask<unknown>>([answer, deadline]);
  if (winner === answer) deadline.cancel();
  const confirmed = winner === answer && answer.result === true;
  ctx.setCustomStatus({
    message: confirmed
      ? 'Thank you for confirming your booking.'
      : winner === answer ? 'The booking was declined.' : 'The booking was not confirmed on time. Please try again.',
  });
  return confirmed;
};

/**
 * E3_PayForTicket: reserves a seat, then charges the card. `ChargeCard` fails while the payment switch is off, which
 * fails the instance; `rewind` then runs only the charge again (the seat stays reserved).
 */
export const payForTicket: Orchestrator<string> = function* (ctx) {
  const seat: string = yield ctx.callActivity<string>('ReserveSeat', ctx.getInput());
  ctx.setCustomStatus({ seat });
  const receipt: string = yield ctx.callActivity<string>('ChargeCard', seat);
  ctx.setCustomStatus({ seat, receipt });
  return receipt;
};

/** The demo's orchestrators by name. */
export const demoOrchestrators = {
  E1_HelloSequence: helloSequence,
  ReserveTicket: reserveTicket,
  E3_PayForTicket: payForTicket,
} as const satisfies Record<string, Orchestrator>;

/** The orchestrator names, for filters. */
export type DemoOrchestratorName = keyof typeof demoOrchestrators;
