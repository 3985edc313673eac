import { defer, merge, Subject, type Observable } from 'rxjs';
import { SERVER_PAYMENT_SWITCH_PATH, type PaymentSwitchControl } from '../orchestrations/payment-switch.js';
import type { RemoteTarget } from './remote-target.js';

/**
 * The payment switch of the demo server (`demo/server.mjs`): in remote mode `ChargeCard` runs there, so the page's
 * switch must set the server's. Read once when subscribed, then after each change made from this page (changes made
 * from other pages show after a reload).
 */
export class ServerPaymentSwitch implements PaymentSwitchControl {
  readonly #url: string;
  readonly #key: string | undefined;
  readonly #changed = new Subject<boolean>();
  readonly isUp$: Observable<boolean>;

  constructor({ baseUrl, key }: RemoteTarget) {
    this.#url = `${baseUrl}${SERVER_PAYMENT_SWITCH_PATH}`;
    this.#key = key;
    this.isUp$ = merge(defer(() => this.#send('GET')), this.#changed);
  }

  async setUp(up: boolean): Promise<void> {
    this.#changed.next(await this.#send('PUT', up));
  }

  async #send(method: 'GET' | 'PUT', up?: boolean): Promise<boolean> {
    const headers: Record<string, string> = {};
    if (this.#key !== undefined) headers['authorization'] = `Bearer ${this.#key}`;
    if (up !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.#url, { method, headers, ...(up === undefined ? {} : { body: JSON.stringify({ up }) }) });
    } catch {
      throw new Error(`The server's payment switch (${this.#url}) cannot be reached`);
    }
    if (!response.ok) {
      throw new Error(response.status === 404
        ? `This server has no payment switch (${SERVER_PAYMENT_SWITCH_PATH}); the demo server (npm run serve -w demo) has one`
        : `The server's payment switch answered ${response.status} ${response.statusText}`.trim());
    }
    const body: unknown = await response.json();
    if (typeof body !== 'object' || body === null || !('up' in body) || typeof body.up !== 'boolean') {
      throw new Error("The server's payment switch sent an unexpected answer");
    }
    return body.up;
  }
}
