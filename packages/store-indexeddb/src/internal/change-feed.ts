import type { Observable } from 'rxjs';
import { isTerminalStatus, randomId, type Clock, type ClockTimer } from '@durable-rx/runtime';
import { Broadcast, copyStoreValue, markShared, webLocks, withOwnPayloads, type InstanceState, type StatusChange } from '@durable-rx/runtime/store-kit';
import { VersionGate, isFeedChange, type FeedChange } from './version-gate.js';
import type { Execution } from './execution-inputs.js';
import { isEarlierRecord, isRecordOf, type InputRecord } from './rows.js';
import type { PageFreeze } from './page-freeze.js';

/** Options of a {@link ChangeFeed}. */
export interface ChangeFeedOptions {
  /** BroadcastChannel name; every handle on one database uses the same one. */
  readonly channelName: string;
  /** How long a snapshot waits for a missing predecessor from another tab before it is delivered anyway. */
  readonly gapTimeoutMs: number;
  /** How long {@link ChangeFeed.joined} waits for the feeds already present to answer before it resolves anyway. */
  readonly joinTimeoutMs: number;
  /** Where the gap and join timeouts are timed, and the age of the commits kept for a late peer. */
  readonly clock: Clock;
  /** The Web Locks manager (default: `navigator.locks`; without one the feed posts every commit). */
  readonly locks?: LockManager | undefined;
  /**
   * The page's freeze (the store's: it owns it), whose work signals wait for the resume (see
   * {@link ChangeFeed.workAvailable$}); none: the feed holds no signal.
   */
  readonly page?: PageFreeze | undefined;
  /**
   * Called when a peer feed's lock frees without its `bye` (its tab closed, reloaded or crashed), with the lease owners
   * it announced (see {@link ChangeFeed.announceOwner}): what it committed in its last moment may never have been
   * posted, so the store reads again what its subscribers watch and hands it to {@link ChangeFeed.deliverRead}; and
   * the leases its workers held are held by nobody now, so the store releases them.
   */
  readonly peerGone?: ((owners: readonly string[]) => void) | undefined;
  /**
   * Called when a message from another handle carried changes this feed cannot read ({@link isFeedChange}), once per
   * message: they are dropped, but one may stand for a commit (of a tab of another version of this package), so the
   * store reads again what its subscribers watch and hands it to {@link ChangeFeed.deliverRead}, as after a peer gone.
   */
  readonly unreadable?: (() => void) | undefined;
  /**
   * Called when the page comes back from the back/forward cache (`pageshow` with `persisted`): the other handles
   * committed meanwhile, and this page heard none of it, so the store reads again what its subscribers watch and hands
   * it to {@link ChangeFeed.deliverRead}. The feed has signalled work to its worker already.
   */
  readonly restored?: (() => void) | undefined;
  /**
   * The inputs the store keeps (see {@link FeedInputs}). A published state whose input is one it keeps frozen carries
   * it as it is, not a copy (nobody can change it), and is marked shared (`markShared`), so that a client copies it
   * only for a status it builds: a step of an execution so publishes its large input without copying it each time.
   * And the posts leave out the inputs their commits did not write, while every peer takes them so: see
   * {@link FeedChange.inputApart}. None: inputs are copied and posted with every change.
   */
  readonly inputs?: FeedInputs | undefined;
}

/**
 * What a feed asks of its store's inputs (`ExecutionInputs`, and the input records in the database): enough to post a
 * step's change without the input its commit did not write, and to put it back into such a change another handle
 * posted, before any subscriber hears of it.
 */
export interface FeedInputs {
  /** True for an input the store keeps frozen: published as it is, not copied. */
  isKept(value: unknown): boolean;
  /** The input the store keeps for `execution` of `instanceId` (frozen), else `undefined`. */
  get(instanceId: string, execution: Execution): object | undefined;
  /**
   * Keeps `input`, which another handle posted, as the input of that execution: returns what is kept (the value known
   * already, else `input` itself, frozen; an input too large to keep, or no object, is returned as it is).
   */
  keep(instanceId: string, execution: Execution, input: unknown, own: true): unknown;
  /** Forgets what is kept of `instanceId` (it ended, or was purged). */
  forget(instanceId: string): void;
  /**
   * Reads the input records of these instances, in one readonly transaction: each record, or `undefined` when the
   * instance has none. Rejects when the store cannot read (it closed, lost its database).
   */
  read(instanceIds: readonly string[]): Promise<readonly (InputRecord | undefined)[]>;
}

/**
 * What travels on the BroadcastChannel: the snapshots one transaction committed, in order. As received, its changes are
 * unchecked (anything may post on the channel): each is checked before it is delivered ({@link readable}).
 */
interface FeedMessage {
  readonly type: typeof MESSAGE_TYPE;
  readonly changes: readonly unknown[];
  readonly work: boolean;
  /**
   * The sending feed's id. Absent (or undefined) from the messages of older versions of this package and of feeds
   * without presence (no Web Locks, or refused): they post every commit but say no hello, so a feed that receives
   * one posts every commit from then on (to them too).
   */
  readonly from?: string | undefined;
}

/**
 * What one commit published: its snapshots and whether it signalled work to the other handles. Received from another
 * feed (a late answer's kept commits), its changes are unchecked: `Batch<unknown>`.
 */
interface Batch<C = FeedChange> {
  readonly changes: readonly C[];
  readonly work: boolean;
}

/** A commit published while no other feed was known, kept for one that announces itself late. */
interface KeptBatch extends Batch {
  readonly atMs: number;
}

/**
 * The presence protocol, on the same channel: `hello` announces a feed that holds its lock, `here` answers one (with
 * the commits the answering feed published unposted lately), `bye` says a feed closes, `owners` names the lease owners
 * of the claims and leasing commits of the feed's handle (see {@link ChangeFeed.announceOwner}), `away` says its page
 * goes into the back/forward cache (it keeps its lock there, but runs nothing: see {@link ChangeFeed.#onPageHide}). `inputApart` in a
 * `hello` or `here`: the feed takes posted changes whose input is left out ({@link FeedChange.inputApart}); feeds of
 * older versions of this package never say so, and are posted every input.
 */
