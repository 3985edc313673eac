import { describeSoak } from '@durable-rx/runtime/testing';
import { adapters, uniqueName } from '../shared/fixtures.js';

// The seeded soak with fault injection on both adapters over fake-indexeddb (`npm run soak` runs long soaks).
describeSoak('DexieStore', () => adapters.DexieStore(uniqueName('soak-dexie')));
describeSoak('KeyvalStore', () => adapters.KeyvalStore(uniqueName('soak-keyval')));
