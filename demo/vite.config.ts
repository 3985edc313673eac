import { defineConfig } from 'vite';

// A plain static build: everything the page needs is bundled, so nothing is fetched after load (offline use).
export default defineConfig({
  build: { target: 'es2022', sourcemap: true },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
  server: { host: '127.0.0.1' },
});
