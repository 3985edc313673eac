import { ReplaySubject, distinctUntilChanged, firstValueFrom, filter, map, take, takeWhile, toArray, type Observable } from 'rxjs';
import { createClient, type DurableClient, type InstanceStatus } from '@durable-rx/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import type { InstanceState, StatusChange, Store } from '@durable-rx/runtime/store-kit';
import { changeChannelName } from '../../src/idb-store.js';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { adapters, commitSteps, create, newInstance, uniqueName, within, type AdapterName, type FeedOptions } from './fixtures.js';

describe.each(Object.keys(adapters) as AdapterName[])('cross-handle change feed: %s', (adapter) => {
  const opened: Store[] = [];
  const open = (name: string, options?: FeedOptions) => {
    const store = adapters[adapter](name, options);
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  it('delivers every snapshot committed through one handle to another, in order, with Dates intact', async () => {
    const name = uniqueName('feed');
    const a = open(name);
    const b = open(name);
    const values = Array.from({ length: 20 }, (_, i) => `value ${i}`);
    const seen = firstValueFrom(b.changes$.pipe(filter((c) => c.instanceId === 'x'), take(values.length + 1), toArray()));
    await create(a, newInstance('x'));
    await commitSteps(a, 'x', values);
    const changes = await seen;
    expect(changes.map((c) => c.state?.customStatus)).toEqual([undefined, ...values]);
    expect(changes.map((c) => c.state?.version)).toEqual(changes.map((_, i) => i + 1));
    expect(changes[0]?.state?.createdTime).toBeInstanceOf(Date);
    expect(changes[0]?.state?.createdTime.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('wakes the workers of other handles when work is written', async () => {
    const name = uniqueName('feed-work');
    const a = open(name);
    const b = open(name);
    const woken = firstValueFrom(b.workAvailable$);
    await create(a, newInstance('w'));
    await expect(woken).resolves.toBeUndefined();
  });

  it('does not wake the workers of other handles for a client command that changes nothing (an HTTP retry)', async () => {
    const name = uniqueName('feed-no-op');
    const a = open(name);
    const b = open(name);
    await b.getInstance('p'); // a store may open its feed asynchronously; one round trip through b settles it
    const client = createClient({ store: a });
    const started = firstValueFrom(b.changes$.pipe(filter((c) => c.instanceId === 'p')));
    await client.startNew('AnyName', { instanceId: 'p' });
    await started; // its work signal came with it
    // The first work b hears of after that: the next instance's start, delivered with its snapshot (a channel keeps
    // one sender's posts in order).
    let nextSeen = false;
    const seen = b.changes$.subscribe((c) => { if (c.instanceId === 'next') nextSeen = true; });
    try {
      const firstWork = firstValueFrom(b.workAvailable$.pipe(map(() => nextSeen)));
      // Resumes of an instance nobody has started yet, not suspended: its start was claimable before each of them.
      await client.resume('p', 'retry');
      await client.resume('p', 'retry');
      await create(a, newInstance('next'));
      expect(await firstWork).toBe(true);
    } finally {
      seen.unsubscribe();
    }
  });

  it('puts snapshots that overtook each other on the channel back in order and drops ones already delivered', async () => {
    const name = uniqueName('feed-order');
    const b = open(name);
    // Another "tab" posts committed snapshots late and out of order: v3 before v2, and v2 twice.
    const received = firstValueFrom(b.changes$.pipe(filter((ch) => ch.instanceId === 'late'), take(4), toArray()));
    const channel = new BroadcastChannel(changeChannelName(name));
    try {
      const snap = (version: number) => ({ ...newInstance('late').state, version, customStatus: `v${version}` });
      const post = (changes: unknown[]) => channel.postMessage({ type: 'durable-rx/commit@1', changes, work: false });
      post([{ instanceId: 'late', after: 0, state: snap(1) }]);
      post([{ instanceId: 'late', after: 2, state: snap(3) }]);
      post([{ instanceId: 'late', after: 1, state: snap(2) }, { instanceId: 'late', after: 1, state: snap(2) }]);
      post([{ instanceId: 'late', after: 0, state: snap(1) }, { instanceId: 'late', after: 3, state: snap(4) }]);
      const got: StatusChange[] = await received;
      expect(got.map((ch) => ch.state?.customStatus)).toEqual(['v1', 'v2', 'v3', 'v4']);
    } finally {
      channel.close();
    }
  });

  it('delivers a snapshot whose predecessor never arrives once the gap timeout passes on the store\'s clock', async () => {
    const name = uniqueName('feed-gap');
    const clock = new VirtualClock();
    const b = open(name, { gapTimeoutMs: 5000, clock });
    const state = { ...newInstance('g').state, customStatus: 'orphan', version: 7 };
    const channel = new BroadcastChannel(changeChannelName(name));
    try {
      const versions: (number | undefined)[] = [];
      const first = firstValueFrom(b.changes$.pipe(filter((ch) => ch.instanceId === 'g')));
      const both = firstValueFrom(b.changes$.pipe(filter((ch) => ch.instanceId === 'g'), take(2), toArray()));
      b.changes$.pipe(filter((ch) => ch.instanceId === 'g'), take(2)).subscribe((ch) => versions.push(ch.state?.version));
      channel.postMessage({ type: 'durable-rx/commit@1', changes: [{ instanceId: 'g', after: 4, state: { ...state, version: 5 } }], work: false });
      channel.postMessage({ type: 'durable-rx/commit@1', changes: [{ instanceId: 'g', after: 6, state }], work: false });
      await first;
      await clock.waitForTimer(); // v7 arrived and is held, waiting for v6
      await clock.advance(4999);
      expect(versions).toEqual([5]);
      await clock.advance(1);
      expect((await both).map((ch) => ch.state?.version)).toEqual([5, 7]);
    } finally {
      channel.close();
    }
  });

  it('lets every held snapshot wait its own gap timeout: another instance\'s timeout releases none of it early', async () => {
    const name = uniqueName('feed-gaps');
    const clock = new VirtualClock();
    const b = open(name, { gapTimeoutMs: 1000, clock });
    const channel = new BroadcastChannel(changeChannelName(name));
    try {
      const snap = (id: string, version: number) => ({ ...newInstance(id).state, version, customStatus: `v${version}` });
      const post = (changes: unknown[]) => channel.postMessage({ type: 'durable-rx/commit@1', changes, work: false });
      // Waits until `b` has handled everything posted before (one sender's messages arrive in order).
      let marks = 0;
      const handled = () => {
        const mark = `mark-${++marks}`;
        const seen = firstValueFrom(b.changes$.pipe(filter((ch) => ch.instanceId === mark)));
        post([{ instanceId: mark, after: 0, state: snap(mark, 1) }]);
        return seen;
      };
      const seenX: unknown[] = [];
      b.changes$.pipe(filter((ch) => ch.instanceId === 'x')).subscribe((ch) => seenX.push(ch.state?.customStatus));
      // y: its v2 never comes (the tab that committed it went before posting it), so y v3 waits for it.
      post([{ instanceId: 'y', after: 0, state: snap('y', 1) }, { instanceId: 'x', after: 0, state: snap('x', 1) }]);
      post([{ instanceId: 'y', after: 2, state: snap('y', 3) }]);
      await handled();
      await clock.advance(990);
      // x v3 (from one tab) overtakes v2 (from another, on its way): held, 10 ms before y's wait ends ...
      post([{ instanceId: 'x', after: 2, state: snap('x', 3) }]);
      await handled();
      const y3 = firstValueFrom(b.changes$.pipe(filter((ch) => ch.instanceId === 'y')));
      await clock.advance(10);
      expect((await y3).state?.version).toBe(3);
      // ... and x v2 arrives well within x v3's own wait: both in order.
      post([{ instanceId: 'x', after: 1, state: snap('x', 2) }]);
      await handled();
      expect(seenX).toEqual(['v1', 'v2', 'v3']);
      await clock.advance(2000);
      expect(seenX).toEqual(['v1', 'v2', 'v3']);
    } finally {
      channel.close();
    }
  });

  it('delivers a run started again whose purge never arrived once the gap timeout passes, and its next steps, to the store and its client', async () => {
    const name = uniqueName('feed-rerun');
    const clock = new VirtualClock();
    const b = open(name, { gapTimeoutMs: 1000, clock });
    const channel = new BroadcastChannel(changeChannelName(name));
    const statuses = new ReplaySubject<string>();
    const subscription = createClient({ store: b }).status$('x').pipe(map((s) => (s ? String(s.customStatus) : 'none'))).subscribe(statuses);
    try {
      const snap = (executionId: string, version: number, customStatus: string) => ({ ...newInstance('x').state, executionId, version, customStatus });
      const post = (changes: unknown[]) => channel.postMessage({ type: 'durable-rx/commit@1', changes, work: false });
      const seen: string[] = [];
      b.changes$.pipe(filter((ch) => ch.instanceId === 'x')).subscribe((ch) => seen.push(`${ch.state?.version ?? 'purged'} ${ch.state?.customStatus ?? ch.purged?.executionId}`));
      await firstValueFrom(statuses); // the client has read x (not there)
      const first = firstValueFrom(b.changes$.pipe(filter((ch) => ch.instanceId === 'x')));
      post([{ instanceId: 'x', after: 4, state: snap('run-1', 5, 'old run, terminal') }]);
      await first;
      // The tab that purged x went before posting the purge; another tab starts x again and steps it.
      post([{ instanceId: 'x', after: 0, state: snap('run-2', 1, 'new run') }]);
      post([{ instanceId: 'x', after: 1, state: snap('run-2', 2, 'new run step') }]);
      // Both are held, waiting for the purge: `b` has handled them once it has a marker posted after them (one
      // sender's messages arrive in order); the step must be held too, or it would arrive after the release below.
      const mark = firstValueFrom(b.changes$.pipe(filter((ch) => ch.instanceId === 'mark')));
      post([{ instanceId: 'mark', after: 0, state: { ...newInstance('mark').state, version: 1 } }]);
      await mark;
      await clock.advance(1000);
      // The lost purge first, naming the old run's snapshot: the client takes it, and so the new run (versions restart).
      expect(seen).toEqual(['5 old run, terminal', 'purged run-1', '1 new run', '2 new run step']);
      statuses.complete();
      expect(await firstValueFrom(statuses.pipe(toArray()))).toEqual(['none', 'old run, terminal', 'none', 'new run', 'new run step']);
    } finally {
      channel.close();
      subscription.unsubscribe();
    }
  });

  it('delivers the last steps and the purge of an old run held with a new run before that run, once the gap timeout passes, to the store and its client', async () => {
    const name = uniqueName('feed-rerun-held');
    const clock = new VirtualClock();
    const b = open(name, { gapTimeoutMs: 1000, clock });
    const channel = new BroadcastChannel(changeChannelName(name));
    const statuses = new ReplaySubject<string>();
    const subscription = createClient({ store: b }).status$('x').pipe(map((s) => (s ? String(s.customStatus) : 'none'))).subscribe(statuses);
    try {
      const snap = (executionId: string, version: number, customStatus: string) => ({ ...newInstance('x').state, executionId, version, customStatus });
      const post = (changes: unknown[]) => channel.postMessage({ type: 'durable-rx/commit@1', changes, work: false });
      const seen: string[] = [];
      b.changes$.pipe(filter((ch) => ch.instanceId === 'x')).subscribe((ch) => seen.push(`${ch.state?.version ?? 'purged'} ${ch.state?.customStatus ?? ch.purged?.executionId}`));
      await firstValueFrom(statuses); // the client has read x (not there)
      const first = firstValueFrom(b.changes$.pipe(filter((ch) => ch.instanceId === 'x')));
      post([{ instanceId: 'x', after: 4, state: snap('run-1', 5, 'old run') }]);
      await first;
      // v6 never comes (the tab that committed it went before posting it): v7, the purge after it, and the new run
      // that follows the purge all wait for it.
      post([{ instanceId: 'x', after: 6, state: snap('run-1', 7, 'old run, terminal') }]);
      post([{ instanceId: 'x', after: 7, state: undefined, purged: { executionId: 'run-1', version: 7 } }]);
      post([{ instanceId: 'x', after: 0, state: snap('run-2', 1, 'new run') }]);
      post([{ instanceId: 'x', after: 1, state: snap('run-2', 2, 'new run step') }]);
      const mark = firstValueFrom(b.changes$.pipe(filter((ch) => ch.instanceId === 'mark')));
      post([{ instanceId: 'mark', after: 0, state: { ...newInstance('mark').state, version: 1 } }]);
      await mark;
      await clock.advance(1000);
      // In commit order: the old run's last step and its purge, then the new run (whose versions restart at 1).
      expect(seen).toEqual(['5 old run', '7 old run, terminal', 'purged run-1', '1 new run', '2 new run step']);
      statuses.complete();
      expect(await firstValueFrom(statuses.pipe(toArray()))).toEqual(['none', 'old run', 'old run, terminal', 'none', 'new run', 'new run step']);
    } finally {
      channel.close();
      subscription.unsubscribe();
    }
  });

  it('tells another handle which snapshot a purge deleted', async () => {
    const name = uniqueName('feed-purged');
    const writer = createClient({ store: open(name) });
    const b = open(name);
    await b.getInstance('p'); // joined
    await writer.startNew('Orch', { instanceId: 'p' });
    await writer.terminate('p', 'done'); // no worker runs: the client commits it
    const last = (await b.getInstance('p'))!;
    const purge = firstValueFrom(b.changes$.pipe(filter((ch) => ch.instanceId === 'p' && ch.state === undefined)));
    await writer.purgeInstanceHistory('p');
    expect((await purge).purged).toEqual({ executionId: last.executionId, version: last.version });
  });

  it('never goes back to an older version of an instance, however many other instances changed since', async () => {
    const name = uniqueName('feed-many');
    const b = open(name, { clock: new VirtualClock() }); // no time passes: everything it delivered is recent
    const received = firstValueFrom(b.changes$.pipe(filter((ch) => ch.instanceId === 'kept'), take(2), toArray()));
    const channel = new BroadcastChannel(changeChannelName(name));
    try {
      const snap = (id: string, version: number) => ({ ...newInstance(id).state, version, customStatus: `v${version}` });
      const post = (changes: unknown[]) => channel.postMessage({ type: 'durable-rx/commit@1', changes, work: false });
      post([{ instanceId: 'kept', after: 4, state: snap('kept', 5) }]);
      // More instances change than the feed tracks by count (10,000) ...
      post(Array.from({ length: 10_001 }, (_, i) => ({ instanceId: `other-${i}`, after: 0, state: snap(`other-${i}`, 1) })));
      // ... and then a late copy of an older commit of the first arrives (as a late answer's kept commits carry them),
      // and then its next version.
      post([{ instanceId: 'kept', after: 2, state: snap('kept', 3) }]);
      post([{ instanceId: 'kept', after: 5, state: snap('kept', 6) }]);
      expect((await received).map((ch) => ch.state?.customStatus)).toEqual(['v5', 'v6']);
    } finally {
      channel.close();
    }
  });

  it('keeps a restarted instance at its new execution in status$, customStatus$ and instances$ when a late copy of the old execution arrives', async () => {
    const name = uniqueName('feed-restart');
    const writer = createClient({ store: open(name) });
    await writer.startNew('Orch', { instanceId: 'r' });
    await writer.terminate('r', 'replaced'); // no worker runs: the client commits it
    const old = (await open(name).getInstance('r'))!;
    await writer.startNew('Orch', { instanceId: 'r' }); // a new execution over the terminal one ...
    const restarted = (await open(name).getInstance('r'))!;
    expect([old.runtimeStatus, old.version]).toEqual(['Terminated', 2]);
    expect(restarted.executionId).not.toBe(old.executionId);
    expect([restarted.runtimeStatus, restarted.version]).toEqual(['Pending', 3]); // ... one version higher
    // A handle (a tab) that opens now reads the new execution; then a late answer's kept commits bring it the old
    // execution's snapshot, which its feed has not seen delivered and so passes on, and then the next commit.
    const reader = createClient({ store: open(name, { gapTimeoutMs: 50 }) });
    const label = (s: InstanceStatus | undefined) => (s ? `${s.runtimeStatus} ${String(s.customStatus ?? '-')}` : 'none');
    const seen = <T>(source: Observable<T>) => {
      const subject = new ReplaySubject<T>();
      return { subject, subscription: source.subscribe(subject) };
    };
    const watched = [
      seen(reader.status$('r').pipe(map(label))),
      seen(reader.customStatus$('r').pipe(map((c) => String(c ?? '-')))),
      seen(reader.instances$().pipe(map((list) => label(list.find((s) => s.instanceId === 'r'))))),
      // A list the old snapshot does not match: it must not take the instance out.
      seen(reader.instances$({ runtimeStatus: ['Pending'] }).pipe(map((list) => label(list.find((s) => s.instanceId === 'r'))))),
    ];
    const channel = new BroadcastChannel(changeChannelName(name));
    try {
      await Promise.all(watched.map((w) => firstValueFrom(w.subject))); // each has read the instance
      const post = (changes: unknown[]) => channel.postMessage({ type: 'durable-rx/commit@1', changes, work: false });
      post([{ instanceId: 'r', after: 1, state: { ...old, customStatus: 'old' } }]);
      post([{ instanceId: 'r', after: 3, state: { ...restarted, version: 4, customStatus: 'v4' } }]);
      const untilV4 = (subject: ReplaySubject<string>) => firstValueFrom(subject.pipe(takeWhile((s) => !s.includes('v4'), true), toArray()));
      const [statuses, customStatuses, rows, pendingRows] = await Promise.all(watched.map((w) => untilV4(w.subject)));
      expect(statuses).toEqual(['Pending -', 'Pending v4']);
      expect(customStatuses).toEqual(['-', 'v4']);
      expect(rows).toEqual(['Pending -', 'Pending v4']);
      expect(pendingRows).toEqual(['Pending -', 'Pending v4']);
    } finally {
      channel.close();
      for (const w of watched) w.subscription.unsubscribe();
    }
  });

  /** A reader's status$, customStatus$ and instances$ of `id`, each as labels, replayed to whoever asks. */
  const watchOf = (reader: DurableClient, id: string) => {
    const label = (s: InstanceStatus | undefined) => (s ? `${s.runtimeStatus} ${String(s.customStatus ?? '-')}` : 'none');
    const sources = [
      reader.status$(id).pipe(map(label)),
      reader.customStatus$(id).pipe(map((c) => String(c ?? '-'))),
      // A list may run its query again (and show the same): only what it shows counts.
      reader.instances$().pipe(map((list) => label(list.find((s) => s.instanceId === id))), distinctUntilChanged()),
    ];
    const watched = sources.map((source) => {
      const subject = new ReplaySubject<string>();
      return { subject, subscription: source.subscribe(subject) };
    });
    return {
      /** Each one's first label. */
      first: () => Promise.all(watched.map((w) => within(firstValueFrom(w.subject), 'a first label'))),
      /** Each one's labels until one that includes `text`; rejects when one fails. */
      until: (text: string) => Promise.all(watched.map((w) => within(
        firstValueFrom(w.subject.pipe(takeWhile((s) => !s.includes(text), true), toArray())), `labels until ${text}`,
      ))),
      stop: () => {
        for (const w of watched) w.subscription.unsubscribe();
      },
    };
  };

  /** Two handles on a fresh database, one instance created through `writer` and watched through `readerStore`. */
  const writerAndWatchingReader = async (label: string, instanceId: string) => {
    const name = uniqueName(label);
    const writer = open(name);
    const readerStore = open(name);
    await create(writer, newInstance(instanceId));
    return { name, writer, readerStore, watch: watchOf(createClient({ store: readerStore }), instanceId) };
  };

  it('drops what another script posts on the channel that is no change it can read, and its status$, customStatus$ and instances$ go on with the real commits', async () => {
    const { name, writer, readerStore, watch } = await writerAndWatchingReader('feed-malformed', 'm');
    const channel = new BroadcastChannel(changeChannelName(name));
    try {
      expect(await watch.first()).toEqual(['Pending -', '-', 'Pending -']);
      const good = (await readerStore.getInstance('m'))!;
      const post = (changes: unknown) => channel.postMessage({ type: 'durable-rx/commit@1', changes, work: false });
      const malformed: unknown[] = [
        null, 'm', {}, { instanceId: 7, after: 1 }, { instanceId: 'm', after: -1, state: undefined },
        { instanceId: 'm', after: 1, state: null }, { instanceId: 'm', after: 1, state: 7 },
        { instanceId: 'm', after: 1, state: { instanceId: 'm', runtimeStatus: 'Completed' } },
        { instanceId: 'm', after: 1, state: { ...good, version: undefined } },
        { instanceId: 'm', after: 1, state: { ...good, version: 2, instanceId: 'other' } },
        { instanceId: 'm', after: 1, state: { ...good, version: 2, runtimeStatus: 'Done' } },
        { instanceId: 'm', after: 1, state: { ...good, version: 2, createdTime: good.createdTime.toISOString() } },
        { instanceId: 'm', after: 1, state: { ...good, version: 2, lastUpdatedTime: new Date(Number.NaN) } },
        { instanceId: 'm', after: 1, state: { ...good, version: 2, failureDetails: 'boom' } },
        { instanceId: 'm', after: 1, state: undefined, purged: { executionId: 5, version: 1 } },
        { instanceId: 'm', after: 1, state: undefined, purged: null },
      ];
      for (const change of malformed) post([change]);
      post(malformed);
      post('changes');
      channel.postMessage(null);
      // A well-formed change in a batch with malformed ones is delivered. It comes after every post above from the
      // same sender, so once it is delivered, they have all been handled.
      const sentinel = firstValueFrom(readerStore.changes$.pipe(filter((c) => c.instanceId === 'sentinel')));
      post([null, { instanceId: 'sentinel', after: 0, state: { ...newInstance('sentinel').state } }, { instanceId: 'm', state: 7 }]);
      expect((await within(sentinel, 'the sentinel')).state?.instanceId).toBe('sentinel');
      await commitSteps(writer, 'm', ['one', 'two']);
      expect(await watch.until('two')).toEqual([
        ['Pending -', 'Running one', 'Running two'], ['-', 'one', 'two'], ['Pending -', 'Running one', 'Running two'],
      ]);
    } finally {
      channel.close();
      watch.stop();
    }
  });

  it('reads again what it watches when a commit on the channel carried changes it cannot read: a tab of another version still reaches status$, customStatus$ and instances$', async () => {
    const { writer, watch } = await writerAndWatchingReader('feed-unreadable', 'u');
    // The writer's commits posted as a tab of another version might: its times as ISO strings.
    const postMessage = BroadcastChannel.prototype.postMessage;
    const otherVersion = function (this: BroadcastChannel, message: unknown): void {
      const m = message as { type?: unknown; changes?: { state?: InstanceState }[] };
      if (m.type !== 'durable-rx/commit@1' || !m.changes) return postMessage.call(this, message);
      const changes = m.changes.map((c) => ({ ...c, state: c.state && { ...c.state, createdTime: c.state.createdTime.toISOString() } }));
      postMessage.call(this, { ...m, changes });
    };
    try {
      expect(await watch.first()).toEqual(['Pending -', '-', 'Pending -']);
      BroadcastChannel.prototype.postMessage = otherVersion;
      try {
        await commitSteps(writer, 'u', ['unreadable']);
      } finally {
        BroadcastChannel.prototype.postMessage = postMessage;
      }
      expect(await watch.until('unreadable')).toEqual([['Pending -', 'Running unreadable'], ['-', 'unreadable'], ['Pending -', 'Running unreadable']]);
      await commitSteps(writer, 'u', ['next']);
      expect(await watch.until('next')).toEqual([
        ['Pending -', 'Running unreadable', 'Running next'], ['-', 'unreadable', 'next'], ['Pending -', 'Running unreadable', 'Running next'],
      ]);
    } finally {
      BroadcastChannel.prototype.postMessage = postMessage;
      watch.stop();
    }
  });

  it('re-reads what it watches a bounded number of times for a burst of commits it cannot read, and still delivers every real commit', async () => {
    const { name, writer, readerStore, watch } = await writerAndWatchingReader('feed-unreadable-burst', 'b');
    let resyncs = 0;
    const counting = readerStore.resync$!.subscribe(() => resyncs++);
    const channel = new BroadcastChannel(changeChannelName(name));
    try {
      expect(await watch.first()).toEqual(['Pending -', '-', 'Pending -']);
      const good = (await readerStore.getInstance('b'))!;
      // Commits of a tab of another version, as the feed sees them: its times as ISO strings, each unreadable.
      const burst = 200;
      for (let version = 2; version < 2 + burst; version++) {
        const state = { ...good, version, createdTime: good.createdTime.toISOString() };
        channel.postMessage({ type: 'durable-rx/commit@1', changes: [{ instanceId: 'b', after: version - 1, state }], work: false });
      }
      // Handled in order: once the sentinel is delivered, the burst was.
      const sentinel = firstValueFrom(readerStore.changes$.pipe(filter((c) => c.instanceId === 'sentinel')));
      channel.postMessage({ type: 'durable-rx/commit@1', changes: [{ instanceId: 'sentinel', after: 0, state: newInstance('sentinel').state }], work: false });
      await within(sentinel, 'the sentinel');
      await commitSteps(writer, 'b', ['one', 'two']);
      expect(await watch.until('two')).toEqual([
        ['Pending -', 'Running one', 'Running two'], ['-', 'one', 'two'], ['Pending -', 'Running one', 'Running two'],
      ]);
      // One re-read running and one waiting at most: not one per message.
      expect(resyncs).toBeGreaterThan(0);
      expect(resyncs).toBeLessThan(burst);
    } finally {
      counting.unsubscribe();
      channel.close();
      watch.stop();
    }
  });

  it('completes its observables and stops listening on close', async () => {
    const name = uniqueName('feed-close');
    const a = open(name);
    const b = open(name);
    const completed = firstValueFrom(b.changes$.pipe(toArray()));
    await b.close();
    await create(a, newInstance('after-close'));
    expect(await completed).toEqual([]);
  });
});
