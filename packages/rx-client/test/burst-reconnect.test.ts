import { describe, expect, it } from 'vitest';
import { createRuntime, MemoryStore, silentLogger } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { createRemoteClient } from '../src/index.js';
import { KEY, ownedByEachTest, serveForTest, until, within } from './harness.js';

/**
 * An instance commits 600 custom statuses as fast as its steps run, with a remote `customStatus$` and `history$`
 * watching it on one connection; the server cuts every connection a third of the way through. The reconnect resumes
 * the session: whatever the connection had in flight, however many events that makes, is sent again, and what
 * committed meanwhile comes from the instance's resume buffer (a count of 256 values each lost most of the burst: the
 * watch jumped from about 280 to 600).
 */

const { cleanups } = ownedByEachTest();
const N = 600;

describe('a burst of custom statuses', () => {
  for (const drop of [false, true]) {
    it(`reaches a remote customStatus$ whole and in order, and its history$ too${drop ? ', across a connection cut in the middle' : ''}`, async () => {
      const runtime = createRuntime({
        store: new MemoryStore(), logger: silentLogger,
        orchestrators: {
          Burst: function* (ctx) {
            for (let i = 1; i <= N; i++) {
              yield ctx.callActivity('Noop', i);
              ctx.setCustomStatus(i);
            }
            return N;
          },
        },
        activities: { Noop: (i: unknown) => i },
      });
      await runtime.start();
      cleanups.push(() => runtime.stop());
      const server = await serveForTest(createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, reconnectDelayMs: 20 }));
      cleanups.push(() => server.close());
      const remote = createRemoteClient({ baseUrl: server.url, key: KEY, reconnect: { initialDelayMs: 20 } });
      cleanups.push(() => remote.close());
      const values: unknown[] = [];
      let failure: unknown;
      const watch = remote.customStatus$('burst').subscribe({ next: (v) => values.push(v), error: (e: unknown) => (failure = e) });
      cleanups.push(() => watch.unsubscribe());
      const history: unknown[] = [];
      const historyWatch = remote.history$('burst').subscribe({ next: (e) => history.push(e), error: (e: unknown) => (failure = e) });
      cleanups.push(() => historyWatch.unsubscribe());
      // Several steps may commit at once (only committed values are promised): the local watch says which.
      const local: unknown[] = [];
      const localWatch = runtime.client.customStatus$('burst').subscribe((v) => local.push(v));
      cleanups.push(() => localWatch.unsubscribe());
      await until(() => values.length > 0, 'the first value');
      await runtime.client.startNew('Burst', { instanceId: 'burst' });
      await until(() => values.length > N / 3, 'a third of the values');
      if (drop) server.server.closeAllConnections();
      await within(runtime.client.waitForCompletion('burst', { timeoutMs: 120_000 }), 'the burst completing', 150_000);
      const full = (await runtime.client.getStatus('burst', { showHistory: true, showHistoryOutput: true }))!.history!;
      await until(() => (values.at(-1) === N && history.length >= full.length) || failure !== undefined, 'every value', 120_000);
      expect(failure).toBeUndefined();
      expect(values).toEqual(local);
      expect(JSON.parse(JSON.stringify(history))).toEqual(JSON.parse(JSON.stringify(full)));
    }, 300_000);
  }
});
