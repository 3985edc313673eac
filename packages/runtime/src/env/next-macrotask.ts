/**
 * The one channel of every callback run at the next macrotask ({@link onNextMacrotask}): a worker's burst markers and
 * deferred work, a `FallbackTimer`'s retry of a timer none could arm, a retention sweep's pause between pages. Made once,
 * as making and closing a `MessageChannel` costs more than a short step (about 15 µs in Node). Its port listens only
 * while a callback is pending (`onmessage` is set per message and cleared on delivery), so it never keeps a Node process
 * alive, and it holds nothing of a stopped worker.
 */
let channel: MessageChannel | undefined;
let queued: (() => void)[] = [];

/**
 * Runs the callbacks queued for this macrotask, each whatever the one before it threw: a callback that throws (a bug)
 * must not leave a later one (another worker's start, its stop's wait) never run. The first error is thrown again
 * once all ran, so it still surfaces as an uncaught error.
 */
function deliver(): void {
  const callbacks = queued;
  queued = [];
  channel!.port1.onmessage = null;
  let failed: { error: unknown } | undefined;
  for (const callback of callbacks) {
    try {
      callback();
    } catch (error) {
      failed ??= { error };
    }
  }
  if (failed) throw failed.error;
}

/**
 * Calls `callback` in the next macrotask: a message on one shared `MessageChannel` (web standard), or a `setTimeout(0)`
 * where there is no `MessageChannel` (a marker then ends a burst only once timers had a turn).
 */
export function onNextMacrotask(callback: () => void): void {
  if (typeof MessageChannel !== 'function') {
    setTimeout(callback, 0);
    return;
  }
  channel ??= new MessageChannel();
  queued.push(callback);
  if (queued.length > 1) return;
  channel.port1.onmessage = deliver;
  try {
    channel.port2.postMessage(undefined);
  } catch {
    // A port that could not post (the platform refused the message): this callback goes by a timer, as without a
    // MessageChannel, and the port is free again. Left queued, it and every callback queued after it (which post
    // nothing while one is pending) would never run.
    queued = [];
    channel.port1.onmessage = null;
    setTimeout(callback, 0);
  }
}
