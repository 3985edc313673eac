import { afterAll, beforeAll } from 'vitest';
import { describeReadmeExamples } from '../../../test-support/readme-examples.js';
import { MONGODB_URI, testDatabase, uriWithDatabase } from './support/integration.js';

// The README example connects to the database its URI names: here a database of this run's own (dropped after it by
// testDatabase), never the one MONGODB_URI names, which it would write into and leave behind.
const db = testDatabase('docs');
const uri = MONGODB_URI;
if (uri) {
  beforeAll(() => {
    process.env['MONGODB_URI'] = uriWithDatabase(uri, db.name);
  });
  afterAll(() => {
    process.env['MONGODB_URI'] = uri;
  });
}

// The README's blocks: always typechecked; run against a real replica set when MONGODB_URI is set.
describeReadmeExamples(
  new URL('../README.md', import.meta.url),
  new URL('./.docs-blocks/', import.meta.url),
  [['custom status:', 'London', ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']]],
  MONGODB_URI ? {} : { skipRun: 'MONGODB_URI is not set: the README example needs a MongoDB replica set' },
);
