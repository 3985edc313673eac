import { createClient, createRuntime, silentLogger, type Runtime } from '@durable-rx/runtime';
import { helloSequence, sayHello } from '@durable-rx/runtime/samples';
import { VirtualClock } from '@durable-rx/runtime/testing';
import type { Store } from '@durable-rx/runtime/store-kit';
import { ReplaySubject, filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { changeChannelName } from '../../src/idb-store.js';
import { ChangeFeed } from '../../src/internal/change-feed.js';
import { adapters, commitSteps, create, newInstance, uniqueName, type AdapterName, type FeedOptions } from '../shared/fixtures.js';

// A store posts its commits on the BroadcastChannel only while another store may listen (presence on Web Locks; see
// ChangeFeed). These tests watch the channel with a raw BroadcastChannel, which is no store: it never makes one post.

/** The commits posted on a database's channel, as `instanceId@version`, in the order they arrived. */
class ChannelWatch {
  readonly commits: string[] = [];
  readonly #channel: BroadcastChannel;
  readonly #arrived = new ReplaySubject<string>();

  constructor(name: string) {
    this.#channel = new BroadcastChannel(changeChannelName(name));
    this.#channel.onmessage = (event: MessageEvent<{ type?: string; changes?: { instanceId: string; state?: { version: number } }[] }>) => {
      if (event.data.type !== 'durable-rx/commit@1') return;
      for (const change of event.data.changes ?? []) {
        const key = `${change.instanceId}@${change.state?.version ?? 0}`;
        this.commits.push(key);
        this.#arrived.next(key);
      }
    };
  }

  /** Resolves when `key` has been posted. */
  posted(key: string): Promise<unknown> {
    return firstValueFrom(this.#arrived.pipe(filter((k) => k === key)));
  }

  close(): void {
    this.#channel.close();
  }
}

/** The versions a store's changes$ delivers for one instance, replayed to late waiters. */
function versionsOf(store: Store, instanceId: string): { readonly list: number[]; reached(version: number): Promise<unknown> } {
  const list: number[] = [];
  const seen = new ReplaySubject<number>();
  store.changes$.pipe(filter((c) => c.instanceId === instanceId)).subscribe((c) => {
    list.push(c.state?.version ?? 0);
    seen.next(c.state?.version ?? 0);
  });
  return { list, reached: (version) => firstValueFrom(seen.pipe(filter((v) => v >= version))) };
}

/**
 * A join timeout no test reaches: a store given it reads only once every feed present has answered, so they know it.
 * (With the real 1 s default, a loaded machine can time the join out before the other store handled the hello: that
 * store's next commit is then kept for its answer, not posted.)
 */
const JOIN_UNTIL_ANSWERED = { joinTimeoutMs: 600_000 } as const;

/** The names of the feed locks held on a database. */
async function feedLocks(name: string): Promise<string[]> {
  const prefix = `${changeChannelName(name)}/feed/`;
  const { held = [] } = await navigator.locks.query();
  return held.filter((l) => l.mode === 'exclusive' && l.name?.startsWith(prefix)).map((l) => l.name!);
}

/**
 * A connection of the test's own to database `name` that gives way to an upgrade, as a store's does: it closes on
 * `versionchange` (`closed` then says so), so a store's open at its version is not held by it.
 */
function givingWay(name: string): Promise<{ readonly db: IDBDatabase; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onsuccess = () => {
      const own = { db: request.result, closed: false };
      own.db.onversionchange = () => {
        own.closed = true;
        own.db.close();
      };
      resolve(own);
    };
    request.onerror = () => reject(request.error);
  });
}

/** Resolves once the holder of `lockName` released it, after every watch queued before (the store's, on its peer). */
function released(lockName: string): Promise<void> {
  return navigator.locks.request(lockName, { mode: 'shared' }, () => undefined);
}

/** Takes the Web Lock `lockName`, as a feed does while its store is open; resolves with its release once held. */
async function heldLock(lockName: string): Promise<() => void> {
  let release!: () => void;
  await new Promise<void>((resolve) => {
    void navigator.locks.request(lockName, () => {
      resolve();
      return new Promise<void>((r) => (release = r));
    });
  });
  return release;
}

/** Resolves with the id of the first feed that says hello on `channel`. */
function firstHello(channel: BroadcastChannel): Promise<string> {
  return new Promise<string>((resolve) => {
    channel.onmessage = (event: MessageEvent<{ kind?: string; from?: string }>) => {
      if (event.data.kind === 'hello') resolve(event.data.from!);
    };
  });
}

