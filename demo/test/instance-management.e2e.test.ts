import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newDemoContext } from './browser.js';
import { collectErrors, openDemo, textOf, textsOf, waitForListed, waitForText } from './demo-page.js';
import { startPreview, type PreviewHandle } from './preview-server.js';

const RESULTS = new URL('../test-results/', import.meta.url);

describe('the instance list of the demo in headless Chromium', () => {
  let server: PreviewHandle;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(RESULTS, { recursive: true });
    server = await startPreview();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const row = (id: string) => `#instances tr[data-instance-id="${id}"]`;
  const action = (id: string, name: string) => `${row(id)} button[data-action="${name}"]`;
  const waitForRowStatus = (page: Page, id: string, status: string) => waitForText(page, `${row(id)} .badge`, status);
  const instanceOf = async (page: Page, panel: string) => (await page.getAttribute(panel, 'data-instance-id')) ?? '';

  it('rewinds a failed instance once the failing service is back, keeping the completed work, then purges it', async () => {
    const context = await newDemoContext(browser);
    const page = await context.newPage();
    const errors = collectErrors(page);
    await openDemo(page, server.url);
    expect(await page.isChecked('#payment-up')).toBe(false);

    await page.click('#start-payment');
    await waitForText(page, '#payment-status', 'Failed');
    const id = await instanceOf(page, '#payment');
    await waitForRowStatus(page, id, 'Failed');
    expect(await page.isVisible(action(id, 'rewind'))).toBe(true);
    expect(await page.isVisible(action(id, 'suspend'))).toBe(false);

    await page.click(action(id, 'history'));
    await page.waitForSelector('#history li[data-type="TaskFailed"]');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('history-title');

    await page.check('#payment-up');
    await page.click(action(id, 'rewind'));
    await waitForRowStatus(page, id, 'Completed');
    await waitForText(page, '#payment-status', 'Completed');
    expect(await textOf(page, '#payment-detail')).toMatch(/^Paid for Concert, row [A-H]\.$/);

    // The history view re-reads the rewound history: the failure is gone, the seat was reserved only once.
    await page.waitForSelector('#history li[data-type="ExecutionRewound"]');
    await page.waitForFunction(() => [...document.querySelectorAll('#history li[data-type="ExecutionCompleted"]')]
      .some((li) => li.textContent?.includes('Paid for')));
    const scheduled = await textsOf(page, '#history li[data-type="TaskScheduled"] .event-detail');
    expect(scheduled.filter((t) => t.includes('ReserveSeat'))).toHaveLength(1);
    expect(scheduled.filter((t) => t.includes('ChargeCard'))).toHaveLength(1);
    expect(await page.$$('#history li[data-type="ExecutionRewound"]')).toHaveLength(1);
    expect(await page.$$('#history li[data-type="TaskFailed"]')).toHaveLength(0);

    await page.click(action(id, 'purge'));
    await page.waitForSelector(row(id), { state: 'detached' });
    await waitForText(page, '#history-summary', 'This instance was purged.');
    await waitForText(page, '#payment-status', 'Not started');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('suspends, resumes and terminates an instance, and filters the list by status and name', async () => {
    const context = await newDemoContext(browser);
    const page = await context.newPage();
    const errors = collectErrors(page);
    await openDemo(page, server.url);

    // ReserveTicket waits for BookingConfirmed, so it stays Running until we act.
    await page.click('#reserve-ticket');
    await page.waitForSelector('#confirm-booking:not([disabled])');
    const booking = await instanceOf(page, '#booking');
    await waitForRowStatus(page, booking, 'Running');
    await page.click(action(booking, 'suspend'));
    await waitForRowStatus(page, booking, 'Suspended');
    expect(await page.isVisible(action(booking, 'resume'))).toBe(true);
    await page.click(action(booking, 'resume'));
    await waitForRowStatus(page, booking, 'Running');
    await page.click(action(booking, 'terminate'));
    await waitForRowStatus(page, booking, 'Terminated');
    await waitForText(page, '#booking-status', 'Terminated');
    expect(await page.isDisabled('#confirm-booking')).toBe(true);

    await page.click('#start-hello');
    await waitForText(page, '#hello-status', 'Completed');
    const hello = await instanceOf(page, '#hello');
    await waitForListed(page, [hello, booking]); // newest first

    await page.selectOption('#filter-status', 'Terminated');
    await waitForListed(page, [booking]);
    await page.selectOption('#filter-status', 'Completed');
    await waitForListed(page, [hello]);
    await page.selectOption('#filter-status', '');
    await waitForListed(page, [hello, booking]);
    await page.selectOption('#filter-name', 'ReserveTicket');
    await waitForListed(page, [booking]);
    await page.selectOption('#filter-name', 'E3_PayForTicket');
    await page.waitForSelector('#instances tr.empty');
    await waitForText(page, '#instance-count', '0 instances');
    await page.selectOption('#filter-name', '');

    // A phone-sized view, to look at.
    await page.click(action(hello, 'history'));
    await page.waitForSelector('#history li[data-type="ExecutionCompleted"]');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: new URL('demo-mobile.png', RESULTS).pathname, fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  });
});
