import { filter, fromEvent, map, merge, startWith, Subject, type Observable } from 'rxjs';

const KEY = 'durable-rx-demo:payment-service-up';

/**
 * The "payment service is up" switch of the rewind sample. It lives in localStorage, so whichever tab runs the
 * `ChargeCard` activity reads the same value, and it survives reloads.
 */
export class PaymentSwitch {
  readonly #storage: Storage;
  readonly #changedHere = new Subject<void>();
  /** The current value, then every change made in this tab or another one. */
  readonly isUp$: Observable<boolean>;

  constructor(storage: Storage = localStorage, target: EventTarget = window) {
    this.#storage = storage;
    const changedElsewhere = fromEvent<StorageEvent>(target, 'storage').pipe(filter((e) => e.key === KEY || e.key === null));
    this.isUp$ = merge(this.#changedHere, changedElsewhere).pipe(startWith(undefined), map(() => this.isUp));
  }

  /** True when `ChargeCard` succeeds. */
  get isUp(): boolean {
    return this.#storage.getItem(KEY) === 'true';
  }

  set isUp(value: boolean) {
    this.#storage.setItem(KEY, String(value));
    this.#changedHere.next();
  }
}