type PresenceMessage =
  | { readonly type: typeof PRESENCE_TYPE; readonly kind: 'hello'; readonly from: string; readonly inputApart?: true }
  | { readonly type: typeof PRESENCE_TYPE; readonly kind: 'bye'; readonly from: string }
  | { readonly type: typeof PRESENCE_TYPE; readonly kind: 'owners' | 'away'; readonly from: string; readonly owners: readonly string[] }
  | {
    readonly type: typeof PRESENCE_TYPE; readonly kind: 'here'; readonly from: string; readonly to: string; readonly kept: readonly Batch<unknown>[];
    readonly inputApart?: true;
  };

const MESSAGE_TYPE = 'durable-rx/commit@1';
const PRESENCE_TYPE = 'durable-rx/presence@1';
/** At most this many lease owners a feed announces (a worker's lives, newest last); more than one runtime is rare. */
const MAX_OWNERS = 16;
/** At most this many unposted commits are kept for a peer that answers late ... */
const MAX_KEPT = 128;
/** ... and none older than this, on the feed's clock. */
const MAX_KEPT_AGE_MS = 60_000;
/**
 * How long the feed's {@link VersionGate} remembers an instance's last version at least, once it tracks more than its
 * 10,000: a late answer's kept commits are at most {@link MAX_KEPT_AGE_MS} old when sent, and overtaking messages
 * trail by far less, so no older copy of a change the feed delivered comes later than this (the margin covers the
 * post's way and a gap's wait). An instance forgotten sooner would take such a copy as new, and `changes$` would go
 * back to an older version.
 */
const REMEMBER_MS = 2 * MAX_KEPT_AGE_MS;

/**
 * The change feed every IndexedDB store handle owns. After a transaction commits, the store calls
 * {@link ChangeFeed.publish} with the committed snapshots: they are delivered to this handle's subscribers at once
 * and posted on a BroadcastChannel, so every other handle on the database (other stores in this page, other tabs)
 * delivers them too. Snapshots are structured-cloned, so Dates survive. A {@link VersionGate} keeps each instance's
 * snapshots in version order and drops those already delivered, whichever tab they come from.
 *
 * Posting costs: a structured clone and a message per commit took 7-12 % of the page's time per hello-sequence step
 * in headless Chromium, for no listener when the tab is alone. So a feed posts only while it knows another feed that
 * may listen. Presence runs on Web Locks and the same channel:
 *
 * 1. Each feed holds an exclusive lock named `<channel>/feed/<id>` until {@link ChangeFeed.close}, and takes it
 *    before it says anything, so a feed that answers or announces itself is one whose lock others can watch.
 * 2. Holding it, the feed posts `hello` and queries the locks held under the prefix: the feeds present then.
 * 3. A feed that hears `hello(x)` counts x as a peer and answers `here(to x)`. Every feed counts as peers those its
 *    query found, those that said hello and those that answered; it watches each one's lock (a shared request,
 *    granted when the holder closes, crashes or its tab goes) and forgets it then, or on its `bye`.
 * 4. {@link ChangeFeed.publish} posts while there is a peer: one check (a flag and the number of peers) decides it. Alone, it keeps the commit for a
 *    late peer instead (below): a reading of the clock and a small record per commit. It still structured-clones each
 *    change for its own subscribers; what it saves is the post's clone and message. While it has subscribers, the
 *    kept commit has payloads of its own (a copy far cheaper than the post's clone), so theirs are not shared: a client
 *    hands one watcher's payloads without a copy, and a late peer gets what was committed.
 *
 * Every open store thus holds a Web Lock (item 1). Chromium still lets such a page enter the back/forward cache, and
 * keeps holding the lock there: a request made before the page was cached (another feed's watch of it) does not evict
 * it. So at `pagehide` (persisted) the feed says `away`, naming its lease owners, and the other feeds treat it as gone
 * (they release those leases and wake their workers); at `pageshow` (persisted) it says hello again, as a newcomer.
 *
 * The race: a feed E that did not post a commit (it knew no peer) while a newcomer N was already reading the database
 * would leave N without it. So N's store reads nothing until {@link ChangeFeed.joined}: until every feed its query
 * found has answered (or released its lock). E answers after it processed N's hello, so after every commit it
 * published unposted, and N's reads, which begin after the answer, see them; from the hello on E posts. Two feeds
 * starting at once: each locks before it queries, so at least one query finds the other. A side whose query missed
 * the other is found by the other's query; the other waits for its answer before it reads or writes anything, and
 * then knows it as a peer, so it posts everything it commits.
 *
 * Every wait ends: a feed that never answers (a frozen tab) holds N back for `joinTimeoutMs` at most. Then N reads,
 * and the commits E publishes before it processes the hello could come after N's reads. So a feed keeps the last
 * {@link MAX_KEPT} batches it published unposted and sends with its first `here` to a newcomer those not older than
 * {@link MAX_KEPT_AGE_MS} (their age is checked only when they are sent). The newcomer delivers them only when it had stopped waiting (while it waits, its reads have not begun
 * and will see them): its VersionGate drops what it already delivered, and the client's `status$` keeps only a newer
 * version than the state it read. Without Web Locks or BroadcastChannel (Node 20, say; newer Node versions have
 * `navigator.locks`, and presence then runs between the stores of one process too), a feed posts every commit and
 * `joined` resolves at once.
 *
 * What is left: taking a free lock and querying are answered by the page's own lock manager, so they are not timed.
 * And what kept commits cannot cover (commits past the last minute or the last {@link MAX_KEPT}, a purged id's runs,
 * the gap a period of posting leaves) is stated once, for users, in the package README ("How the cross-tab feed works").
 *
 * Inputs: a step's commit does not change its execution's input, so its post leaves it out ({@link FeedChange.inputApart}):
 * a 1 MB input is cloned into the posts of the execution's start and end, not into every step's (an end carries it:
 * see `withoutInput`). A receiving feed puts it back
 * before any subscriber hears of the change: the input its store keeps for the execution (it keeps the one a start's
 * post carries), else the input record, which its store reads (the batches received meanwhile wait, in order), and keeps
 * from then on. A record that names another execution by then (a later commit replaced or purged it) leaves the change
 * unheard: it passes the {@link VersionGate}, so the later commit's change follows at once. A feed posts so only while
 * every peer said (in its `hello` or `here`) that it takes such posts, and not while it posts every commit (`#always`):
 * a tab of an older version of this package gets every input, as before.
 *
 * Tabs of an older version of this package hold no lock and say no hello, but post every commit without a sender:
 * a feed that receives such a commit posts every commit from then on. An older tab that commits (any tab with a
 * worker, or one that starts or raises) is so seen at its first commit; one that only watches is never seen, and a feed
 * alone does not post to it. A feed whose lock request was refused posts without a sender too, so it is seen alike.
 */
