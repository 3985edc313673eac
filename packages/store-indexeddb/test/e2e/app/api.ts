import type { HistoryEvent, InstanceStatus, WorkerMetrics } from '@durable-rx/runtime';

/** Which store a test page opens. */
export type E2eAdapter = 'dexie' | 'keyval';

/** How a test page opens its store and runtime (also readable from the page URL, so a reload restarts it). */
export interface E2eOpenOptions {
  readonly adapter: E2eAdapter;
  readonly db: string;
  /** Start a worker at once. */
  readonly worker?: boolean;
  /** Start a worker only while leading this Web Lock (runAsLeader). */
  readonly leader?: string;
  /** Orchestration and activity lease, ms (short in reload tests so that work of a reloaded page is taken over). */
  readonly leaseMs?: number;
  /** How long each activity takes, ms. */
  readonly activityDelayMs?: number;
  /** Each activity waits, once started, until the test calls {@link E2eApi.releaseActivities} (then `activityDelayMs`). */
  readonly holdActivities?: boolean;
  /** Pass `sessionStorage` as the runtime's `leaseStorage`, so a reloaded page takes over its own leases at once. */
  readonly leaseStorage?: boolean;
  /** The store's `joinTimeoutMs` (a large one: the store reads only once the pages already open have answered). */
  readonly joinTimeoutMs?: number;
}

/** What a store's layout marker and the database's IndexedDB version say (see E2eApi.layoutOf). */
export interface E2eLayout {
  readonly idbVersion: number;
  readonly layout: number | undefined;
}

