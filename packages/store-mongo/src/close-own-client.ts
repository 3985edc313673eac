import type { Clock } from '@durable-rx/runtime';
import type { UnboundedCalls } from './unbounded-calls.js';
import { waitAtMost } from './wait-at-most.js';

/**
 * How long `MongoStore.close` waits for a client of its own to close (ms), once the operations in flight have settled
 * (themselves bounded by `TRANSACTION_RETRY_MS`). The driver's `close` first ends every session still open, and a
 * session whose abort or commit the store stopped waiting for is still in its transaction: the driver aborts it
 * again, which waits for a server to be selected, up to `serverSelectionTimeoutMS` (10 s by the store's default,
 * 30 s by the driver's), before it closes the connections.
 */
export const CLIENT_CLOSE_WAIT_MS = 5_000;

/**
 * Closes a client the store created, then waits for the transaction ends the store stopped waiting for (`unanswered`:
 * the client's close fails them), all within `waitMs` on `clock`. `'closed'` when both settled in time (a failure of the
 * client's close is thrown); `'late'` when the time ran out first: the driver's close goes on and ends by itself,
 * its failure then caught, never unhandled. Read in driver 7.8's `MongoClient.close`: past the closes of the
 * connections in use and of its cursors, what it can still wait for is the abort of a transaction left open (a server,
 * `serverSelectionTimeoutMS`, then its reply, until the pool's monitor ends it on a server that stopped answering) and
 * its `endSessions`, sent only to a selectable server and unacknowledged (`w: 0`: no reply awaited), which waits for
 * a connection alone (a new one `connectTimeoutMS` for its connect and for its handshake). It has no bound of its own:
 * `close(force)` ignores its flag and `timeoutMS` has no effect. So `close()` never waits a server
 * selection on top of its own bound.
 *
 * @example
 * ```ts
 * const outcome = await closeOwnClient(client, () => unanswered, systemClock);
 * if (outcome === 'late') logger.warn('the MongoDB client is still closing');
 * ```
 */
export async function closeOwnClient(
  client: { close(): Promise<void> }, unanswered: () => Iterable<Promise<void>>, clock: Clock, waitMs = CLIENT_CLOSE_WAIT_MS,
): Promise<'closed' | 'late'> {
  const closing = (async () => {
    try {
      await client.close();
    } finally {
      // The client closed (or failed to): an abort or commit the store stopped waiting for has failed with it.
      await Promise.allSettled([...unanswered()]);
    }
  })();
  const outcome = await waitAtMost(closing, waitMs, clock);
  return outcome.kind === 'late' ? 'late' : 'closed';
}

/**
 * The last of `MongoStore.close`, once its operations in flight settled (each has a bound of its own): its change feeds'
 * closes (`feeds`) and the driver calls it holds that have none (`calls`: a `killCursors`, which driver 7.8 sends with
 * no signal or time limit, held by a server that stopped answering until the pool's monitor interrupts its connection,
 * about 20 s). On a client of its own (`own`) the client is closed over them, not after them: the driver's close fails
 * every command waiting on a connection first (`closeCheckedOutConnections`), those calls with it, and its pool's close
 * the ones still waiting for a connection; the whole ends within `CLIENT_CLOSE_WAIT_MS` ({@link closeOwnClient}). Driver
 * 7.8 offers nothing shorter: `close(force)` ignores its flag, `timeoutMS` has no effect, and a session cannot abort its
 * commands. On an application's client, which the store must not close, it waits for them within the same
 * `CLIENT_CLOSE_WAIT_MS`, then `'late'`: a server that answers heartbeats but holds a `killCursors` (a lock, a
 * `failCommand`) is never given up on by the pool's monitor, and a `killCursors` left running writes nothing; it ends
 * with the application's close of its client.
 *
 * @example
 * ```ts
 * const outcome = await closeWhatRemains(feeds, calls, { client, unanswered: () => transactionEnds }, systemClock);
 * ```
 */
export async function closeWhatRemains(
  feeds: Promise<unknown>, calls: UnboundedCalls,
  own: { readonly client: { close(): Promise<void> }; readonly unanswered: () => Iterable<Promise<void>> } | undefined,
  clock: Clock,
): Promise<'closed' | 'late'> {
  const settledFeeds = feeds.then(() => undefined, () => undefined);
  if (own === undefined) {
    const outcome = await waitAtMost(Promise.all([settledFeeds, calls.settled()]), CLIENT_CLOSE_WAIT_MS, clock);
    return outcome.kind === 'late' ? 'late' : 'closed';
  }
  return closeOwnClient(own.client, () => [...own.unanswered(), ...calls.held(), settledFeeds], clock);
}