export class ChangeFeed {
  readonly #changes = new Broadcast<StatusChange>();
  readonly #work = new Broadcast<void>();
  readonly #gate = new VersionGate(10_000, REMEMBER_MS);
  readonly #channel: BroadcastChannel | undefined;
  readonly #gapTimeoutMs: number;
  readonly #clock: Clock;
  #gapTimer: ClockTimer | undefined;
  #closed = false;
  /**
   * Every commit is posted, whatever the peers (see #postAlways): without Web Locks, after they refused, or once an
   * older version's tab committed. Otherwise a commit is posted while a peer is known.
   */
  #always: boolean;

  // Presence (absent without Web Locks or BroadcastChannel, or once given up: see #giveUp).
  #locks: LockManager | undefined;
  #id = '';
  readonly #prefix: string;
  /** The feeds known to be present, each with the abort of the watch on its lock. */
  readonly #peers = new Map<string, AbortController>();
  /** The feeds the query found that have neither answered nor gone (undefined: the query has not answered). */
  #awaited: Set<string> | undefined;
  /** Every feed that answered: when the query answers, those it need not wait for (a feed may answer twice: see #found). */
  readonly #answered = new Set<string>();
  /** Hellos heard before this feed held its lock: answered once it does. */
  readonly #hellos: string[] = [];
  /**
   * The newcomers answered with the kept commits, so that a second hello of one (see #found) is answered without them.
   * Each is a peer, forgotten with it (#dropPeer: it said bye or released its lock): at most one entry per feed present.
   */
  readonly #greeted = new Set<string>();
  /** Releases this feed's lock: set once it holds it (and says anything), so it is also whether it does. */
  #release: (() => void) | undefined;
  readonly #abort = new AbortController();
  /** Resolves {@link ChangeFeed.joined}: set while the feed waits for the feeds present, so it is also whether it does. */
  #endJoin: (() => void) | undefined;
  #joinTimer: ClockTimer | undefined;
  readonly #joinTimeoutMs: number = 0;
  /** Batches published unposted (see the class comment), oldest first, at most {@link MAX_KEPT}. */
  readonly #kept: KeptBatch[] = [];
  /** The page's freeze: while the page is frozen, work signals wait for the resume (see {@link ChangeFeed.#onResume}). */
  readonly #page: PageFreeze | undefined;
  readonly #peerGone: ((owners: readonly string[]) => void) | undefined;
  readonly #unreadable: (() => void) | undefined;
  readonly #restored: (() => void) | undefined;
  /** The page's window, whose `pagehide` and `pageshow` the feed listens to (none in a Web Worker or in Node). */
  readonly #window: Window | undefined;
  readonly #keptInput: (value: unknown) => boolean;
  /** The store's inputs (see the `inputs` option); none: every input is copied and posted. */
  readonly #inputs: FeedInputs | undefined;
  /** The peers that said they take posted changes without their unchanged inputs (see {@link FeedChange.inputApart}). */
  readonly #apartPeers = new Set<string>();
  /**
   * Batches another handle posted, in order, from the first whose inputs this feed reads (see #receive): while one
   * waits for its read, the later ones wait behind it.
   */
  readonly #inbound: Batch[] = [];
  /**
   * Changes passed through the gate without being delivered: posted without their input, whose record names another
   * execution by the time it is read (a newer commit replaced or purged it, and its own change follows).
   */
  readonly #unheard = new WeakSet<FeedChange>();
  /** The lease owners this handle's claims and commits named (see {@link ChangeFeed.announceOwner}), oldest first. */
  readonly #owners: string[] = [];
  /** The lease owners each other feed announced, by feed id: released when its lock frees without a bye. */
  readonly #peerOwners = new Map<string, string[]>();
  /** A work signal came while the page was frozen: given once it resumes. */
  #workWhileFrozen = false;

  /**
   * The committed changes of every instance, from this handle and all others on the database, once this feed has
   * joined them (see the class comment): a change another handle committed before it handled this feed's hello
   * is in what this handle's store reads after its join, not here. So a handle that subscribes but never reads can
   * miss those. What the kept commits a late answer delivers cannot cover: see the package README ("How the cross-tab
   * feed works").
   */
  readonly changes$: Observable<StatusChange> = this.#changes.observable;
  /** Fires when some handle wrote claimable work. */
  readonly workAvailable$: Observable<void> = this.#work.observable;
  /**
   * Resolves once the feeds present when this one announced itself have answered, or `joinTimeoutMs` passed, or on
   * {@link ChangeFeed.endJoin}: the store reads nothing before (see the class comment). Never rejects.
   */
  readonly joined: Promise<void>;

