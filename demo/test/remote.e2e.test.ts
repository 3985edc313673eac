import { mkdirSync } from 'node:fs';
import { createRemoteClient } from '@durable-rx/rx-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newDemoContext } from './browser.js';
import { startDemoServer, type DemoServerHandle } from './demo-server.js';
import {
  collectErrors, openDemo, recordHelloProgress, seenFor, textOf, textsOf, waitForHelloCompleted, waitForNewHelloInstance,
  waitForText,
} from './demo-page.js';
import { startPreview, type PreviewHandle } from './preview-server.js';

const RESULTS = new URL('../test-results/', import.meta.url);
const GREETINGS = ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'];
const API = '/runtime/webhooks/durabletask';

describe('the demo watching a server (remote mode) in headless Chromium', () => {
  let preview: PreviewHandle;
  let server: DemoServerHandle;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(RESULTS, { recursive: true });
    preview = await startPreview();
    server = await startDemoServer(new URL(preview.url).origin);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await preview?.close();
  });

  it('runs the hello sequence on demo/server.mjs, live over SSE in two tabs, books a ticket and rewinds a failure', async () => {
    const context = await newDemoContext(browser);
    await recordHelloProgress(context);
    const page = await context.newPage();
    const watcher = await context.newPage(); // a second tab, watching only
    const errors = [page, watcher].map(collectErrors);
    const eventStreams: string[] = [];
    page.on('response', (response) => {
      if (response.headers()['content-type']?.startsWith('text/event-stream')) eventStreams.push(new URL(response.url()).pathname);
    });

    const url = new URL(preview.url);
    url.search = new URLSearchParams({ server: server.url, key: server.key }).toString();
    await openDemo(page, url.href);
    await openDemo(watcher, url.href);
    await page.bringToFront(); // the tab that is clicked in is the visible one
    await waitForText(page, '#store-info', `Live: watching ${server.url} (push over Server-Sent Events)`);
    expect(await page.getAttribute('body', 'data-mode')).toBe('remote');
    expect(await page.getAttribute('body', 'data-connection')).toBe('live');
    expect(await page.inputValue('#server-url')).toBe(server.url);
    expect(await page.getAttribute('#run-in-page', 'hidden')).toBeNull();

    // 1. The hello sequence: started from the page, worked on the server, Tokyo, Seattle, London in order in both tabs.
    await page.click('#start-hello');
    const hello = await waitForNewHelloInstance(page, '');
    await waitForHelloCompleted(page, hello);
    await waitForHelloCompleted(watcher, hello);
    expect(await seenFor(page, hello)).toEqual(['Tokyo', 'Seattle', 'London']);
    expect(await seenFor(watcher, hello)).toEqual(['Tokyo', 'Seattle', 'London']);
    expect(await textsOf(page, '#hello-output li')).toEqual(GREETINGS);
    expect(await textsOf(watcher, '#hello-output li')).toEqual(GREETINGS);
    expect(await page.$eval('#hello-progress', (p) => (p as HTMLProgressElement).value)).toBe(3);

    // The progress was pushed over Server-Sent Events: each page watches everything through one stream session, and
    // nothing polled a status or a list.
    expect(server.requests).toContain(`POST ${API}/orchestrators/E1_HelloSequence`);
    expect(server.requests).toContain(`GET ${API}/streams`);
    expect(eventStreams).toEqual([`${API}/streams`]); // the page's one connection
    expect(server.requests.filter((r) => r === `GET ${API}/instances` || r.startsWith(`GET ${API}/instances/${hello}`))).toEqual([]);
    // The instance lives on the server.
    const remote = createRemoteClient({ baseUrl: server.url, key: server.key });
    expect(await remote.getStatus(hello)).toMatchObject({ runtimeStatus: 'Completed', output: GREETINGS, customStatus: 'London' });

    // 2. ReserveTicket: the discount arrives as custom status; the button raises BookingConfirmed on the server.
    await page.click('#reserve-ticket');
    await page.waitForSelector('#confirm-booking:not([disabled])');
    expect(await textOf(page, '#booking-offer')).toMatch(/^Your discount: \d+ %/);
    const booking = (await page.getAttribute('#booking', 'data-instance-id')) ?? '';
    await page.click('#confirm-booking');
    await waitForText(page, '#booking-offer', 'Thank you for confirming your booking.');
    await waitForText(page, '#booking-status', 'Completed');
    expect(await textOf(page, '#booking-output')).toBe('Booked');
    expect(server.requests).toContain(`POST ${API}/instances/${booking}/raiseEvent/BookingConfirmed`);

    // 3. The payment switch is the server's: the charge fails until it is turned on, then a rewind completes it.
    await page.waitForSelector('#payment-up:not([disabled])');
    expect(await page.isChecked('#payment-up')).toBe(false);
    await page.click('#start-payment');
    await waitForText(page, '#payment-status', 'Failed');
    await page.check('#payment-up');
    await page.waitForSelector('#payment-up:not([disabled])'); // the server has answered the PUT
    expect(server.requests).toContain('PUT /demo/payment-service');
    await page.click('#rewind-payment');
    await waitForText(page, '#payment-status', 'Completed');
    expect(await textOf(page, '#payment-detail')).toMatch(/^Paid for Concert, row [A-H]\.$/);

    // The finished page, with the history of the hello sequence open (history$ is a stream too, on the same session).
    await page.click(`#instances tr[data-instance-id="${hello}"] button[data-action="history"]`);
    await page.waitForSelector('#history li[data-type="ExecutionCompleted"]');
    expect(await textsOf(page, '#history li[data-type="TaskCompleted"] .event-detail')).toEqual(GREETINGS.map((g, i) => `#${i} → ${g}`));
    expect(eventStreams).toEqual([`${API}/streams`]);

    // No runtime ran in the pages: they made no IndexedDB database.
    expect(await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name))).toEqual([]);
    expect(errors.flat()).toEqual([]);
    await page.screenshot({ path: new URL('demo-remote.png', RESULTS).pathname, fullPage: true });
    await context.close();
  });

  it('tells the truth about its connection: a wrong key fails visibly, a server that goes away shows reconnecting', async () => {
    const context = await newDemoContext(browser);
    const page = await context.newPage();
    const url = new URL(preview.url);

    // A wrong key: the page says so, as an alert, and every command is disabled; nothing stays "Loading…".
    url.search = new URLSearchParams({ server: server.url, key: 'not-the-key' }).toString();
    await openDemo(page, url.href);
    await page.waitForSelector('body[data-connection="failed"]');
    expect(await textOf(page, '#store-info')).toBe(
      `Cannot watch ${server.url}: A valid key is required (Authorization: Bearer <key> or ?code=<key>) (unauthorized, 401). Check the server address and key.`,
    );
    expect(await page.getAttribute('#store-info', 'role')).toBe('alert');
    expect(await page.isDisabled('#start-hello')).toBe(true);
    expect(await page.isDisabled('#reserve-ticket')).toBe(true);
    expect(await page.isDisabled('#server-url')).toBe(false); // the header's form stays usable, to fix the key
    await waitForText(page, '#instance-count', 'The list is not available (see the message above).');
    await page.screenshot({ path: new URL('demo-remote-error.png', RESULTS).pathname, fullPage: true });

    // A server that goes away: live first, then reconnecting, commands disabled until it answers again.
    const doomed = await startDemoServer(new URL(preview.url).origin);
    try {
      url.search = new URLSearchParams({ server: doomed.url, key: doomed.key }).toString();
      await openDemo(page, url.href);
      await page.waitForSelector('body[data-connection="live"]');
      expect(await page.isDisabled('#start-hello')).toBe(false);
      await doomed.close();
      await page.waitForSelector('body[data-connection="reconnecting"]');
      expect(await textOf(page, '#store-info')).toMatch(new RegExp(`^Reconnecting to ${doomed.url.replace(/[.]/g, '\\.')}…`));
      expect(await page.getAttribute('#store-info', 'role')).toBe('alert');
      expect(await page.isDisabled('#start-hello')).toBe(true);
      await page.screenshot({ path: new URL('demo-remote-reconnecting.png', RESULTS).pathname, fullPage: true });
    } finally {
      await doomed.close();
      await context.close();
    }
  });

  it('switches between the modes with the form in the header', async () => {
    const context = await newDemoContext(browser);
    const page = await context.newPage();
    const errors = collectErrors(page);
    await openDemo(page, preview.url);
    expect(await page.getAttribute('body', 'data-mode')).toBe('local');
    expect(await page.isHidden('#run-in-page')).toBe(true);

    await page.click('.server-settings summary');
    await page.fill('#server-url', server.url);
    await page.fill('#server-key', server.key);
    await Promise.all([page.waitForURL((u) => u.searchParams.has('server')), page.click('#server-form button[type="submit"]')]);
    await page.waitForSelector('body[data-ready="true"][data-mode="remote"]');
    expect(new URL(page.url()).searchParams.get('server')).toBe(server.url);
    expect(new URL(page.url()).searchParams.get('key')).toBe(server.key);
    await waitForText(page, '#store-info', `Live: watching ${server.url} (push over Server-Sent Events)`);
    await page.waitForSelector('#instances tbody tr[data-instance-id]'); // the instances of the first test, from the server

    await page.click('.server-settings summary');
    await Promise.all([page.waitForURL((u) => u.search === ''), page.click('#run-in-page')]);
    await page.waitForSelector('body[data-ready="true"][data-mode="local"]');
    expect(await textOf(page, '#store-info')).toMatch(/^Store: IndexedDB/);

    // A server address that is not http(s) is refused, and said so.
    await page.goto(`${preview.url}?server=${encodeURIComponent('ftp://127.0.0.1')}`);
    await waitForText(page, '#store-info', 'The server address "ftp://127.0.0.1" must start with http:// or https://');
    expect(await page.getAttribute('#store-info', 'role')).toBe('alert');
    expect(errors).toEqual([]);
    await context.close();
  });
});
