import { describeReadmeExamples } from '../../../test-support/readme-examples.js';

// The README's blocks: always typechecked; run against a real replica set when MONGODB_URI is set.
describeReadmeExamples(
  new URL('../README.md', import.meta.url),
  new URL('./.docs-blocks/', import.meta.url),
  [['custom status:', 'London', ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']]],
  process.env['MONGODB_URI'] ? {} : { skipRun: 'MONGODB_URI is not set: the README example needs a MongoDB replica set' },
);