  constructor(options: ChangeFeedOptions) {
    this.#gapTimeoutMs = options.gapTimeoutMs;
    this.#clock = options.clock;
    this.#prefix = `${options.channelName}/feed/`;
    this.#channel = openChannel(options.channelName);
    this.#channel?.addEventListener('message', this.#onMessage);
    this.#page = options.page;
    this.#peerGone = options.peerGone;
    this.#unreadable = options.unreadable;
    this.#inputs = options.inputs;
    this.#keptInput = options.inputs ? (value) => options.inputs!.isKept(value) : never;
    this.#restored = options.restored;
    this.#window = typeof window === 'object' && typeof window?.addEventListener === 'function' ? window : undefined;
    this.#window?.addEventListener('pagehide', this.#onPageHide);
    this.#window?.addEventListener('pageshow', this.#onPageShow);
    this.#locks = this.#channel && (options.locks ?? webLocks<LockManager>());
    this.#always = this.#locks === undefined;
    if (!this.#locks) {
      this.joined = Promise.resolve();
      return;
    }
    this.#id = randomId();
    this.#joinTimeoutMs = options.joinTimeoutMs;
    this.joined = new Promise((resolve) => (this.#endJoin = resolve));
    this.#locks.request(this.#prefix + this.#id, { signal: this.#abort.signal }, () => {
      if (this.#closed) return undefined;
      const held = new Promise<void>((resolve) => (this.#release = resolve));
      this.#announce();
      return held;
    }).catch(() => this.#giveUp()); // aborted by close before it was granted, or refused (then: post everything)
  }

  /**
   * Delivers what one transaction committed here and tells the other handles. Call after the commit. `work` signals
   * claimable work everywhere; `othersWork` (default `work`) signals it to the other handles only, for work this
   * handle's worker already holds but whose lease expiry the other workers must time.
   */
  publish(changes: readonly FeedChange[], work: boolean, othersWork = work): void {
    if (this.#closed || (changes.length === 0 && !work && !othersWork)) return;
    // Snapshots are plain JSON plus Dates (the port's rule): copyStoreValue copies them, structuredClone took about 30x
    // as long in Chromium (32 against 1 µs a snapshot), the largest piece of a step's JavaScript outside IndexedDB.
    // An input the store keeps frozen is not copied (see the `keptInput` option).
    const copies = changes.map((change) => (this.#keptInput(change.state?.input) ? withKeptInput(change) : copyStoreValue(change)));
    const others = work || othersWork;
    const posts = this.#always || this.#peers.size > 0;
    const keeps = !posts && !!this.#locks;
    if (posts) {
      const posted = this.#postsApart() ? copies.map(withoutInput) : copies;
      this.#post({ type: MESSAGE_TYPE, changes: posted, work: others, from: this.#locks && this.#id } satisfies FeedMessage);
    }
    // Alone: kept for a late peer, which must get what was committed whatever this handle's subscribers do with what
    // they are handed. So the kept batch has payloads of its own, and the subscribers get theirs unmarked: a client
    // with one watcher hands its payloads without a copy. Copied only when a subscriber may hear the batch (one is
    // subscribed, or the gate holds changes, which it hands to whoever is subscribed when it lets them go; a change it
    // begins to hold now has been heard by nobody yet): a batch nobody hears stays this feed's own.
    const keptCopy = (change: FeedChange): FeedChange => copyPayloads(change, this.#keptInput);
    const kept = keeps && (this.#changes.observed || this.#gate.holding) ? copies.map(keptCopy) : copies;
    this.#deliver(copies, work);
    if (keeps) this.#keep(kept === copies && this.#gate.holding ? copies.map(keptCopy) : kept, others);
  }

  /**
   * Delivers snapshots the store read from the database after a peer went (see {@link ChangeFeed}'s `peerGone`
   * option), each as the commit that wrote it (`readChangeOf`): to this handle's subscribers only, through the same
   * {@link VersionGate} as every commit, so a read that is not newer is dropped and one ahead of what was delivered
   * waits for the commits still on their way as any change does. Not posted: every other handle reads for itself.
   */
  deliverRead(changes: readonly FeedChange[]): void {
    if (!this.#closed && changes.length > 0) this.#deliver(changes, false);
  }

  /**
   * Tells the other feeds, before this handle takes or writes a lease of `owner` (a claim, a commit that leases), that
   * its leases are this tab's: when this feed's lock frees without a bye (the tab went), they release them at once
   * instead of waiting for them to expire. Posted while this feed knows a peer; a feed that becomes one later is told
   * as it does. Called on every claim and leasing commit: an owner already announced costs a lookup among at most
   * {@link MAX_OWNERS}.
   */
  announceOwner(owner: string): void {
    if (this.#closed || !this.#locks || this.#owners.includes(owner)) return;
    this.#owners.push(owner);
    if (this.#owners.length > MAX_OWNERS) this.#owners.shift();
    if (this.#peers.size > 0) this.#tellOwners();
  }

  #tellOwners(): void {
    if (this.#release && this.#owners.length > 0) this.#post({ type: PRESENCE_TYPE, kind: 'owners', from: this.#id, owners: [...this.#owners] } satisfies PresenceMessage);
  }

  /**
   * Delivers, here only, the purge of each instance the store read again and found gone (a tab that went purged it in
   * its last moment, or the browser cleared the data), as the commit that follows the last snapshot delivered
   * ({@link VersionGate.lost}).
   */
  deliverLost(instanceIds: readonly string[]): void {
    if (this.#closed || instanceIds.length === 0) return;
    const nowMs = this.#clock.now().getTime();
    for (const id of instanceIds) this.#emit(this.#gate.lost(id, nowMs));
  }

  /**
   * Signals work to this handle's subscribers only (its worker), as a commit that signals work does (after the page's
   * resume when it is frozen): a peer went, or posted changes this feed cannot read, and may have committed work
   * nobody was told of.
   */
  wakeHere(): void {
    if (!this.#closed) this.#deliver([], true);
  }

  /** Stops waiting for the feeds present to answer: {@link ChangeFeed.joined} resolves (a store that closes). */
  endJoin(): void {
    const end = this.#endJoin;
    if (!end) return;
    this.#endJoin = undefined;
    if (this.#joinTimer !== undefined) this.#clock.clearTimeout(this.#joinTimer);
    this.#joinTimer = undefined;
    end();
  }

  /**
   * Posts `message` on the channel, if there is one. A post that throws (a channel some embedded browser or polyfill
   * backs with storage that is full or gone) is dropped: it comes after the commit, which stands, and this handle's
   * subscribers are handed the commit all the same; the other handles miss it, and see the instance again at its next
   * commit whose post goes through.
   */
  #post(message: FeedMessage | PresenceMessage): void {
    try {
      this.#channel?.postMessage(message);
    } catch {
      // dropped: see above
    }
  }

  /** Says goodbye, releases the lock, channel and timers and completes both observables. Idempotent. */
  close(): void {
    this.#end(undefined);
  }

  /**
   * As {@link ChangeFeed.close}, but both observables fail with `error`, now and for every later subscriber: the store
   * lost its database for good (another connection upgrades or deletes it), and nothing will be delivered any more.
   * Nothing after the feed closed.
   */
  fail(error: unknown): void {
    this.#end({ error });
  }

  #end(failed: { readonly error: unknown } | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.endJoin();
    if (this.#gapTimer !== undefined) this.#clock.clearTimeout(this.#gapTimer);
    this.#gapTimer = undefined;
    if (this.#release) this.#post({ type: PRESENCE_TYPE, kind: 'bye', from: this.#id } satisfies PresenceMessage);
    this.#channel?.removeEventListener('message', this.#onMessage);
    this.#window?.removeEventListener('pagehide', this.#onPageHide);
    this.#window?.removeEventListener('pageshow', this.#onPageShow);
    this.#channel?.close();
    this.#release?.();
    this.#abort.abort(); // the lock request, if still pending
    for (const watch of this.#peers.values()) watch.abort();
    this.#peers.clear();
    this.#peerOwners.clear();
    this.#kept.length = 0;
    this.#inbound.length = 0;
    if (failed) {
      this.#changes.error(failed.error);
      this.#work.error(failed.error);
    } else {
      this.#changes.complete();
      this.#work.complete();
    }
  }

  /**
   * A frozen page (Chromium freezes background tabs) still receives BroadcastChannel messages, but none of its
   * IndexedDB callbacks runs. A work signal from another tab then had the worker start a claim round whose readonly
   * transactions could not end, holding the locks another tab's claim needed until Chromium aborted them for
   * inactivity (60 s; measured in headless Chromium with the page frozen over the DevTools protocol). So the signal
   * waits for the resume; a timer of the frozen page does not fire either, and the worker's claims after the resume
   * find whatever became due meanwhile. (The store also aborts its transactions at the freeze and begins none while
   * the page is frozen: see {@link PageFreeze}.) A wait the store's close ends gives no signal.
   */
  readonly #onResume = (): void => {
    this.#workWhileFrozen = false;
    if (!this.#closed && !this.#page?.frozen) this.#work.next();
  };

  /**
   * The page goes into the back/forward cache (a `pagehide` that is `persisted`), where it is frozen and keeps its Web
   * Locks: the other feeds would count it as present, and the leases its workers hold would hold their work back until
   * they expire. So the feed says `away` with its lease owners: the other handles forget it and release those leases
   * as for a tab gone (their workers take the work over: at least once). A worker of this page that resumes finds its
   * leases gone, and its commits under them are refused.
   */
  readonly #onPageHide = (event: PageTransitionEvent): void => {
    if (!event.persisted || this.#closed || !this.#release) return;
    this.#post({ type: PRESENCE_TYPE, kind: 'away', from: this.#id, owners: [...this.#owners] } satisfies PresenceMessage);
  };

  /**
   * The page is back from the back/forward cache: the feed says hello again (the others forgot it at its `away`), and
   * names its lease owners again; the store reads again what its subscribers watch (`restored`), and its worker is
   * woken to claim the work that came meanwhile.
   */
  readonly #onPageShow = (event: PageTransitionEvent): void => {
    if (!event.persisted || this.#closed) return;
    if (this.#release) {
      this.#hello();
      this.#tellOwners();
    }
    this.#restored?.();
    this.wakeHere();
  };

  readonly #onMessage = (event: MessageEvent<unknown>): void => {
    if (this.#closed) return;
    const data = event.data;
    if (isFeedMessage(data)) {
      if (typeof data.from !== 'string' && !this.#always) this.#postAlways(); // an older version's tab: it listens too
      const changes = readable(data.changes);
      this.#receive(changes, data.work);
      if (changes !== data.changes) this.#unreadable?.();
    } else if ((data as { type?: unknown } | null)?.type === MESSAGE_TYPE) {
      this.#unreadable?.(); // a commit whose changes this feed cannot even find
    } else if (this.#locks && isPresenceMessage(data) && data.from !== this.#id) this.#onPresence(data);
  };

  #onPresence(message: PresenceMessage): void {
    switch (message.kind) {
      case 'hello':
        if (message.inputApart === true) this.#apartPeers.add(message.from);
        if (this.#release) this.#greet(message.from);
        else this.#hellos.push(message.from);
        break;
      case 'here':
        if (message.to !== this.#id) break;
        if (message.inputApart === true) this.#apartPeers.add(message.from);
        // While this feed waits, its store has read nothing yet and will read these commits from the database.
        if (!this.#endJoin && !this.#answered.has(message.from)) this.#deliverKept(message.kept);
        this.#answered.add(message.from);
        this.#addPeer(message.from);
        this.#settle(message.from);
        break;
      case 'bye':
        this.#peerOwners.delete(message.from); // its store closed, the tab lives on: its worker's leases are not taken from it
        this.#dropPeer(message.from);
        break;
      case 'owners':
        this.#peerOwners.set(message.from, message.owners.slice(-MAX_OWNERS));
        break;
      case 'away':
        // Its page went into the back/forward cache: as a tab gone, though it keeps its lock (see #onPageHide).
        this.#peerOwners.delete(message.from);
        this.#dropPeer(message.from);
        this.#peerGone?.(message.owners.slice(-MAX_OWNERS));
        break;
      default:
        break; // a kind of a newer version: ignored
    }
  }

  #hello(): void {
    this.#post({ type: PRESENCE_TYPE, kind: 'hello', from: this.#id, ...this.#takesApart() } satisfies PresenceMessage);
  }

  /** What this feed's `hello` and `here` say of the posts it takes: without unchanged inputs, when it has its store's. */
  #takesApart(): { readonly inputApart?: true } {
    return this.#inputs ? { inputApart: true } : {};
  }

  /**
   * Whether a post leaves out the inputs its commit did not write ({@link FeedChange.inputApart}): when this feed has
   * its store's inputs, and every peer said it takes such posts. Not while it posts every commit (`#always`): a tab of
   * an older version of this package may listen, which would show the states without their input.
   */
  #postsApart(): boolean {
    if (!this.#inputs || this.#always) return false;
    for (const id of this.#peers.keys()) if (!this.#apartPeers.has(id)) return false;
    return true;
  }

  /** Holding its lock: says hello, answers the hellos heard meanwhile and asks which feeds are present. */
  #announce(): void {
    this.#hello();
    for (const from of this.#hellos.splice(0)) this.#greet(from);
    this.#locks?.query().then((snapshot) => this.#found(snapshot.held ?? []), () => {
      // Which feeds are present is unknown: post every commit (this feed still answers hellos, so newcomers know it).
      this.#postAlways();
      this.endJoin();
    });
  }

  /**
   * The lock request was refused (a SecurityError, a lock manager that refuses): as without Web Locks. Its posts then
   * carry no sender, so the other feeds, which never hear a hello from it, post to it as to an older version's tab.
   */
  #giveUp(): void {
    if (this.#closed) return; // aborted by close
    this.#locks = undefined;
    this.#postAlways();
    this.endJoin();
  }

  /**
   * From now on, for the rest of this feed's life, every commit is posted: presence is unknown, or a tab of an older
   * version of this package (no lock, no hello) committed on the channel. The kept commits stay while this feed
   * answers hellos: a newcomer whose join timed out before its hello was handled still gets them.
   */
  #postAlways(): void {
    this.#always = true;
    if (!this.#locks) this.#kept.length = 0; // a feed that still answers hellos still owes a late newcomer these
  }

  #found(held: readonly LockInfo[]): void {
    if (this.#closed) return;
    const awaited = new Set<string>();
    for (const { name, mode } of held) {
      if (mode !== 'exclusive' || !name?.startsWith(this.#prefix)) continue; // a shared one is a watch, not a feed
      const id = name.slice(this.#prefix.length);
      if (id === this.#id || id.includes('/')) continue; // own, or a feed of database `<name>/feed/...`
      if (!this.#answered.has(id)) awaited.add(id);
      this.#addPeer(id);
    }
    this.#awaited = awaited;
    // Taking a free lock and querying are answered by this page's lock manager at once; only the answers of other
    // feeds are waited for with a timeout (so a store alone arms no timer on its clock).
    if (awaited.size > 0 && this.#endJoin) {
      this.#joinTimer = this.#clock.setTimeout(this.#joinTimedOut, this.#joinTimeoutMs);
      // A feed found may have opened its channel after this one's hello (and taken its lock before the query): it
      // answers only a hello it heard. The others answer twice, the second time without kept commits (#greet).
      this.#hello();
    }
    this.#settle(undefined);
  }

  /**
   * Answers a newcomer: it is a peer from now on, so every later commit is posted; the kept ones of the last
   * {@link MAX_KEPT_AGE_MS} go with the first answer. A newcomer whose query answers before the feeds it found have
   * answered (nearly always, in Chromium) says hello twice; the answer to its second hello carries none, for the
   * newcomer would drop them and every tab on the channel receives the answer (up to {@link MAX_KEPT} batches).
   */
  #greet(from: string): void {
    this.#addPeer(from);
    const oldest = this.#clock.now().getTime() - MAX_KEPT_AGE_MS;
    const kept = this.#greeted.has(from) ? [] : this.#kept.filter((b) => b.atMs >= oldest);
    this.#greeted.add(from);
    this.#post({ type: PRESENCE_TYPE, kind: 'here', from: this.#id, to: from, kept, ...this.#takesApart() } satisfies PresenceMessage);
  }

  #addPeer(id: string): void {
    if (this.#peers.has(id) || !this.#locks) return;
    const watch = new AbortController();
    this.#peers.set(id, watch);
    this.#tellOwners(); // a new peer learns whose leases this tab holds
    // Granted once the peer's lock is released: it closed, crashed or its tab went. Forgotten in the callback, so
    // that whoever is granted the lock after this watch finds the peer forgotten.
    this.#locks.request(this.#prefix + id, { mode: 'shared', signal: watch.signal }, () => {
      if (this.#peers.get(id) !== watch) return; // it said bye: it closed after posting what it committed
      const owners = this.#peerOwners.get(id) ?? [];
      this.#peerOwners.delete(id);
      this.#dropPeer(id);
      if (!this.#closed) this.#peerGone?.(owners);
    }).catch(() => undefined); // aborted: forgotten already, or this feed closed
  }

  #dropPeer(id: string): void {
    const watch = this.#peers.get(id);
    if (watch) {
      this.#peers.delete(id);
      watch.abort();
    }
    this.#greeted.delete(id);
    this.#apartPeers.delete(id);
    this.#settle(id); // a feed that went will not answer, and its commits are in the database
  }

  /** Ends the join once the query answered and every feed it found has answered or gone. */
  #settle(id: string | undefined): void {
    if (id !== undefined) this.#awaited?.delete(id);
    if (this.#awaited?.size === 0) this.endJoin();
  }

  readonly #joinTimedOut = (): void => {
    this.#joinTimer = undefined;
    this.endJoin();
  };

  /**
   * Keeps a batch published unposted, and at most {@link MAX_KEPT}: their age is checked only when they are sent
   * ({@link #greet}), which is rare, rather than on each commit a feed alone makes. `changes` are this feed's own: no
   * subscriber holds them (see {@link ChangeFeed.publish}).
   */
  #keep(changes: readonly FeedChange[], work: boolean): void {
    if (this.#kept.push({ changes, work, atMs: this.#clock.now().getTime() }) > MAX_KEPT) this.#kept.shift();
  }

  /**
   * Delivers the batches a late answer carried, in order. For an instance purged among them, only its changes from the
   * last purge on: this feed may have read a later run already (version 1, say), and the client's status$ compares
   * versions only, so the purged run's higher versions would pass as newer. (What that leaves: the package README.)
   */
  #deliverKept(received: readonly Batch<unknown>[]): void {
    const kept = received.map((b) => ({ changes: readable(b.changes), work: b.work }));
    const lastPurge = new Map<string, number>();
    let at = 0;
    for (const batch of kept) {
      for (const c of batch.changes) {
        if (c.state === undefined) lastPurge.set(c.instanceId, at);
        at++;
      }
    }
    at = 0;
    for (const batch of kept) {
      const changes = lastPurge.size === 0 ? batch.changes : batch.changes.filter((c) => (lastPurge.get(c.instanceId) ?? 0) <= at++);
      this.#receive(changes, batch.work);
    }
    if (kept.some((b, i) => b.changes !== received[i]!.changes)) this.#unreadable?.();
  }

  /**
   * Delivers a batch another handle posted, with the inputs its changes left out put back ({@link FeedChange.inputApart}):
   * at once when this feed's store keeps them all (it kept each execution's input when its start was posted: see
   * {@link ChangeFeed.#withInputs}), else once the store read the input records it lacks; the batches received
   * meanwhile wait behind it, in order, so that no instance's changes overtake one another.
   */
  #receive(changes: readonly FeedChange[], work: boolean): void {
    if (this.#inbound.length === 0) {
      const complete = this.#withInputs(changes, undefined);
      if (complete) {
        this.#deliver(complete, work);
        return;
      }
    }
    if (this.#inbound.push({ changes, work }) === 1) void this.#readInbound();
  }

  /** Delivers the waiting batches in order, each once the input records its changes lack are read. */
  async #readInbound(): Promise<void> {
    while (this.#inbound.length > 0 && !this.#closed) {
      const { changes, work } = this.#inbound[0]!;
      let complete = this.#withInputs(changes, undefined);
      if (!complete) {
        const ids = [...new Set(changes.filter((c) => this.#lacksInput(c)).map((c) => c.instanceId))];
        const records = await this.#inputs!.read(ids).then((read) => new Map(ids.map((id, i) => [id, read[i]])), () => undefined);
        if (this.#closed) return;
        complete = this.#withInputs(changes, records ?? new Map())!;
        // A read that failed (the store lost its database, or the browser refused it) drops those changes, as changes
        // this feed cannot read are: not passed through the gate, so the states the store reads again of what its
        // subscribers watch (at those versions, or later) follow what was delivered, and are delivered.
        if (!records) {
          complete = complete.filter((c) => !this.#unheard.has(c));
          this.#unreadable?.();
        }
      }
      this.#inbound.shift();
      this.#deliver(complete!, work);
    }
  }

  /** True for a change posted without its input ({@link FeedChange.inputApart}) that this feed's store does not keep. */
  #lacksInput(change: FeedChange): boolean {
    const { state } = change;
    return change.inputApart === true && !!state && !Object.hasOwn(state, 'input') && !this.#inputs?.get(change.instanceId, state);
  }

  /**
   * The changes of a received batch with the inputs they left out put back: the input the store keeps for the state's
   * execution, else the record read (`records`), which the store keeps from now on (so does it the input a start's
   * change carries: the execution's next changes come without it). A state with such an input is marked shared
   * (`markShared`): the store keeps it after handing it out. One whose record is of an earlier run ({@link isEarlierRecord})
   * is heard without an input, as the store reads it. One whose record names another execution, or is gone, is passed
   * through the gate unheard ({@link ChangeFeed.#unheard}): a later commit replaced or purged it, and that commit's
   * change follows. `undefined`: some input is neither kept nor read (`records` undefined: not read yet).
   */
  #withInputs(changes: readonly FeedChange[], records: ReadonlyMap<string, InputRecord | undefined> | undefined): readonly FeedChange[] | undefined {
    const inputs = this.#inputs;
    if (!inputs) return changes;
    let out: FeedChange[] | undefined;
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i]!;
      const received = this.#receivedInput(change, inputs, records);
      if (received === undefined) return undefined;
      if (received === change) {
        out?.push(change);
        continue;
      }
      out ??= changes.slice(0, i);
      out.push(received);
    }
    return out ?? changes;
  }

  /** One change of {@link ChangeFeed.#withInputs}: itself, or a copy with its input put back, or `undefined`. */
  #receivedInput(
    change: FeedChange, inputs: FeedInputs, records: ReadonlyMap<string, InputRecord | undefined> | undefined,
  ): FeedChange | undefined {
    const { instanceId, state } = change;
    if (!state) {
      inputs.forget(instanceId); // purged
      return change;
    }
    const ends = isTerminalStatus(state.runtimeStatus);
    const carried = Object.hasOwn(state, 'input');
    const known = inputs.get(instanceId, state);
    // An end carries its input (see withoutInput), but the one kept of its execution stands for it as for a step.
    if (change.inputApart !== true || (carried && !(ends && known))) {
      // Carries its input (a start, a new execution; every change while a tab of an older version listens), or has none.
      if (ends) inputs.forget(instanceId);
      else if (carried && known === undefined) {
        // The clone is this feed's own: kept as it is, frozen, and so shared from now on.
        if (inputs.isKept(inputs.keep(instanceId, state, state.input, true))) markShared(change);
      }
      return change;
    }
    let input: unknown = known;
    if (input === undefined) {
      if (!records) return undefined;
      const record = records.get(instanceId);
      if (record && !isRecordOf(record, state) && isEarlierRecord(record, state)) {
        // The run has no input in a record (code of an earlier layout started it): its state is heard without one.
        if (ends) inputs.forget(instanceId);
        const { inputApart: _apart, ...rest } = change;
        return rest;
      }
      if (!record || !isRecordOf(record, state)) {
        const unheard = { ...change };
        this.#unheard.add(unheard);
        return unheard;
      }
      input = ends ? record.input : inputs.keep(instanceId, state, record.input, true);
    }
    if (ends) inputs.forget(instanceId);
    const { inputApart: _apart, ...rest } = change;
    const withInput = { ...rest, state: { ...state, input } };
    if (inputs.isKept(input)) markShared(withInput);
    return withInput;
  }

  /** Hands the changes the gate passed on to the subscribers, but those passed unheard ({@link ChangeFeed.#unheard}). */
  #emit(passed: readonly FeedChange[]): void {
    for (const change of passed) if (!this.#unheard.has(change)) this.#changes.next(statusChangeOf(change));
  }

  #deliver(changes: readonly FeedChange[], work: boolean): void {
    const nowMs = changes.length > 0 ? this.#clock.now().getTime() : 0;
    for (const change of changes) {
      this.#emit(this.#gate.offer(change, nowMs));
    }
    if (this.#gapTimer === undefined) this.#armGapTimer();
    if (!work) return;
    if (!this.#page?.frozen) this.#work.next();
    else if (!this.#workWhileFrozen) {
      this.#workWhileFrozen = true;
      void this.#page.resumed().then(this.#onResume);
    }
  }

  /** Sets the gap timer for the change held longest, if any: each held change waits its full `gapTimeoutMs`. */
  #armGapTimer(): void {
    const oldest = this.#gate.oldestHeldMs;
    if (oldest === undefined) return;
    const delayMs = oldest + this.#gapTimeoutMs - this.#clock.now().getTime();
    // A clock that returns an Invalid Date gives no delay: the full timeout.
    this.#gapTimer = this.#clock.setTimeout(this.#releaseHeld, Number.isNaN(delayMs) ? this.#gapTimeoutMs : Math.max(0, delayMs));
  }

  readonly #releaseHeld = (): void => {
    this.#gapTimer = undefined;
    if (this.#closed) return;
    const nowMs = this.#clock.now().getTime();
    this.#emit(this.#gate.release(nowMs - this.#gapTimeoutMs, nowMs));
    this.#armGapTimer();
  };
}

/**
 * The channel named `name`, or none where there is no BroadcastChannel or making one throws (some embedded browsers
 * refuse it): the feed then serves this handle alone, as without BroadcastChannel.
 */
function openChannel(name: string): BroadcastChannel | undefined {
  if (typeof BroadcastChannel !== 'function') return undefined;
  try {
    return new BroadcastChannel(name);
  } catch {
    return undefined;
  }
}

/**
 * `change` with a state of its own whose payloads are copies (store-kit's `withOwnPayloads`), but for an input the
 * store keeps frozen (`keptInput`), which nobody can change: what a commit kept for a late peer needs once the feed's
 * subscribers hold the delivered one. Copying only the payloads costs less than marking the state shared and copying
 * the payloads of one emission in the client did; a full copy of the change, more.
 */
function copyPayloads(change: FeedChange, keptInput: (value: unknown) => boolean): FeedChange {
  const { state } = change;
  if (!state) return change;
  if (!keptInput(state.input)) return { ...change, state: withOwnPayloads({ ...state }) };
  const own = withOwnPayloads({ ...state, input: undefined }) as { input: unknown };
  own.input = state.input;
  return { ...change, state: own as unknown as InstanceState };
}

/**
 * A copy of `change` whose state keeps its input as it is, an input the store keeps frozen (the `keptInput` option),
 * marked shared: the feed holds that input after handing it out (the next step of the execution publishes it again),
 * so a client copies it for its users (`markShared`'s rule). The rest of the state is copied as any change's is.
 */
function withKeptInput(change: FeedChange): FeedChange {
  const state = change.state!;
  const copy = copyStoreValue({ ...change, state: { ...state, input: undefined } });
  (copy.state as { input: unknown }).input = state.input;
  markShared(copy);
  return copy;
}

/** No input is kept (a feed without the `inputs` option). */
function never(): boolean {
  return false;
}

/**
 * `change` as posted to feeds that take changes without their unchanged input: without its state's input when the
 * commit did not write it ({@link FeedChange.inputApart}); the receiving feeds put it back. Shallow: the post clones.
 * An end keeps its input: a receiving feed that does not keep it may find its record purged, or of the next run, by the
 * time it reads it, and would pass the end over, with the run's output (one clone per run, not one per step).
 */
function withoutInput(change: FeedChange): FeedChange {
  const { state } = change;
  if (change.inputApart !== true || !state || !Object.hasOwn(state, 'input') || isTerminalStatus(state.runtimeStatus)) return change;
  const { input: _input, ...rest } = state;
  return { ...change, state: rest as InstanceState };
}

/**
 * The change a feed delivers: without `after`, the feed's own; with the purged snapshot a purge names (a change from
 * another tab is well formed once delivered: {@link readable}), and nothing else a newer version may add to it.
 */
function statusChangeOf(change: FeedChange): StatusChange {
  const { instanceId, state, purged } = change;
  return purged ? { instanceId, state, purged: { executionId: purged.executionId, version: purged.version } } : { instanceId, state };
}

/**
 * The changes of a batch another feed posted that this one can deliver ({@link isFeedChange}): `changes` itself when
 * every one is (nearly always), else a new array without the others. A change dropped so may stand for a commit (of a
 * tab of another version of this package), so the feed then tells its store (`unreadable`), which reads again.
 */
function readable(changes: readonly unknown[]): readonly FeedChange[] {
  return changes.every(isFeedChange) ? changes : changes.filter(isFeedChange);
}

function isFeedMessage(data: unknown): data is FeedMessage {
  return (data as Partial<FeedMessage> | null)?.type === MESSAGE_TYPE && isBatch(data);
}

/**
 * A presence message with the fields its kind needs (a malformed one is ignored, as a malformed commit is; the changes
 * of the kept commits a `here` carries are checked one by one when they are delivered, as a commit's are).
 */
function isPresenceMessage(data: unknown): data is PresenceMessage {
  const m = data as { type?: unknown; kind?: unknown; from?: unknown; to?: unknown; kept?: unknown } | null;
  if (m?.type !== PRESENCE_TYPE || typeof m.from !== 'string') return false;
  if (m.kind === 'owners' || m.kind === 'away') {
    const owners = (data as { owners?: unknown }).owners;
    return Array.isArray(owners) && owners.every((o) => typeof o === 'string' && o !== '');
  }
  return m.kind !== 'here' || (typeof m.to === 'string' && Array.isArray(m.kept) && m.kept.every(isBatch));
}

/** A batch's outside: its changes are checked one by one ({@link readable}). */
function isBatch(data: unknown): data is Batch<unknown> {
  const b = data as Partial<Batch<unknown>> | null;
  return typeof b === 'object' && b !== null && Array.isArray(b.changes) && typeof b.work === 'boolean';
}
