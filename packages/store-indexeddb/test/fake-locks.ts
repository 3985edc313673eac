/**
 * A lock manager of one page, enough for the change feed's presence: exclusive and shared requests per name, granted
 * in order when compatible, aborted by their signal; `query` lists what is held. `drop` frees a lock without its
 * holder's callback ending: the holder's tab went.
 */
export class FakeLocks {
  readonly #held = new Map<string, { mode: LockMode; drop: () => void }[]>();
  readonly #waiting: { name: string; mode: LockMode; grant: () => void; signal?: AbortSignal | undefined }[] = [];

  request(name: string, options: LockOptions, callback: (lock: Lock | null) => unknown): Promise<unknown> {
    const mode = options.mode ?? 'exclusive';
    return new Promise((resolve, reject) => {
      const grant = () => {
        let done = false;
        const holder = {
          mode,
          drop: () => {
            if (done) return;
            done = true;
            this.#held.set(name, (this.#held.get(name) ?? []).filter((h) => h !== holder));
            this.#pump();
          },
        };
        this.#held.set(name, [...(this.#held.get(name) ?? []), holder]);
        Promise.resolve(callback({ name, mode } as Lock)).then((value) => {
          holder.drop();
          resolve(value);
        }, (error: unknown) => {
          holder.drop();
          reject(error);
        });
      };
      const entry = { name, mode, grant, signal: options.signal };
      options.signal?.addEventListener('abort', () => {
        const at = this.#waiting.indexOf(entry);
        if (at < 0) return;
        this.#waiting.splice(at, 1);
        reject(new DOMException('aborted', 'AbortError'));
      });
      this.#waiting.push(entry);
      this.#pump();
    });
  }

  query(): Promise<LockManagerSnapshot> {
    const held = [...this.#held].flatMap(([name, holders]) => holders.map(({ mode }) => ({ name, mode, clientId: 'page' })));
    return Promise.resolve({ held, pending: this.#waiting.map(({ name, mode }) => ({ name, mode, clientId: 'page' })) });
  }

  /** True while someone waits for `name` in `mode`. */
  waits(name: string, mode: LockMode): boolean {
    return this.#waiting.some((w) => w.name === name && w.mode === mode);
  }

  /** Frees every hold of `name` as a tab that went does: no callback of the holder runs. */
  drop(name: string): void {
    for (const holder of this.#held.get(name) ?? []) holder.drop();
  }

  #pump(): void {
    for (let i = 0; i < this.#waiting.length; i++) {
      const w = this.#waiting[i]!;
      const holders = this.#held.get(w.name) ?? [];
      if (holders.length > 0 && (w.mode === 'exclusive' || holders.some((h) => h.mode === 'exclusive'))) continue;
      this.#waiting.splice(i--, 1);
      w.grant();
    }
  }
}
