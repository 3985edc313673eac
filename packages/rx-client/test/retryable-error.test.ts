import {
  InstanceNotFoundError, InvalidArgumentError, StoreClosedError, UnavailableError,
} from '@durable-rx/runtime';
import { DatabaseUpgradingError } from '@durable-rx/store-indexeddb';
import { describe, expect, it } from 'vitest';
import { badResponse, errorFromBody, errorStatusOf, isRetryableForHooks, RemoteError, tooLong } from '../src/remote-error.js';

/** Which errors the React hooks subscribe again after (see useObservableState), and which stay. */
describe('isRetryableForHooks', () => {
  it('retries what a later attempt may get past: a watch the server ended, a lost or struggling server, a proxy page', () => {
    for (const error of [
      new UnavailableError('no status arrived'), new RemoteError('unreachable', 503, 'fetch failed'),
      new RemoteError('internal', 500, 'boom'), new RemoteError('bad-response', 502, 'Not an event stream'),
      new RemoteError('bad-response', 404, 'HTTP 404'), new RemoteError('timeout', 408, 'slow'),
      new RemoteError('too-many-requests', 429, 'later'),
      // A server's store closed or lost, as the client rebuilds it: the server may be restarted.
      Object.assign(new StoreClosedError('closed'), { storeClosed: true }),
      Object.assign(new RemoteError('database-upgrading', 503, 'upgrading'), { storeClosed: true }),
    ]) expect([error.code, isRetryableForHooks(error)]).toEqual([error.code, true]);
  });

  it('never retries a refusal, a closed client or an error that is no DurableError', () => {
    for (const error of [
      new InvalidArgumentError('bad id'), new RemoteError('unauthorized', 401, 'wrong key'),
      new RemoteError('forbidden', 403, 'no'), new RemoteError('not-found', 404, 'no route'),
      new InstanceNotFoundError('gone'), new StoreClosedError('closed'), new TypeError('a bug'), 'no error',
      // A request line or headers too long for the server: the same request is refused again.
      new RemoteError('bad-response', 414, 'HTTP 414'), new RemoteError('bad-response', 431, 'HTTP 431'),
      // A store lost in the page (a local client's): a reload fixes it, not a retry.
      new DatabaseUpgradingError('upgrading'),
    ]) expect([String(error), isRetryableForHooks(error)]).toEqual([String(error), false]);
  });

  it('never retries a watch\'s value too long to read, which would come again whole; retries the stream\'s bad response', () => {
    const oversized = tooLong('An event', 10, true);
    expect([oversized.code, oversized.status, isRetryableForHooks(oversized)]).toEqual(['bad-response', 502, false]);
    for (const error of [badResponse('Not an event stream'), tooLong('An event', 10), tooLong('An answer', 10)]) {
      expect([error.message, isRetryableForHooks(error)]).toEqual([error.message, true]);
    }
  });

  it('rebuilds a server\'s store-lost answer with a typed mark, which it retries', () => {
    const remote = errorFromBody(503, { code: 'database-upgrading', message: 'upgrading', storeClosed: true });
    const closed = errorFromBody(503, { code: 'store-closed', message: 'closed', storeClosed: true });
    // Read without a cast: `storeClosed` is declared.
    expect([remote instanceof RemoteError, remote.storeClosed, closed instanceof StoreClosedError, closed.storeClosed]).toEqual([true, true, true, true]);
    expect([isRetryableForHooks(remote), isRetryableForHooks(closed)]).toEqual([true, true]);
    const unmarked = errorFromBody(503, { code: 'store-closed', message: 'closed' });
    expect([unmarked.storeClosed, isRetryableForHooks(unmarked)]).toEqual([undefined, false]);
  });
});

/** The status of an error a subscription's `close` event carries (see the stream mux). */
describe('errorStatusOf', () => {
  it('keeps an integer error status from 400 to 599', () => {
    for (const status of [400, 404, 429, 500, 503, 599]) expect(errorStatusOf(status)).toBe(status);
  });

  it('gives 500 for a status that is none, no integer, a string or no error status', () => {
    for (const status of [undefined, null, '503', 503.5, 399, 600, 200, 0, -503, NaN, Infinity, true, [503], { valueOf: () => 503 }]) {
      expect([status, errorStatusOf(status)]).toEqual([status, 500]);
    }
  });
});
