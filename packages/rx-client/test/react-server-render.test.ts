import { createClient, MemoryStore } from '@durable-rx/runtime';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { useCustomStatus, useHistory, useStatus } from '../src/react/index.js';

describe('React hooks rendered on a server', () => {
  it('render a hook given no id as not loading: a server render never subscribes, so it must know without', async () => {
    const store = new MemoryStore();
    const client = createClient({ store });
    function View() {
      const states = [useStatus(client, undefined), useCustomStatus(client, undefined), useHistory(client, undefined)];
      return createElement('p', null, states.map((s) => `${s.loading}/${String(s.value)}/${String(s.error)}`).join('|'));
    }
    try {
      expect(renderToString(createElement(View))).toBe('<p>false/undefined/undefined|false/undefined/undefined|false/undefined/undefined</p>');
    } finally {
      await store.close();
    }
  });
});
