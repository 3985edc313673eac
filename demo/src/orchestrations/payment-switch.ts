import { filter, fromEvent, map, merge, startWith, Subject, type Observable } from 'rxjs';

const KEY = 'durable-rx-demo:payment-service-up';

/**
 * Where the demo server (demo/server.mjs) serves its payment switch: `GET` answers `{ up }`, `PUT { up }` sets it.
 * Same key and CORS origins as the server's HTTP API.
 */
export const SERVER_PAYMENT_SWITCH_PATH = '/demo/payment-service';

/**
 * What the "Payment service is up" switch of the page controls: the page's own {@link PaymentSwitch}, or, when the
 * page watches a server, the server's (see `ServerPaymentSwitch`).
 */
export interface PaymentSwitchControl {
  /** The current value, then its changes. */
  readonly isUp$: Observable<boolean>;
  /** Turns the payment service on or off. */
  setUp(up: boolean): Promise<void>;
}

/**
 * The "payment service is up" switch of the rewind sample. It lives in localStorage, so whichever tab runs the
 * `ChargeCard` activity reads the same value, and it survives reloads.
 */
export class PaymentSwitch implements PaymentSwitchControl {
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

  async setUp(up: boolean): Promise<void> {
    this.isUp = up;
  }
}
