import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { silentLogger } from '../src/env/logger.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { sampleActivities, sampleOrchestrators } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';
import { withoutRandomUuid } from './without-random-uuid.js';

/**
 * Browsers give `crypto.randomUUID` to secure contexts only (HTTPS, localhost): on a page served over plain HTTP from
 * a LAN address it is missing, while `crypto.getRandomValues` is there. The runtime must start, run and serve without
 * it. Node always has it, so these tests take it away for their duration.
 */
let restore: () => void;
beforeAll(() => {
  restore = withoutRandomUuid();
});
afterAll(() => restore());

describe('without crypto.randomUUID (an insecure browser context)', () => {
  it('takes it away for the test', () => {
    expect(typeof crypto.randomUUID).toBe('undefined');
    expect(typeof crypto.getRandomValues).toBe('function');
  });

  it.each([
    ['a generated worker id', undefined],
    ['a given worker id (its leases record the life)', 'tab-1'],
  ])('a runtime on a MemoryStore with %s starts an instance and completes it', async (_, workerId) => {
    const runtime = createRuntime({
      store: new MemoryStore(), orchestrators: sampleOrchestrators, activities: sampleActivities, logger: silentLogger,
      ...(workerId === undefined ? {} : { workerId }),
    });
    await runtime.start();
    try {
      const id = await runtime.client.startNew('E1_HelloSequence');
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const done = await runtime.client.waitForCompletion(id, SETTLED);
      expect(done.runtimeStatus).toBe('Completed');
      expect(done.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    } finally {
      await runtime.stop();
    }
  });

  it('the HTTP handler opens a status stream', async () => {
    const runtime = createRuntime({ orchestrators: sampleOrchestrators, activities: sampleActivities, logger: silentLogger });
    const handler = createHttpHandler(runtime.client, { key: 'k', logger: silentLogger });
    const id = await runtime.client.startNew('E1_HelloSequence', { instanceId: 'streamed' });
    const controller = new AbortController();
    const response = await handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}/instances/${id}/stream`, {
      headers: { authorization: 'Bearer k', accept: 'text/event-stream' }, signal: controller.signal,
    }));
    try {
      expect(response.status).toBe(200);
      // The stream sends its retry interval, then the instance's status.
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('"instanceId":"streamed"')) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += decoder.decode(chunk.value, { stream: true });
      }
      expect(text).toContain('"instanceId":"streamed"');
      await reader.cancel();
    } finally {
      controller.abort();
      await runtime.stop();
    }
  });
});
