import type { Activity } from '@durable-rx/runtime';
import { delay } from './delay.js';

/** How long each activity takes in the demo (in the page and on the demo server), so progress can be watched. */
export const ACTIVITY_DELAY_MS = 1500;

/** Options of {@link createDemoActivities}. */
export interface DemoActivitiesOptions {
  /** How long each activity takes, so progress can be watched. */
  readonly delayMs: number;
  /**
   * Decides whether `ChargeCard` succeeds: the page's `PaymentSwitch` (kept in localStorage), or the demo server's
   * own flag.
   */
  readonly paymentSwitch: { readonly isUp: boolean };
}

/** The demo's activities. Each one waits `delayMs` first, like a call to a slow service. */
export function createDemoActivities({ delayMs, paymentSwitch }: DemoActivitiesOptions): Record<string, Activity<never>> {
  const sayHello: Activity<string, string> = async (name) => {
    await delay(delayMs);
    return `Hello ${name}!`;
  };
  const calculateDiscount: Activity<string, number> = async (userId) => {
    await delay(delayMs);
    return 5 + ([...String(userId)].reduce((sum, c) => sum + c.charCodeAt(0), 0) % 20);
  };
  const reserveSeat: Activity<string, string> = async (concert) => {
    await delay(delayMs);
    return `${concert || 'Concert'}, row ${String.fromCharCode(65 + Math.floor(Math.random() * 8))}`;
  };
  const chargeCard: Activity<string, string> = async (seat) => {
    await delay(delayMs);
    if (!paymentSwitch.isUp) {
      const error = new Error('The payment service is unavailable');
      error.name = 'PaymentServiceUnavailable';
      throw error;
    }
    return `Paid for ${seat}`;
  };
  return { E1_SayHello: sayHello, CalculateDiscount: calculateDiscount, ReserveSeat: reserveSeat, ChargeCard: chargeCard };
}
