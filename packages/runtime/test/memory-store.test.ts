import { describeStoreConformance } from '../src/testing/index.js';
import { MemoryStore } from '../src/store/memory-store.js';

describeStoreConformance('MemoryStore', () => new MemoryStore());
