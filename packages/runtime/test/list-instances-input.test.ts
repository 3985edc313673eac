import { describe, expect, it } from 'vitest';
import { createClient, MemoryStore } from '../src/index.js';
import type { InstancePage, InstanceQuery } from '../src/store/store.js';

/** A MemoryStore that keeps the queries it was asked. */
class QueryRecordingStore extends MemoryStore {
  readonly queries: InstanceQuery[] = [];
  override queryInstances(query: InstanceQuery): Promise<InstancePage> {
    this.queries.push(query);
    return super.queryInstances(query);
  }
}

describe('a listing that shows no input', () => {
  it('tells the store so (showInput: false), so a store may leave the inputs (up to megabytes each) unread', async () => {
    const store = new QueryRecordingStore();
    const client = createClient({ store });
    await client.startNew('Orch', { input: 'x'.repeat(1000) });
    const hidden = await client.listInstances({ showInput: false });
    expect(hidden.instances[0]?.input).toBeUndefined();
    expect(store.queries.at(-1)).toMatchObject({ showInput: false });
    await client.getStatusBy({ showInput: false });
    expect(store.queries.at(-1)).toMatchObject({ showInput: false });
    // Shown (the default): the store is not told to leave them out.
    expect((await client.listInstances()).instances[0]?.input).toBe('x'.repeat(1000));
    expect(store.queries.at(-1)?.showInput).toBeUndefined();
  });
});
