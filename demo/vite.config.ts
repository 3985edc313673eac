import { defaultClientConditions, defineConfig } from 'vite';

// A plain static build: everything the page needs is bundled, so nothing is fetched after load (offline use).
// The `es2015` condition picks rxjs's ES2015 build instead of its ES5 build plus tslib (about 1.3 KB gzip less).
export default defineConfig({
  resolve: { conditions: ['es2015', ...defaultClientConditions] },
  build: { target: 'es2022', sourcemap: true },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
  server: { host: '127.0.0.1' },
});
