import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build, preview } from 'vite';
import { chromiumArgs, chromiumPath } from '../chromium.js';

/**
 * A host name the e2e Chromium resolves to 127.0.0.1 ({@link launchChromium}): a page loaded from it is an insecure
 * context, as a page served over plain HTTP from a LAN address is (127.0.0.1 and localhost count as secure), so it
 * has no `crypto.randomUUID` and no Web Locks.
 */
export const INSECURE_HOST = 'durable-rx-insecure.test';

/** A built static page served by `vite preview` on 127.0.0.1. */
export interface ServedApp {
  readonly url: string;
  close(): Promise<void>;
}

/** Builds the Vite app in `root` into a temporary directory and serves it with `vite preview` on 127.0.0.1. */
export async function buildAndServe(root: string): Promise<ServedApp> {
  const outDir = await mkdtemp(join(tmpdir(), 'durable-rx-e2e-'));
  await build({ root, configFile: false, logLevel: 'warn', build: { outDir, emptyOutDir: true, target: 'es2022', minify: false } });
  const server = await preview({
    root, configFile: false, logLevel: 'warn', build: { outDir },
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false, allowedHosts: [INSECURE_HOST] },
  });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('vite preview did not listen on a TCP port');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    async close() {
      await server.close();
      await rm(outDir, { recursive: true, force: true });
    },
  };
}

/** Launches Debian's headless Chromium through playwright-core; it resolves {@link INSECURE_HOST} to 127.0.0.1. */
export function launchChromium(): Promise<Browser> {
  const args = [...chromiumArgs, `--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`];
  return chromium.launch({ executablePath: chromiumPath, args, headless: true });
}

/** Opens a page and fails loudly on its uncaught errors (they are printed with the page's label). */
export async function openPage(context: BrowserContext, url: string, label: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[${label}] page error:`, error));
  page.on('console', (message) => {
    if (message.type() === 'error') console.error(`[${label}] console.error:`, message.text());
  });
  await page.goto(url);
  await page.evaluate(() => window.e2e.ready);
  return page;
}

/**
 * Launches Debian's headless Chromium with a DevTools port and connects playwright-core to it over CDP with
 * `noDefaults`, for pages that `Page.setWebLifecycleState` can freeze: in the pages of a browser it launches (or of a
 * new context), Playwright turns on focus emulation, which Chromium counts as a capture of the page, so the page stays
 * visible and is never frozen (the command answers, and every timer of the page goes on firing). Pages open in the
 * browser's default context: one origin's storage for every page, so each test names a database of its own.
 * `close` ends the browser process and removes its profile.
 */
export async function launchFreezableChromium(): Promise<{ readonly context: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'durable-rx-e2e-profile-'));
  const args = [...chromiumArgs, '--headless', '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'];
  const child = spawn(chromiumPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await exited;
    await rm(profile, { recursive: true, force: true, maxRetries: 5 }); // Chromium may still be writing to it as it exits
  };
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`Chromium printed no DevTools endpoint in 60 s: ${text}`)), 60_000);
      const read = (chunk: Buffer): void => {
        text += chunk.toString();
        const found = /DevTools listening on (ws:\/\/\S+)/.exec(text);
        if (!found) return;
        clearTimeout(timer);
        child.stderr.off('data', read);
        child.stderr.resume(); // the rest is read and dropped, so that Chromium never blocks on a full pipe
        resolve(found[1]!);
      };
      child.stderr.on('data', read);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Chromium exited (${code}) before its DevTools endpoint: ${text}`));
      });
    });
    const browser = await chromium.connectOverCDP(endpoint, { noDefaults: true, timeout: 60_000 });
    const context = browser.contexts()[0];
    if (!context) throw new Error('Chromium over CDP has no default context');
    return {
      context,
      async close() {
        await browser.close().catch(() => undefined);
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
