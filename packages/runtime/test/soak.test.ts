import { MemoryStore } from '../src/index.js';
import { describeSoak } from '../src/testing/describe-soak.js';

describeSoak('MemoryStore', () => new MemoryStore());
