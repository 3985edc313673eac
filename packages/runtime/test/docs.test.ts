import { describeReadmeExamples } from '../../../test-support/readme-examples.js';

// The root README's blocks, and the values their comments promise they print.
describeReadmeExamples(new URL('../../../README.md', import.meta.url), new URL('./.docs-blocks/', import.meta.url), [
  [['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']],
  // Pending only until a worker takes the start: the runtime's own worker runs it as the start commits.
  ['Running', { discount: 15, discountTimeout: 60 }, 'Completed', true],
  ['invalid-argument', 400],
  ['a week later'],
]);

// This package's README.
describeReadmeExamples(new URL('../README.md', import.meta.url), new URL('./.docs-blocks-package/', import.meta.url), [
  ['custom status:', 'greeted', 'Hello Tokyo!'],
  [202, 'hi'],
  [202, 403, 'forbidden'],
  ['paid order-7', 'instance-already-exists'],
  ['Pending', true, 'reminded ana'],
  [{ tenant: 'acme', channel: 'web' }],
  ['Failed', 'Canceled: customer withdrew', true],
  [['cups', 'tea']],
  ['approved'],
  [2, 1, { instancesAffected: 3, instancesSkipped: 0 }],
  ['Completed', true],
  ['Completed', 'shipped with receipt 1 for 40', 1],
]);

// docs/testing.md: the testing and samples entries (its conformance block only registers suites, so it is typechecked).
describeReadmeExamples(new URL('../../../docs/testing.md', import.meta.url), new URL('./.docs-blocks-testing/', import.meta.url), [
  ['timed out'],
  ['OrchestratorStarted ExecutionStarted TaskScheduled OrchestratorCompleted OrchestratorStarted TaskCompleted OrchestratorCompleted'],
  ['Completed', 'History ends Completed, where the replayed code calls callActivity("E1_SayHello"), which the history does not record', true],
  ['Running', 'Tokyo', '[{"kind":"activity","eventId":1,"name":"E1_SayHello","input":"Seattle","inHistory":false}]', 'TaskFailedError'],
]);
