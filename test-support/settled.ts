/**
 * The wait the repository's tests give an instance to finish (`waitForCompletion(id, SETTLED)`), the one the
 * conformance suites use: the packages' and the demo's tests import it from here. Repository test support; not
 * published.
 */
export { SETTLED } from '../packages/runtime/src/testing/settled.js';
