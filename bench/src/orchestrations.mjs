/**
 * The orchestrations every SDK runs, written once per SDK in its own idiom so the work is the same:
 *
 * - `Sequence`: N activities called one after another (input N); returns the last result.
 * - `HelloSequence`: the Durable Functions sample E1_HelloSequence: three activities, a custom status after each.
 * - `StatusLoop`: waits for an external event and sets the custom status to its payload, forever (latency probe).
 */

export const SEQUENCE = 'Sequence';
export const HELLO_SEQUENCE = 'E1_HelloSequence';
export const SAY_HELLO = 'E1_SayHello';
export const STEP_ACTIVITY = 'Step';
export const STATUS_LOOP = 'StatusLoop';
export const CITIES = ['Tokyo', 'Seattle', 'London'];

/** @param {string} name */
export const sayHello = (name) => `Hello ${name}!`;

/** durable-rx orchestrators (sync generators over `ctx`). */
export const durableRx = {
  /** @param {import('@durable-rx/runtime').OrchestrationContext} ctx @returns {import('@durable-rx/runtime').Orchestration} */
  *[SEQUENCE](ctx) {
    const n = /** @type {number} */ (ctx.getInput());
    let last;
    for (let i = 0; i < n; i++) last = yield ctx.callActivity(STEP_ACTIVITY, i);
    return last;
  },
  /** @param {import('@durable-rx/runtime').OrchestrationContext} ctx @returns {import('@durable-rx/runtime').Orchestration} */
  *[HELLO_SEQUENCE](ctx) {
    /** @type {unknown[]} */
    const outputs = [];
    for (const city of CITIES) {
      outputs.push(yield ctx.callActivity(SAY_HELLO, city));
      ctx.setCustomStatus(city);
    }
    return outputs;
  },
  /** @param {import('@durable-rx/runtime').OrchestrationContext} ctx @returns {import('@durable-rx/runtime').Orchestration} */
  *[STATUS_LOOP](ctx) {
    for (;;) ctx.setCustomStatus(yield ctx.waitForExternalEvent('next'));
  },
};

/** durable-functions orchestrators (sync generators over `context.df`). */
export const durableFunctions = {
  /** @param {any} context @returns {Generator<unknown, unknown, any>} */
  *[SEQUENCE](context) {
    const n = context.df.getInput();
    let last;
    for (let i = 0; i < n; i++) last = yield context.df.callActivity(STEP_ACTIVITY, i);
    return last;
  },
};

/** durabletask-js orchestrators (async generators over `ctx`, input as second argument). */
export const durableTask = {
  /** @param {any} ctx @param {number} n @returns {AsyncGenerator<unknown, unknown, any>} */
  async *[SEQUENCE](ctx, n) {
    let last;
    for (let i = 0; i < n; i++) last = yield ctx.callActivity(STEP_ACTIVITY, i);
    return last;
  },
  /** @param {any} ctx @returns {AsyncGenerator<unknown, unknown, any>} */
  async *[HELLO_SEQUENCE](ctx) {
    /** @type {unknown[]} */
    const outputs = [];
    for (const city of CITIES) {
      outputs.push(yield ctx.callActivity(SAY_HELLO, city));
      ctx.setCustomStatus(city);
    }
    return outputs;
  },
  /** @param {any} ctx @returns {AsyncGenerator<unknown, unknown, any>} */
  async *[STATUS_LOOP](ctx) {
    for (;;) ctx.setCustomStatus(yield ctx.waitForExternalEvent('next'));
  },
};
