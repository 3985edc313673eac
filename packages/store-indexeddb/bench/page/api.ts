import type { IdbCounts } from '../../test/count-idb.js';

/** The store a bench run uses ('memory' is the in-process baseline). */
export type BenchAdapter = 'dexie' | 'keyval' | 'memory';

/** The result of one bench run. */
export interface BenchRun {
  readonly adapter: BenchAdapter;
  readonly instances: number;
  /** Orchestration steps committed (4 per hello sequence). */
  readonly steps: number;
  /** Activities run (3 per hello sequence). */
  readonly activities: number;
  /** From the first startNew to the last completion. */
  readonly elapsedMs: number;
  /** Store calls per method during the run (for the IndexedDB stores, one transaction each). */
  readonly calls: Readonly<Record<string, number>>;
  /** IndexedDB transactions and requests during the run (all zero for MemoryStore). */
  readonly idb: IdbCounts;
}

/** The window API the bench driver calls. */
export interface BenchApi {
  run(adapter: BenchAdapter, instances: number): Promise<BenchRun>;
}

declare global {
  interface Window {
    bench: BenchApi;
  }
}