/** The window API the e2e tests drive through `page.evaluate`. */
export interface E2eApi {
  /** Resolves once the store and runtime are open (the page opens them itself when its URL says so). */
  readonly ready: Promise<void>;
  open(options: E2eOpenOptions): Promise<void>;
  startMany(orchestrator: string, ids: readonly string[], input?: unknown): Promise<void>;
  /**
   * Starts through a client of its own, as another tab or a server would: the page's worker has to claim the
   * instance (a start through the runtime's client is handed to its worker without a claim).
   */
  startElsewhere(orchestrator: string, id: string, input?: unknown): Promise<void>;
  /** startNew that reports a failure as data: its code, class name and the names along its `cause` chain. */
  tryStart(orchestrator: string, id: string, input?: unknown): Promise<{ readonly ok: true } | E2eFailure>;
  /** `input` of an instance's status (or `undefined` when the instance does not exist). */
  inputOf(id: string): Promise<{ readonly exists: boolean; readonly input?: unknown }>;
  waitAll(ids: readonly string[], timeoutMs: number): Promise<Pick<InstanceStatus, 'instanceId' | 'runtimeStatus' | 'output'>[]>;
  histories(ids: readonly string[]): Promise<Record<string, HistoryEvent[]>>;
  /** Subscribes to customStatus$ of an instance and records every value. */
  watchCustomStatus(id: string): void;
  /** The recorded values once there are `count` of them. */
  customStatuses(id: string, count: number): Promise<unknown[]>;
  /**
   * Subscribes to status$ and customStatus$ of each instance and records every value (the runtime status of each
   * status), before any of them is started; a waitForCompletion of each starts once its status$ shows it.
   */
  watchAll(ids: readonly string[]): void;
  /**
   * What {@link E2eApi.watchAll} recorded of each instance once every status$ showed `runtimeStatus`, or `waitMs`
   * passed (then the test's assertions say which did not): the statuses, custom statuses and how each wait ended.
   */
  watchedWhen(runtimeStatus: string, waitMs: number): Promise<Record<string, { statuses: (string | undefined)[]; customStatuses: unknown[]; waited: string | undefined }>>;
  /**
   * Once, across reloads (sessionStorage): the commit whose snapshot matches (its runtime status and, if given, its
   * custom status) is never posted, and the page reloads instead, as a tab that went between a commit and its post.
   */
  dieAtPostOf(match: { readonly runtimeStatus: string; readonly customStatus?: number }): void;
  /** How many posts {@link E2eApi.dieAtPostOf} dropped in this tab (across reloads). */
  postsDropped(): number;
  /** Subscribes to instances$ (no filter) and records the ids of every emission, sorted. */
  watchInstances(): void;
  /** The recorded emissions of {@link E2eApi.watchInstances} once the last one lists exactly `ids` (sorted). */
  instancesWhen(ids: readonly string[]): Promise<string[][]>;
  /** Purges a terminal instance through this page's client. */
  purge(id: string): Promise<void>;
  /** Resolves when the next activity starts running in this page. */
  nextActivityStart(): Promise<void>;
  /** Resolves once {@link E2eApi.activityStarts} has reached `n`. */
  activityStartsReach(n: number): Promise<void>;
  /** Activity runs started in this tab, across reloads. */
  activityStarts(): number;
  /**
   * Reloads the page right after the next claim of this kind has committed in the database, before the worker hears
   * of it: the claim's lease is held and nobody in the page knows about it.
   */
  reloadAfterNextClaim(kind: 'orchestration' | 'activity'): void;
  /** `Date.now()` when the last activity run started in this tab (across reloads; the bench's reload-to-resume time). */
  lastActivityStartMs(): number;
  /** `Date.now()` when the page reloaded itself after a claim ({@link E2eApi.reloadAfterNextClaim}). */
  reloadedAtMs(): number;
  /** Lets the activities held by `holdActivities` end, and every later one run without waiting. */
  releaseActivities(): void;
  /**
   * At the page's next `freeze` event, starts instance `id` through a client of its own (as {@link
   * E2eApi.startElsewhere}), from a listener that runs before the store's own: the start's transaction begins before
   * the store hears of the freeze, and is open when the page freezes.
   */
  startOnFreeze(orchestrator: string, id: string): void;
  /**
   * How the start of {@link E2eApi.startOnFreeze} ended (once it has), and how many IndexedDB transactions the page
   * began during the `freeze` event, before the listeners the page added after its store's (at least one: the
   * start's, before the store's listener ran).
   */
  freezeStart(): Promise<{ readonly outcome: { readonly ok: true } | E2eFailure; readonly begunInFreeze: number }>;
  /**
   * Writes database `db` as the layout before this one left it, empty: DexieStore layout 2 (Dexie version 1), whose
   * opening upgrades the database (a `versionchange` transaction); KeyvalStore layout 7, whose opening upgrades it in
   * its layout check (a readwrite transaction).
   */
  writeOldLayout(adapter: E2eAdapter, db: string): Promise<void>;
  /** The IndexedDB version of database `db` and the layout version its marker names, read on a connection of its own. */
  layoutOf(adapter: E2eAdapter, db: string): Promise<E2eLayout>;
  /**
   * Reads instance `id` through the runtime's client, the first call of the page's store, so that it opens the
   * database; the page keeps the first transaction of the open (an upgrade's `versionchange` transaction, else the
   * layout check, which upgrades KeyvalStore's layout) doing work until the page's next `freeze` event, as the upgrade
   * of a large database would be. `upgrade: false` passes over the `versionchange` transaction (KeyvalStore's raise of
   * an older database's IndexedDB version, which writes nothing) and keeps the layout check. Resolves once that
   * transaction is at work; {@link E2eApi.heldRead} tells how the read ended.
   */
  readWhileOpeningHeld(id: string, upgrade?: boolean): Promise<void>;
  /** How the read of {@link E2eApi.readWhileOpeningHeld} ended (once it has): the instance's status, or the failure. */
  heldRead(): Promise<{ readonly ok: true; readonly runtimeStatus: string | undefined } | E2eFailure>;
  /**
   * The lease kinds of the commits the store refused in this page with `LeaseLostError` (in order), once there are at
   * least `count` of them; rejects after `timeoutMs`.
   */
  refusedCommits(count: number, timeoutMs: number): Promise<string[]>;
  /**
   * The feed locks of database `db` in the origin: how many stores hold theirs (`held`), and how many requests watch
   * one of them (`watches`: each store watches every other store's lock).
   */
  feedLocks(db: string): Promise<{ readonly held: number; readonly watches: number }>;
  /** How many times the back/forward cache restored this page (`pageshow` events with `persisted`). */
  restores(): number;
  /**
   * Whether the last `pagehide` of a page of this tab kept the page in the back/forward cache (`persisted`); undefined
   * before any. Read on the page the tab went to.
   */
  cachedAtHide(): boolean | undefined;
  metrics(): WorkerMetrics;
  isLeader(): boolean;
  waitLeader(): Promise<void>;
  close(): Promise<void>;
}

/** A failure as seen by the page. */
export interface E2eFailure {
  readonly ok: false;
  readonly code: unknown;
  readonly status: unknown;
  readonly name: string;
  readonly message: string;
  readonly causeNames: readonly string[];
}

declare global {
  interface Window {
    e2e: E2eApi;
  }
}
