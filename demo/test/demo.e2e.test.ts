import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newDemoContext } from './browser.js';
import {
  collectErrors, openDemo, recordHelloProgress, seenFor, textOf, textsOf, waitForHelloCompleted, waitForNewHelloInstance,
  waitForText,
} from './demo-page.js';
import { startPreview, type PreviewHandle } from './preview-server.js';

const RESULTS = new URL('../test-results/', import.meta.url);
const GREETINGS = ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'];

describe('the demo in headless Chromium', () => {
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

  it('runs the hello sequence in the page, live in a second tab and across a reload, and books a ticket', async () => {
    const context = await newDemoContext(browser);
    await recordHelloProgress(context);
    const pageA = await context.newPage();
    const pageB = await context.newPage();
    const errors = [pageA, pageB].map(collectErrors);
    await openDemo(pageA, server.url);
    await openDemo(pageB, server.url);

    // After load, the page needs no network: everything runs on IndexedDB in the browser.
    const requestsAfterLoad: string[] = [];
    let reloading = false;
    pageA.on('request', (request) => {
      if (!reloading && /^https?:/.test(request.url())) requestsAfterLoad.push(request.url());
    });
    pageB.on('request', (request) => {
      if (/^https?:/.test(request.url())) requestsAfterLoad.push(request.url());
    });

    // 1. Start in tab A; both tabs show Tokyo, Seattle, London in order and the output.
    await pageA.click('#start-hello');
    const first = await waitForNewHelloInstance(pageA, '');
    await waitForHelloCompleted(pageA, first);
    await waitForHelloCompleted(pageB, first);
    expect(await seenFor(pageA, first)).toEqual(['Tokyo', 'Seattle', 'London']);
    expect(await seenFor(pageB, first)).toEqual(['Tokyo', 'Seattle', 'London']);
    expect(await textsOf(pageA, '#hello-output li')).toEqual(GREETINGS);
    expect(await textsOf(pageB, '#hello-output li')).toEqual(GREETINGS);
    expect(await pageA.$eval('#hello-progress', (p) => (p as HTMLProgressElement).value)).toBe(3);

    // 2. Start again, reload tab A mid-run: the run carries on and completes with the right output.
    await pageA.click('#start-hello');
    const second = await waitForNewHelloInstance(pageA, first);
    await pageA.waitForFunction((id) => window.__helloSeen?.some((s) => s.instanceId === id && s.text === 'Tokyo'), second);
    expect(await textOf(pageA, '#hello-status')).toBe('Running');
    reloading = true;
    await pageA.reload();
    await pageA.waitForSelector('body[data-ready="true"]');
    reloading = false;
    await pageA.waitForSelector(`#hello[data-instance-id="${second}"]`); // the reloaded page shows the same run
    await waitForHelloCompleted(pageA, second);
    expect(await textsOf(pageA, '#hello-output li')).toEqual(GREETINGS);
    const afterReload = await seenFor(pageA, second);
    expect(afterReload.at(-1)).toBe('London');
    expect(['Tokyo', 'Seattle', 'London'].slice(-afterReload.length)).toEqual(afterReload);
    // Tab B never reloaded and watched the whole run live, wherever it was worked on.
    await waitForHelloCompleted(pageB, second);
    expect(await seenFor(pageB, second)).toEqual(['Tokyo', 'Seattle', 'London']);
    expect(await textsOf(pageB, '#hello-output li')).toEqual(GREETINGS);

    // 3. ReserveTicket: the discount arrives as custom status; the button raises BookingConfirmed.
    await pageA.click('#reserve-ticket');
    await pageA.waitForSelector('#confirm-booking:not([disabled])');
    expect(await textOf(pageA, '#booking-offer')).toMatch(/^Your discount: \d+ %/);
    await pageA.click('#confirm-booking');
    await waitForText(pageA, '#booking-offer', 'Thank you for confirming your booking.');
    await waitForText(pageA, '#booking-status', 'Completed');
    expect(await textOf(pageA, '#booking-output')).toBe('Booked');
    await waitForText(pageB, '#booking-offer', 'Thank you for confirming your booking.');
    expect(await pageA.isDisabled('#confirm-booking')).toBe(true);

    // The finished page, with the history of the reloaded run open.
    await pageA.click(`#instances tr[data-instance-id="${second}"] button[data-action="history"]`);
    await pageA.waitForSelector('#history li[data-type="ExecutionCompleted"]');
    expect(await textsOf(pageA, '#history li[data-type="TaskCompleted"] .event-detail')).toEqual(GREETINGS.map((g, i) => `#${i} → ${g}`));

    expect(requestsAfterLoad).toEqual([]);
    expect(errors.flat()).toEqual([]);
    await pageA.screenshot({ path: new URL('demo.png', RESULTS).pathname, fullPage: true });
    await context.close();
  });
});
