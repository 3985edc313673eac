import { describe, expect, it } from 'vitest';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { silentLogger } from '../src/env/logger.js';
import { sampleActivities, sampleOrchestrators } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';

/**
 * The client's option fields are declared `?: T | undefined`, so projects on `exactOptionalPropertyTypes` can pass
 * `undefined` (as DESIGN's example does): the client must treat such a field as absent, not refuse it.
 */
describe('client options with undefined fields', () => {
  it('are taken as absent by every command that has options', async () => {
    const runtime = createRuntime({ orchestrators: sampleOrchestrators, activities: sampleActivities, logger: silentLogger });
    await runtime.start();
    try {
      const { client } = runtime;
      const id = await client.startNew('E1_HelloSequence', { input: undefined, instanceId: undefined });
      const done = await client.waitForCompletion(id, { timeoutMs: SETTLED.timeoutMs });
      expect(done.runtimeStatus).toBe('Completed');
      expect(await client.waitForCompletion(id, { timeoutMs: undefined })).toMatchObject({ runtimeStatus: 'Completed' });
      const status = await client.getStatus(id, { showHistory: undefined, showHistoryOutput: undefined, showInput: undefined });
      expect(status?.history).toBeUndefined();
      const page = await client.listInstances({
        runtimeStatus: undefined, createdTimeFrom: undefined, createdTimeTo: undefined, instanceIdPrefix: undefined,
        showInput: undefined, pageSize: undefined, continuationToken: undefined,
      });
      expect(page.instances.map((s) => s.instanceId)).toEqual([id]);
      expect(await client.getStatusBy({ runtimeStatus: undefined, instanceIdPrefix: undefined })).toHaveLength(1);
      expect(await client.restart(id, { restartWithNewInstanceId: undefined })).toBe(id); // the default: the same id
      const payload = client.createHttpManagementPayload(id, 'https://example.com', { key: undefined });
      expect(payload.statusQueryGetUri).not.toContain('code=');
      const request = new Request('https://example.com/api/start');
      expect(client.createCheckStatusResponse(request, id, { key: undefined, baseUrl: undefined }).status).toBe(202);
    } finally {
      await runtime.stop();
    }
  });
});
