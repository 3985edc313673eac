import type { BrowserContext, Page } from 'playwright-core';

/** What the recorder saw: each new text of the hello panel's custom status, with the instance it belonged to. */
export interface SeenStatus {
  readonly instanceId: string;
  readonly text: string;
}

declare global {
  interface Window {
    __helloSeen?: SeenStatus[];
  }
}

/**
 * Installs, in every page of the context (and again after each reload), a MutationObserver that records every
 * change of `#hello-custom-status`. The test then checks the order of what the DOM showed, not when.
 */
export async function recordHelloProgress(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const seen: SeenStatus[] = [];
    window.__helloSeen = seen;
    let last = '';
    const check = () => {
      const output = document.getElementById('hello-custom-status');
      const panel = document.getElementById('hello');
      if (!output || !panel) return;
      const text = output.textContent ?? '';
      const instanceId = panel.dataset['instanceId'] ?? '';
      const key = `${instanceId}|${text}`;
      if (key !== last) {
        last = key;
        seen.push({ instanceId, text });
      }
    };
    new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

/** The custom status texts the page showed for one instance, in order, without the empty placeholder. */
export async function seenFor(page: Page, instanceId: string): Promise<string[]> {
  const seen = await page.evaluate(() => window.__helloSeen ?? []);
  const texts = seen.filter((s) => s.instanceId === instanceId && s.text !== '—').map((s) => s.text);
  return texts.filter((text, i) => text !== texts[i - 1]);
}

/** Opens the demo and waits until the runtime has started and the panels are mounted. */
export async function openDemo(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
}

/** Waits until an element's text is exactly `text`. */
export async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([sel, expected]) => document.querySelector(sel!)?.textContent?.trim() === expected,
    [selector, text] as const,
  );
}

/** The trimmed text of an element. */
export async function textOf(page: Page, selector: string): Promise<string> {
  return ((await page.textContent(selector)) ?? '').trim();
}

/** Texts of every element matching the selector. */
export async function textsOf(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(selector, (elements) => elements.map((e) => (e.textContent ?? '').trim()));
}

/** Waits for the hello panel to show an instance other than `previous` and returns its id. */
export async function waitForNewHelloInstance(page: Page, previous: string): Promise<string> {
  const handle = await page.waitForFunction((prev) => {
    const id = document.getElementById('hello')?.dataset['instanceId'];
    return id && id !== prev ? id : false;
  }, previous);
  return (await handle.jsonValue()) as string;
}

/** Collects uncaught page errors and console errors of a page (the test asserts there are none). */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') errors.push(`console.${message.type()}: ${message.text()}`);
  });
  return errors;
}

/** Waits until the hello panel shows instance `instanceId` as Completed. */
export async function waitForHelloCompleted(page: Page, instanceId: string): Promise<void> {
  await page.waitForFunction((id) => {
    const panel = document.getElementById('hello');
    return panel?.dataset['instanceId'] === id && document.getElementById('hello-status')?.textContent === 'Completed';
  }, instanceId);
}

/** Waits until the instance list shows exactly these instance ids, in this order. */
export async function waitForListed(page: Page, instanceIds: readonly string[]): Promise<void> {
  await page.waitForFunction((ids) => {
    const rows = [...document.querySelectorAll('#instances tbody tr[data-instance-id]')];
    return rows.length === ids.length && rows.every((row, i) => row.getAttribute('data-instance-id') === ids[i]);
  }, instanceIds);
}
