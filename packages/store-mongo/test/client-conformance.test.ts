import type { DurableClient } from '@durable-rx/runtime';
import { describeClientConformance } from '@durable-rx/runtime/testing';
import { describe } from 'vitest';
import { announceSkip, MONGODB_URI, testDatabase } from './support/integration.js';

/**
 * The DurableClient suite (every command, observable and bad input of the client) on runtimes over MongoStore, so a
 * client behaves the same on MongoDB as on the other stores. Runs only when MONGODB_URI is set.
 */
announceSkip('client-conformance.test.ts');

describe.skipIf(!MONGODB_URI)('the DurableClient on MongoStore (integration)', () => {
  const db = testDatabase('client');
  const local = async (runtime: { client: DurableClient }) => ({ client: runtime.client, close: async () => {} });
  describeClientConformance('local client on MongoStore', local, { createStore: () => db.open('client') });
});
