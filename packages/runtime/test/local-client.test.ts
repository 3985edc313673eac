import { describeClientConformance } from '../src/testing/index.js';

describeClientConformance('local client', async (runtime) => ({ client: runtime.client, close: async () => {} }));
