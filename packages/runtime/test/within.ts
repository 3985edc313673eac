/** A promise that settles within SETTLED of real time, or rejects saying what did not happen. */
export { within } from '../src/testing/settled.js';
