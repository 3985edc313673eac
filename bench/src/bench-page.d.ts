// The API bench/page/main.js puts on `window` (the Node side calls it through playwright-core's page.evaluate).
interface IdbCounts { readwrite: number; readonly: number; requests: number }

interface BenchPage {
  /** Resolves to `crossOriginIsolated`. */
  ready: Promise<boolean>;
  rawCeiling(transactions: number): Promise<{ transactions: number; elapsedMs: number; perSecond: number }>;
  hello(adapter: 'dexie' | 'keyval', concurrency: number, instances: number): Promise<{
    adapter: string; concurrency: number; instances: number; steps: number; elapsedMs: number; counts: IdbCounts;
  }>;
  helloWithRaw(adapter: 'dexie' | 'keyval', instances: number, rawPerInstance: number): Promise<{
    adapter: string; instances: number; steps: number; elapsedMs: number; counts: IdbCounts; rawTransactions: number;
    rawElapsedMs: number;
    /** The instances' time up to the page being quiet after each (the idle turns included); `elapsedMs` ends at their work. */
    quietElapsedMs: number;
    /** Raw bursts during which a transaction other than the raw ones was opened. */
    disturbedBursts: number;
  }>;
  heldAcrossHandles(adapter: 'dexie' | 'keyval', measured: number, held: number, concurrency: number): Promise<{
    adapter: string; concurrency: number;
    first: { held: number; msPerInstance: number; requestsPerInstance: number };
    last: { held: number; msPerInstance: number; requestsPerInstance: number };
  }>;
  sameTabLatency(adapter: 'dexie' | 'keyval', instances: number): Promise<{ adapter: string; samples: number[] }>;
  durablyThroughput(concurrency: number, jobs: number): Promise<{ concurrency: number; jobs: number; elapsedMs: number }>;
  durablyLatency(jobs: number): Promise<{ samples: number[] }>;
  crossTabWriterOpen(adapter: 'dexie' | 'keyval', db: string, instanceId: string): Promise<void>;
  crossTabReaderOpen(adapter: 'dexie' | 'keyval', db: string, instanceId: string): Promise<void>;
  crossTabRun(instanceId: string, probes: number): Promise<{ committedAt: [number, number][]; clockOffsetMs: number; clockRttMs: number }>;
  crossTabReaderClose(): Promise<[number, number][]>;
  crossTabWriterClose(): Promise<void>;
}

interface Window { bench: BenchPage }
