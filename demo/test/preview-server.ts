import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { preview } from 'vite';

/** The demo package's folder. */
export const demoRoot = fileURLToPath(new URL('..', import.meta.url));

/** A running `vite preview` of the built demo. */
export interface PreviewHandle {
  /** e.g. `http://127.0.0.1:41234/` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `dist/` with `vite preview` on 127.0.0.1 and a free port. The build is not made here: `npm test` runs
 * after `npm run build` (turbo's test task depends on build).
 */
export async function startPreview(): Promise<PreviewHandle> {
  if (!existsSync(new URL('../dist/index.html', import.meta.url))) {
    throw new Error('demo/dist is missing: run `npm run build -w demo` (turbo runs it before the tests)');
  }
  const server = await preview({
    root: demoRoot,
    configFile: false,
    logLevel: 'silent',
    preview: { host: '127.0.0.1', port: 0, strictPort: true, open: false },
  });
  const address = server.httpServer.address() as AddressInfo | null;
  if (!address) throw new Error('vite preview is not listening');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () => server.close(),
  };
}
