import type { Activity, Orchestrator } from '../engine/orchestration-context.js';

/**
 * The Durable Functions seed scenarios (custom orchestration status, instance management) as durable-rx
 * orchestrators. Tests, examples, the demo and the benchmarks share them.
 */

/** E1_HelloSequence: three activities, custom status Tokyo → Seattle → London. */
export const helloSequence: Orchestrator<string[]> = function* (ctx) {
  const outputs: string[] = [];
  outputs.push(yield ctx.callActivity('E1_SayHello', 'Tokyo'));
  ctx.setCustomStatus('Tokyo');
  outputs.push(yield ctx.callActivity('E1_SayHello', 'Seattle'));
  ctx.setCustomStatus('Seattle');
  outputs.push(yield ctx.callActivity('E1_SayHello', 'London'));
  ctx.setCustomStatus('London');
  return outputs;
};

/** E1_SayHello. */
export const sayHello: Activity<string, string> = (name) => `Hello ${name}!`;

/** CityRecommender: recommendations in the custom status depend on the input, then waits for the user's pick. */
const cityRecommender: Orchestrator<string> = function* (ctx) {
  const userChoice = ctx.getInput<number>();
  switch (userChoice) {
    case 1:
      ctx.setCustomStatus({ recommendedCities: ['Tokyo', 'Seattle'], recommendedSeasons: ['Spring', 'Summer'] });
      break;
    case 2:
      ctx.setCustomStatus({ recommendedCities: ['Seattle', 'London'], recommendedSeasons: ['Summer'] });
      break;
    case 3:
      ctx.setCustomStatus({ recommendedCities: ['Tokyo', 'London'], recommendedSeasons: ['Spring', 'Summer'] });
      break;
  }
  // Wait for the user's selection.
  const city: string = yield ctx.waitForExternalEvent<string>('CitySelected');
  ctx.setCustomStatus({ selectedCity: city });
  return city;
};

/** ReserveTicket: the discount appears as custom status; `BookingConfirmed` decides the outcome. */
const reserveTicket: Orchestrator<boolean> = function* (ctx) {
  const userId = ctx.getInput<string>();
  const discount: number = yield ctx.callActivity<number>('CalculateDiscount', userId);
  ctx.setCustomStatus({ discount, discountTimeout: 60, bookingUrl: 'https://www.myawesomebookingweb.com' });
  const isBookingConfirmed: boolean = yield ctx.waitForExternalEvent<boolean>('BookingConfirmed');
  ctx.setCustomStatus(
    isBookingConfirmed
      ? { message: 'Thank you for confirming your booking.' }
      : { message: 'The booking was not confirmed on time. Please try again.' },
  );
  return isBookingConfirmed;
};

/** CalculateDiscount: a deterministic discount per user. */
const calculateDiscount: Activity<string, number> = (userId) => 5 + ([...userId].reduce((a, c) => a + c.charCodeAt(0), 0) % 20);

/** SetStatusTest: sets `{ nextActions, foo }` and waits for `Proceed` so clients can read it while Running. */
const setStatusTest: Orchestrator<string> = function* (ctx) {
  ctx.setCustomStatus({ nextActions: ['A', 'B', 'C'], foo: 2 });
  yield ctx.waitForExternalEvent('Proceed');
  return 'done';
};

/** The seed orchestrators by their Durable Functions names. */
export const sampleOrchestrators = {
  E1_HelloSequence: helloSequence,
  CityRecommender: cityRecommender,
  ReserveTicket: reserveTicket,
  SetStatusTest: setStatusTest,
} as const satisfies Record<string, Orchestrator>;

/** The seed activities by name. */
export const sampleActivities = {
  E1_SayHello: sayHello,
  CalculateDiscount: calculateDiscount,
} as const satisfies Record<string, Activity<never>>;

/** Echo: returns its input. A minimal orchestration for tests of the client and the HTTP API. */
export const echo: Orchestrator = function* (ctx) {
  return ctx.getInput();
};

/**
 * WaitForEvents: waits for `input` events named `Item`, counting them in the custom status (`{ received }`), and
 * returns their data in order. For tests of event delivery, buffering and status streams.
 */
export const waitForEvents: Orchestrator<unknown[]> = function* (ctx) {
  const received: unknown[] = [];
  for (let i = 0; i < ctx.getInput<number>(); i++) {
    received.push(yield ctx.waitForExternalEvent('Item'));
    ctx.setCustomStatus({ received: received.length });
  }
  return received;
};