/** The kept commits of a feed's answer, as sent. */
type KeptAnswer = { changes: { instanceId: string; state: { version: number } }[] }[];

describe.each(Object.keys(adapters) as AdapterName[])('presence of the change feed: %s', (adapter) => {
  const opened: Store[] = [];
  const cleanups: (() => void | Promise<void>)[] = [];
  const open = (name: string, options?: FeedOptions) => {
    const store = adapters[adapter](name, options);
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  const watch = (name: string) => {
    const w = new ChannelWatch(name);
    cleanups.push(() => w.close());
    return w;
  };
  /** Holds the Web Lock `lockName` until the test ends, as a feed does while its store is open. */
  const holdLock = async (lockName: string): Promise<void> => {
    cleanups.push(await heldLock(lockName));
  };
  /**
   * A raw feed `id` on database `name` (a lock and a channel, no store behind them) until the test ends; `hello`
   * resolves with the id of the first feed that says hello on the channel.
   */
  const rawFeed = async (name: string, id: string) => {
    await holdLock(`${changeChannelName(name)}/feed/${id}`);
    const channel = new BroadcastChannel(changeChannelName(name));
    cleanups.push(() => channel.close());
    return { channel, hello: firstHello(channel) };
  };
  /**
   * Says hello `hellos` times as a raw newcomer on database `name`; resolves with the kept commits of each answer, once
   * there is one answer per hello.
   */
  const keptAnswers = async (name: string, hellos: number): Promise<KeptAnswer[]> => {
    await holdLock(`${changeChannelName(name)}/feed/newcomer`);
    const newcomer = new BroadcastChannel(changeChannelName(name));
    cleanups.push(() => newcomer.close());
    const answers: KeptAnswer[] = [];
    const answered = new Promise<KeptAnswer[]>((resolve) => {
      newcomer.onmessage = (event: MessageEvent<{ kind?: string; to?: string; kept: KeptAnswer }>) => {
        if (event.data.kind === 'here' && event.data.to === 'newcomer' && answers.push(event.data.kept) === hellos) resolve(answers);
      };
    });
    for (let i = 0; i < hellos; i++) newcomer.postMessage({ type: 'durable-rx/presence@1', kind: 'hello', from: 'newcomer' });
    return answered;
  };
  /** Says hello as a raw newcomer on database `name`; resolves with the kept commits the answer carries. */
  const keptAnswered = async (name: string): Promise<KeptAnswer> => (await keptAnswers(name, 1))[0]!;
  /** The versions the kept commits of a newcomer's answer carry, in order. */
  const keptVersionsAnswered = async (name: string): Promise<number[]> =>
    (await keptAnswered(name)).flatMap((batch) => batch.changes.map((c) => c.state.version));

  /**
   * A raw peer `gone` on database `name` whose store `a` knows (it answered its hello), which announced the lease owner
   * `w-gone`; `a` holds instance x leased to `w-gone` for 10 minutes. Resolves with what ends the peer: its lock's
   * release, after which `a`'s watch of it has run.
   */
  const leasedToPeer = async (name: string, a: Store): Promise<{ channel: BroadcastChannel; end: () => Promise<void> }> => {
    const lockName = `${changeChannelName(name)}/feed/gone`;
    const release = await heldLock(lockName);
    const channel = new BroadcastChannel(changeChannelName(name));
    cleanups.push(() => channel.close());
    const answered = new Promise<void>((resolve) => {
      channel.onmessage = (event: MessageEvent<{ kind?: string; to?: string }>) => event.data.kind === 'here' && event.data.to === 'gone' && resolve();
    });
    await create(a, newInstance('x'));
    // Handled in order: a knows the owner once it answered the hello.
    channel.postMessage({ type: 'durable-rx/presence@1', kind: 'owners', from: 'gone', owners: ['w-gone'] });
    channel.postMessage({ type: 'durable-rx/presence@1', kind: 'hello', from: 'gone' });
    await answered;
    expect(await a.claimOrchestration({ owner: 'w-gone', leaseMs: 600_000, now: new Date() })).toBeDefined();
    return { channel, end: async () => {
      release();
      await released(lockName);
    } };
  };

  it('a peer whose lock frees without a goodbye has the leases of the owners it announced released at once', async () => {
    const name = uniqueName('peer-gone');
    const a = open(name);
    const peer = await leasedToPeer(name, a);
    expect(await a.claimOrchestration({ owner: 'other', leaseMs: 30_000, now: new Date() })).toBeUndefined();
    await peer.end();
    expect((await a.claimOrchestration({ owner: 'other', leaseMs: 30_000, now: new Date() }))?.state.instanceId).toBe('x');
  });

  it('a peer that said goodbye before its lock freed keeps its leases until they expire', async () => {
    const name = uniqueName('peer-bye');
    const a = open(name);
    const peer = await leasedToPeer(name, a);
    peer.channel.postMessage({ type: 'durable-rx/presence@1', kind: 'bye', from: 'gone' });
    // The goodbye is handled before a's next message from the same sender: a second hello, which a answers.
    const answeredAgain = new Promise<void>((resolve) => {
      peer.channel.onmessage = (event: MessageEvent<{ kind?: string; to?: string }>) => event.data.kind === 'here' && event.data.to === 'gone' && resolve();
    });
    peer.channel.postMessage({ type: 'durable-rx/presence@1', kind: 'hello', from: 'gone' });
    await answeredAgain;
    await peer.end();
    expect(await a.claimOrchestration({ owner: 'other', leaseMs: 30_000, now: new Date() })).toBeUndefined();
  });

  it('a store alone posts none of its commits, and posts once another store has joined', async () => {
    const name = uniqueName('lone');
    const raw = watch(name);
    const a = open(name);
    await create(a, newInstance('x'));
    await commitSteps(a, 'x', ['one', 'two', 'three']); // versions 2-4
    // Once b has read, a knows it (b waited for its answer). One sender's messages arrive in order: a commit a had
    // posted before would arrive before the one it posts now.
    const b = open(name, JOIN_UNTIL_ANSWERED);
    await b.getInstance('x');
    await commitSteps(a, 'x', ['four']);
    await raw.posted('x@5');
    expect(raw.commits).toEqual(['x@5']);
  });

  it('a store alone posts every commit once a tab of an older version (it posts without a sender) has committed', async () => {
    const name = uniqueName('older-tab');
    const raw = watch(name);
    const a = open(name);
    await create(a, newInstance('x')); // alone: not posted
    // A tab of the previous version: no lock, no hello, every commit posted without a sender.
    const older = new BroadcastChannel(changeChannelName(name));
    cleanups.push(() => older.close());
    const aSees = firstValueFrom(a.changes$.pipe(filter((c) => c.instanceId === 'old')));
    older.postMessage({ type: 'durable-rx/commit@1', changes: [{ instanceId: 'old', after: 0, state: newInstance('old').state }], work: false });
    await aSees;
    await commitSteps(a, 'x', ['for the older tab']); // version 2
    await raw.posted('x@2');
    expect(raw.commits.filter((k) => k.startsWith('x@'))).toEqual(['x@2']);
  });

  it('a store that opens during a storm of commits delivers every version committed after its first read, to the last', async () => {
    const name = uniqueName('storm-read');
    const a = open(name);
    await create(a, newInstance('s'));
    let stop = false;
    let b: Store | undefined;
    const storm = (async () => {
      for (let i = 0; !stop; i++) await commitSteps(a, 's', [`step ${i}`]);
    })();
    const versions: number[] = [];
    let first = 0;
    try {
      await firstValueFrom(a.changes$.pipe(filter((c) => (c.state?.version ?? 0) >= 5)));
      b = open(name, JOIN_UNTIL_ANSWERED);
      const seen = versionsOf(b, 's');
      first = (await b.getInstance('s'))!.version;
      await seen.reached(first + 20);
      stop = true;
      await storm;
      const final = (await a.getInstance('s'))!.version;
      await seen.reached(final);
      versions.push(...seen.list.filter((v) => v > first));
      expect(versions).toEqual(Array.from({ length: final - first }, (_, i) => first + 1 + i));
    } finally {
      stop = true;
      await storm;
    }
  });

  it('the worker of a store that opens during a storm of starts runs every instance the other store started', async () => {
    const name = uniqueName('storm-work');
    const a = open(name);
    const starter = createRuntime({ store: a, orchestrators: { HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello }, logger: silentLogger });
    let worker: Runtime | undefined;
    cleanups.push(async () => {
      await worker?.stop();
      await starter.stop();
    });
    const ids: string[] = [];
    let stop = false;
    const storm = (async () => {
      for (let i = 0; !stop || i < 10; i++) {
        const id = `start-${i}`;
        await starter.client.startNew('HelloSequence', { instanceId: id });
        ids.push(id);
      }
    })();
    await firstValueFrom(a.changes$.pipe(filter((c) => c.instanceId === 'start-3')));
    worker = createRuntime({ store: open(name, JOIN_UNTIL_ANSWERED), orchestrators: { HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello }, logger: silentLogger });
    await worker.start();
    stop = true;
    await storm;
    const done = await Promise.all(ids.map((id) => worker!.client.waitForCompletion(id, { timeoutMs: 60_000 })));
    expect(done.map((s) => s.runtimeStatus)).toEqual(ids.map(() => 'Completed'));
  });

  it('two stores that open at the same time each see the other\'s commits', async () => {
    const name = uniqueName('together');
    const a = open(name, JOIN_UNTIL_ANSWERED);
    const b = open(name, JOIN_UNTIL_ANSWERED);
    // Once both have read, each knows the other: at least one query found the other feed, and waited for its answer.
    // (A commit made before that is not promised to a subscriber: the other store's first read sees it.)
    await Promise.all([a.getInstance('none'), b.getInstance('none')]);
    const aSees = firstValueFrom(a.changes$.pipe(filter((c) => c.instanceId === 'from-b')));
    const bSees = firstValueFrom(b.changes$.pipe(filter((c) => c.instanceId === 'from-a')));
    await Promise.all([create(a, newInstance('from-a')), create(b, newInstance('from-b'))]);
    expect((await aSees).state?.version).toBe(1);
    expect((await bSees).state?.version).toBe(1);
  });

  it('a store stops posting once its peer has closed', async () => {
    const name = uniqueName('peer-closed');
    const raw = watch(name);
    const a = open(name);
    await create(a, newInstance('x'));
    const own = await feedLocks(name);
    const b = open(name, JOIN_UNTIL_ANSWERED);
    await b.getInstance('x');
    const [bLock] = (await feedLocks(name)).filter((n) => !own.includes(n));
    await commitSteps(a, 'x', ['while b is open']); // version 2: posted
    await raw.posted('x@2');
    await b.close();
    await released(bLock!);
    await commitSteps(a, 'x', ['after b closed']); // version 3: not posted
    const c = open(name, JOIN_UNTIL_ANSWERED);
    await c.getInstance('x');
    await commitSteps(a, 'x', ['with c']); // version 4: posted, after whatever a posted before
    await raw.posted('x@4');
    expect(raw.commits).toEqual(['x@2', 'x@4']);
  });

  it('a feed lock nobody answers for holds a new store back only until the join timeout, and loses no commit', async () => {
    const name = uniqueName('silent-peer');
    const a = open(name);
    await create(a, newInstance('x'));
    // A lock with the feed prefix and no feed behind it: a tab that is frozen, say.
    await holdLock(`${changeChannelName(name)}/feed/silent`);
    const clock = new VirtualClock();
    const b = open(name, { clock, joinTimeoutMs: 5000 });
    let read = false;
    const reading = b.getInstance('x').then((state) => {
      read = true;
      return state;
    });
    await clock.waitForTimer(); // b waits for a and the silent one
    await clock.advance(4999);
    expect(read).toBe(false);
    await clock.advance(1);
    expect((await reading)?.version).toBe(1);
    // a knows b (b said hello), and b knows a: no commit of either is lost.
    const bSees = versionsOf(b, 'x');
    const aSees = firstValueFrom(a.changes$.pipe(filter((c) => c.instanceId === 'y')));
    await commitSteps(a, 'x', ['after the timeout']);
    await create(b, newInstance('y'));
    await bSees.reached(2);
    // (v1 too, if a's answer came after the timeout: what a committed alone travels with its answer.)
    expect(bSees.list.filter((v) => v > 1)).toEqual([2]);
    expect((await aSees).state?.version).toBe(1);
  });

  it('a peer that answers after the join timeout sends the commits it made without posting', async () => {
    const name = uniqueName('late-answer');
    // The late peer: a raw lock and channel standing in for the feed of a tab that runs again after a while.
    const { channel: late, hello } = await rawFeed(name, 'late');
    const clock = new VirtualClock();
    const b = open(name, { clock, joinTimeoutMs: 5000 });
    const reading = b.getInstance('x');
    const bId = await hello;
    await clock.waitForTimer();
    await clock.advance(5000);
    expect(await reading).toBeUndefined();
    // The late peer committed x (v1, v2) while b was reading, without posting; now it answers.
    const bSees = versionsOf(b, 'x');
    const state = (version: number) => ({ ...newInstance('x').state, version });
    late.postMessage({
      type: 'durable-rx/presence@1', kind: 'here', from: 'late', to: bId,
      kept: [
        { changes: [{ instanceId: 'x', after: 0, state: state(1) }], work: true },
        { changes: [{ instanceId: 'x', after: 1, state: state(2) }], work: false },
      ],
    });
    await bSees.reached(2);
    expect(bSees.list).toEqual([1, 2]);
  });

  it('a late answer that carries a purged run, its purge and a new run shows nothing of the purged run', async () => {
    const name = uniqueName('late-rerun');
    const writer = open(name);
    await create(writer, newInstance('x')); // the new run (version 1), which b reads
    await writer.close();
    const { channel: late, hello } = await rawFeed(name, 'late');
    const clock = new VirtualClock();
    const b = open(name, { clock, joinTimeoutMs: 5000 });
    const shown: string[] = [];
    const showing = new ReplaySubject<void>();
    const watching = createClient({ store: b }).status$('x').subscribe((s) => {
      shown.push(s ? `${s.runtimeStatus} ${s.output ?? ''}`.trim() : 'gone');
      showing.next();
    });
    cleanups.push(() => watching.unsubscribe());
    const bId = await hello;
    await clock.waitForTimer();
    await clock.advance(5000);
    await firstValueFrom(showing); // b read the new run
    // The late peer had run x to completion, purged it and started it again, all before b's read, without posting.
    const run = newInstance('x').state;
    const old = (version: number) => ({ ...run, executionId: 'old-run', runtimeStatus: 'Completed' as const, output: 'old', version });
    const delivered = firstValueFrom(b.changes$.pipe(filter((c) => c.state?.executionId === run.executionId)));
    late.postMessage({
      type: 'durable-rx/presence@1', kind: 'here', from: 'late', to: bId,
      kept: [
        { changes: [{ instanceId: 'x', after: 4, state: old(5) }], work: false },
        { changes: [{ instanceId: 'x', after: 5, state: undefined }], work: false },
        { changes: [{ instanceId: 'x', after: 0, state: run }], work: true },
      ],
    });
    await delivered;
    expect(shown).toEqual(['Pending', 'gone', 'Pending']);
  });

  it('a store ignores a malformed answer', async () => {
    const name = uniqueName('malformed');
    const raw = new BroadcastChannel(changeChannelName(name));
    cleanups.push(() => raw.close());
    const hello = firstHello(raw);
    const a = open(name);
    const aId = await hello;
    await a.getInstance('none'); // a has joined (alone): it delivers what an answer carries
    const errors: unknown[] = [];
    const onError = (event: ErrorEvent) => errors.push(event.error ?? event.message);
    window.addEventListener('error', onError);
    cleanups.push(() => window.removeEventListener('error', onError));
    const seen: string[] = [];
    const y = firstValueFrom(a.changes$.pipe(filter((c) => {
      seen.push(`${c.instanceId}@${c.state?.version ?? 0}`);
      return c.instanceId === 'y';
    })));
    const here = (kept: unknown) => raw.postMessage({ type: 'durable-rx/presence@1', kind: 'here', from: 'odd', to: aId, kept });
    here(undefined);
    here('kept');
    here([{ changes: 'changes', work: true }]);
    here([{ work: true }]);
    // A well-formed one last: one sender's messages arrive in order, so a has handled the others when it delivers y.
    here([{ changes: [{ instanceId: 'y', after: 0, state: newInstance('y').state }], work: false }]);
    await y;
    expect(errors).toEqual([]);
    expect(seen).toEqual(['y@1']);
  });

  it('a store waits for no feed of a database whose name extends its own', async () => {
    const name = uniqueName('prefix');
    // The feed lock of a store on database `<name>/feed/other`, which never answers on this database's channel.
    await holdLock(`${changeChannelName(`${name}/feed/other`)}/feed/silent`);
    const b = open(name, { clock: new VirtualClock(), joinTimeoutMs: 5000 }); // its clock never advances
    expect(await b.getInstance('x')).toBeUndefined();
  });

  it('a new store reads only after the feed its query found has answered, however long that takes', async () => {
    const name = uniqueName('read-gate');
    const { channel: peer, hello } = await rawFeed(name, 'peer');
    const b = open(name, { clock: new VirtualClock(), joinTimeoutMs: 5000 }); // its clock never advances
    let answered = false;
    let read = false;
    const readAfterAnswer = b.getInstance('x').then(() => {
      read = true;
      return answered;
    });
    const bId = await hello;
    // Give b every chance to read before the answer: b's database is open once a connection of the test's own, opened
    // after it (open requests are queued), is; then rounds of transactions over every table, each of which waits for
    // the transactions created before it. Rounds, not time: without the read gate, b reads within the first ones.
    // A KeyvalStore opens a new database twice (without a version, then at its own): a connection of the test's opened
    // between the two held the second, an upgrade, until b's open failed after its openTimeoutMs (30 s, on a loaded
    // machine). So the test's gives way to an upgrade, opens again behind it, and the rounds count from there.
    while (!(await indexedDB.databases()).some((d) => d.name === name));
    let own = await givingWay(name);
    cleanups.push(() => own.db.close());
    for (let rounds = 0; rounds < 20 && !read;) {
      if (own.closed) {
        own = await givingWay(name);
        rounds = 0;
        continue;
      }
      await new Promise((resolve) => (own.db.transaction([...own.db.objectStoreNames], 'readwrite').oncomplete = resolve));
      rounds++;
    }
    answered = true;
    peer.postMessage({ type: 'durable-rx/presence@1', kind: 'here', from: 'peer', to: bId, kept: [] });
    expect(await readAfterAnswer).toBe(true);
  });

  it('a feed that answers twice (it heard the hello twice) has its kept commits delivered from its first answer only', async () => {
    const name = uniqueName('answer-twice');
    const { channel: peer, hello } = await rawFeed(name, 'peer');
    const b = open(name, { clock: new VirtualClock(), joinTimeoutMs: 5000 }); // its clock never advances
    const reading = b.getInstance('x');
    const bId = await hello;
    const sees = versionsOf(b, 'x');
    // The peer committed x alone; b's reads see it. Its first answer ends b's join; its second one carries the same.
    const kept = [{ changes: [{ instanceId: 'x', after: 0, state: newInstance('x').state }], work: false }];
    peer.postMessage({ type: 'durable-rx/presence@1', kind: 'here', from: 'peer', to: bId, kept });
    await reading;
    const y = firstValueFrom(b.changes$.pipe(filter((c) => c.instanceId === 'y')));
    peer.postMessage({ type: 'durable-rx/presence@1', kind: 'here', from: 'peer', to: bId, kept });
    peer.postMessage({ type: 'durable-rx/commit@1', changes: [{ instanceId: 'y', after: 0, state: newInstance('y').state }], work: false, from: 'peer' });
    await y; // one sender's messages arrive in order: b has handled the second answer
    expect(sees.list).toEqual([]);
  });

  it('a store alone answers a newcomer with the commits it made without posting', async () => {
    const name = uniqueName('kept');
    const a = open(name);
    await create(a, newInstance('x'));
    await commitSteps(a, 'x', ['one']);
    expect(await keptVersionsAnswered(name)).toEqual([1, 2]);
  });

  it('a store alone answers a newcomer with its commits as committed, whatever the watcher they reached did with its values', async () => {
    const name = uniqueName('kept-owned');
    const a = open(name);
    await create(a, newInstance('x', { n: 1 }));
    // A client's only watcher, on the store's only subscription: it changes the values it is handed.
    const client = createClient({ store: a });
    const stepped = new ReplaySubject<void>();
    const subscription = client.status$('x').subscribe((status) => {
      if (status?.customStatus === undefined) return;
      (status.input as { n: number }).n = 2;
      (status.customStatus as { stage: string }).stage = 'changed';
      stepped.next();
    });
    cleanups.push(() => subscription.unsubscribe());
    await commitSteps(a, 'x', [{ stage: 'one' }]); // versions 1-2: kept, not posted
    await firstValueFrom(stepped);
    const kept = (await keptAnswered(name)).flatMap((batch) => batch.changes.map((c) => c.state as { version: number; input?: unknown; customStatus?: unknown }));
    expect(kept.map(({ version, input, customStatus }) => ({ version, input, customStatus }))).toEqual([
      { version: 1, input: { n: 1 }, customStatus: undefined },
      { version: 2, input: { n: 1 }, customStatus: { stage: 'one' } },
    ]);
  });

  it('a store alone hands its one subscriber states of its own (not marked shared), and still answers a newcomer with them as committed', async () => {
    const name = uniqueName('kept-unshared');
    const a = open(name);
    await create(a, newInstance('x', 'one'));
    // The marks of `markShared` (the client copies the payloads of a marked state before its users get them).
    const marks = (globalThis as { [key: symbol]: WeakSet<object> | undefined })[Symbol.for('durable-rx.shared')];
    expect(marks).toBeInstanceOf(WeakSet);
    // The store's only subscriber, as a client's router is for a page's one watcher: it changes what it is handed.
    const heard: { version: number; shared: boolean }[] = [];
    const stepped = new ReplaySubject<void>();
    const subscription = a.changes$.pipe(filter((c) => c.instanceId === 'x')).subscribe(({ state }) => {
      if (!state?.customStatus) return;
      heard.push({ version: state.version, shared: marks!.has(state) });
      (state.customStatus as { stage: string }).stage = 'changed';
      stepped.next();
    });
    cleanups.push(() => subscription.unsubscribe());
    await commitSteps(a, 'x', [{ stage: 'one' }]); // version 2: kept, not posted
    await firstValueFrom(stepped);
    expect(heard).toEqual([{ version: 2, shared: false }]);
    const kept = (await keptAnswered(name)).flatMap((batch) => batch.changes.map((c) => c.state as { version: number; customStatus?: unknown }));
    expect(kept.map(({ version, customStatus }) => ({ version, customStatus }))).toEqual([{ version: 1, customStatus: undefined }, { version: 2, customStatus: { stage: 'one' } }]);
  });

  it('a store alone hands its subscriber a step\'s object input as the one it keeps, frozen, the state marked shared, and answers a newcomer with it', async () => {
    const name = uniqueName('kept-input');
    const a = open(name);
    await create(a, newInstance('x', { n: 1 }));
    const marks = (globalThis as { [key: symbol]: WeakSet<object> | undefined })[Symbol.for('durable-rx.shared')];
    const heard: { version: number; shared: boolean; frozen: boolean; input: unknown }[] = [];
    const stepped = new ReplaySubject<void>();
    const subscription = a.changes$.pipe(filter((c) => c.instanceId === 'x')).subscribe(({ state }) => {
      if (!state) return;
      heard.push({ version: state.version, shared: marks!.has(state), frozen: Object.isFrozen(state.input), input: state.input });
      stepped.next();
    });
    cleanups.push(() => subscription.unsubscribe());
    // The step's claim read the input and keeps it: the step publishes that value, which nobody can change, and a
    // client copies it for its users.
    await commitSteps(a, 'x', [{ stage: 'one' }]);
    await firstValueFrom(stepped);
    expect(heard).toEqual([{ version: 2, shared: true, frozen: true, input: { n: 1 } }]);
    const kept = (await keptAnswered(name)).flatMap((batch) => batch.changes.map((c) => c.state as { version: number; input?: unknown }));
    expect(kept.map(({ version, input }) => ({ version, input }))).toEqual([{ version: 1, input: { n: 1 } }, { version: 2, input: { n: 1 } }]);
  });

  it('a store alone answers a newcomer with its unposted commits of the last minute only', async () => {
    const name = uniqueName('kept-minute');
    const clock = new VirtualClock();
    const a = open(name, { clock });
    await create(a, newInstance('old')); // 60.001 s old when the newcomer asks: left out
    await clock.advance(1);
    await create(a, newInstance('x')); // 60 s old: sent
    await clock.advance(60_000);
    await create(a, newInstance('y'));
    const carried = (await keptAnswered(name)).flatMap((batch) => batch.changes.map((c) => `${c.instanceId}@${c.state.version}`));
    expect(carried).toEqual(['x@1', 'y@1']);
  });

  it('a store alone answers a newcomer with its last 128 unposted commits at most', async () => {
    const name = uniqueName('kept-128');
    const a = open(name);
    await create(a, newInstance('x')); // 1 commit
    await commitSteps(a, 'x', Array.from({ length: 64 }, (_, i) => i)); // 2 commits each (the event, the step): 129 in all
    const kept = await keptAnswered(name);
    expect(kept).toHaveLength(128);
    // The first commit (version 1) is the one left out; each later version is there, in order.
    expect(kept.flatMap((batch) => batch.changes.map((c) => c.state.version))).toEqual(Array.from({ length: 64 }, (_, i) => i + 2));
  });

  it('a store answers a newcomer that says hello twice with its unposted commits once', async () => {
    const name = uniqueName('hello-twice');
    const a = open(name);
    await create(a, newInstance('x'));
    await commitSteps(a, 'x', ['one']); // versions 1-2: kept, not posted
    // A newcomer says hello again when its query found a feed that had not answered yet (see ChangeFeed#found): the
    // feeds that heard the first hello hear a second one. Each answer is broadcast to every tab on the channel.
    const answers = await keptAnswers(name, 2);
    expect(answers.map((kept) => kept.flatMap((batch) => batch.changes.map((c) => c.state.version)))).toEqual([[1, 2], []]);
  });

  it('a store alone still answers a newcomer with its unposted commits after a tab of an older version committed', async () => {
    const name = uniqueName('kept-older');
    const a = open(name);
    await create(a, newInstance('x'));
    await commitSteps(a, 'x', ['one']); // versions 1-2: kept, not posted
    // A tab of the previous version commits (a posts every commit from then on); then a newcomer, whose join timed
    // out before a handled its hello, says it: a's answer must still carry what a committed alone.
    const older = new BroadcastChannel(changeChannelName(name));
    cleanups.push(() => older.close());
    const aSees = firstValueFrom(a.changes$.pipe(filter((c) => c.instanceId === 'old')));
    older.postMessage({ type: 'durable-rx/commit@1', changes: [{ instanceId: 'old', after: 0, state: newInstance('old').state }], work: false });
    await aSees;
    expect(await keptVersionsAnswered(name)).toEqual([1, 2]);
  });
});

describe('a change feed whose lock manager refuses', () => {
  const refused = () => Promise.reject(new DOMException('refused', 'SecurityError'));
  /** A feed on `name` with `locks`, and what it posts as seen by a raw channel. */
  const feedWith = (name: string, locks: Pick<LockManager, 'request' | 'query'>) => {
    const raw = new ChannelWatch(name);
    const feed = new ChangeFeed({
      channelName: changeChannelName(name), gapTimeoutMs: 1000, joinTimeoutMs: 600_000, clock: new VirtualClock(),
      locks: locks as LockManager,
    });
    return { raw, feed, close: () => (feed.close(), raw.close()) };
  };
  const x1 = { instanceId: 'x', after: 0, state: newInstance('x').state };

  it('ends its join and posts every commit when its lock request is refused', async () => {
    const { raw, feed, close } = feedWith(uniqueName('request-refused'), { request: refused, query: () => navigator.locks.query() });
    try {
      await feed.joined; // never resolved before: every store call waited for it
      feed.publish([x1], false);
      await raw.posted('x@1');
    } finally {
      close();
    }
  });

  it('is posted to by a store alone once it has committed, as a tab of an older version is', async () => {
    const name = uniqueName('refused-peer');
    const store = adapters.KeyvalStore(name);
    const { feed, close } = feedWith(name, { request: refused, query: () => navigator.locks.query() });
    try {
      await store.getInstance('none'); // the store's join has ended: it is alone (the refused feed holds no lock)
      await feed.joined; // given up: no lock, no hello
      const storeSees = firstValueFrom(store.changes$.pipe(filter((c) => c.instanceId === 'x')));
      const feedSees = firstValueFrom(feed.changes$.pipe(filter((c) => c.instanceId === 'y')));
      feed.publish([x1], false);
      await storeSees;
      await create(store, newInstance('y')); // posted, though the store knows no peer
      expect((await feedSees).state?.version).toBe(1);
    } finally {
      close();
      await store.close();
    }
  });

  it('posts every commit when its query of the locks held is refused', async () => {
    const locks = navigator.locks;
    const { raw, feed, close } = feedWith(uniqueName('query-refused'), { request: locks.request.bind(locks), query: refused });
    try {
      await feed.joined;
      feed.publish([x1], false); // it may not be alone: it could not ask
      await raw.posted('x@1');
    } finally {
      close();
    }
  });
});

describe('a change feed that finds a feed whose channel opened after its hello', () => {
  it('says hello again, so that feed answers before the join timeout', async () => {
    const channelName = changeChannelName(uniqueName('late-channel'));
    // Feed N holds its lock before E queries, but opens its channel only after E's hello.
    const releaseN = await heldLock(`${channelName}/feed/n`);
    const spy = new BroadcastChannel(channelName);
    const helloPosted = new Promise<void>((resolve) => {
      spy.onmessage = (event: MessageEvent<{ kind?: string }>) => event.data.kind === 'hello' && resolve();
    });
    // E's query answers once N's channel is open.
    let answerQuery!: () => void;
    const queried = new Promise<void>((resolve) => (answerQuery = resolve));
    const locks = navigator.locks;
    const e = new ChangeFeed({
      channelName, gapTimeoutMs: 1000, joinTimeoutMs: 600_000, clock: new VirtualClock(), // never advanced
      locks: { request: locks.request.bind(locks), query: () => queried.then(() => locks.query()) } as LockManager,
    });
    let channel: BroadcastChannel | undefined;
    try {
      await helloPosted;
      const n = (channel = new BroadcastChannel(channelName)); // N did not hear E's hello
      n.onmessage = (event: MessageEvent<{ kind?: string; from?: string }>) => {
        if (event.data.kind !== 'hello') return;
        n.postMessage({ type: 'durable-rx/presence@1', kind: 'here', from: 'n', to: event.data.from, kept: [] });
      };
      answerQuery();
      await e.joined;
    } finally {
      e.close();
      spy.close();
      channel?.close();
      releaseN();
    }
  });
});
