import { createClient } from '@durable-rx/runtime';
import type { InstanceState, Store } from '@durable-rx/runtime/store-kit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ExecutionInputs, MAX_EXECUTION_INPUTS } from '../../src/internal/execution-inputs.js';
import { adapters, create, newInstance, T0, uniqueName, type AdapterName } from './fixtures.js';

// What a store handle keeps in memory of the inputs of the executions its worker met: bounded by count and by bytes,
// so that a tab that met many executions with inputs of a few megabytes does not hold all of them while they wait.
const MB = 1024 * 1024;
const e1 = { executionId: 'e1', createdTime: new Date(0) };
const e2 = { executionId: 'e2', createdTime: new Date(0) };

/** An input whose heap is about `mb` megabytes (one string of `mb / 2` million characters, shared by every call). */
function inputOf(mb: number): { readonly text: string } {
  return { text: 'x'.repeat((mb * MB) / 2) };
}

describe('ExecutionInputs', () => {
  it('keeps no more than 32 MB of inputs in all, the oldest going first', () => {
    const inputs = new ExecutionInputs();
    const text = inputOf(4).text;
    for (let i = 0; i < 20; i++) inputs.keep(`i${i}`, e1, { text }, false);
    expect(inputs.get('i0', e1)).toBeUndefined();
    expect(inputs.get('i19', e1)).toEqual({ text });
    const kept = Array.from({ length: 20 }, (_, i) => inputs.get(`i${i}`, e1)).filter((input) => input !== undefined);
    expect(kept.length).toBeGreaterThan(1);
    expect(kept.length * 4).toBeLessThanOrEqual(32);
  });

  it('does not keep an input larger than that alone: it is handed back as given, not frozen, and its steps still work', () => {
    const inputs = new ExecutionInputs();
    const small = inputs.keep('small', e1, { n: 1 }, false);
    const big = inputOf(40);
    expect(inputs.keep('big', e1, big, true)).toBe(big);
    expect(Object.isFrozen(big)).toBe(false);
    expect(inputs.get('big', e1)).toBeUndefined();
    expect(inputs.isKept(big)).toBe(false);
    // A next step of the execution gets its own input back; the small input kept before stays.
    const next = { ...big };
    expect(inputs.keep('big', e1, next, false)).toBe(next);
    expect(inputs.get('small', e1)).toBe(small);
  });

  it('keeps at most 100 instances, the oldest going first', () => {
    const inputs = new ExecutionInputs();
    for (let i = 0; i <= MAX_EXECUTION_INPUTS; i++) inputs.keep(`i${i}`, e1, { i }, false);
    expect(inputs.get('i0', e1)).toBeUndefined();
    expect(inputs.get('i1', e1)).toEqual({ i: 1 });
    expect(inputs.get(`i${MAX_EXECUTION_INPUTS}`, e1)).toEqual({ i: MAX_EXECUTION_INPUTS });
  });

  it('frees the bytes of an instance forgotten (it ended) or of an execution replaced by the next', () => {
    const inputs = new ExecutionInputs();
    const twenty = inputOf(20).text;
    const ten = inputOf(10).text;
    inputs.keep('a', e1, { text: twenty }, false);
    inputs.forget('a');
    inputs.keep('b', e1, { text: twenty }, false);
    inputs.keep('c', e1, { text: ten }, false);
    expect(inputs.get('c', e1)).toEqual({ text: ten });
    expect(inputs.get('b', e1)).toEqual({ text: twenty });
    inputs.keep('b', e2, { text: twenty }, false);
    expect(inputs.get('b', e1)).toBeUndefined();
    expect(inputs.get('b', e2)).toEqual({ text: twenty });
    expect(inputs.get('c', e1)).toEqual({ text: ten });
  });
});

// A purge forgets what a handle kept of the purged instances' inputs: an instance whose input a claim here kept, and
// that another tab ended without this handle hearing of it, would otherwise hold its input in this tab's memory until
// newer inputs pushed it out.
describe.each(Object.keys(adapters) as AdapterName[])('a purge forgets the purged instances\' kept inputs: %s', (adapter) => {
  const opened: Store[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  const purges: Record<string, (store: Store, ended: InstanceState) => Promise<number>> = {
    purgeInstance: (store, { instanceId }) => store.purgeInstance(instanceId),
    purgeInstanceSet: async (store, { instanceId, executionId, version }) => (await store.purgeInstanceSet([{ instanceId, executionId, version }])).instancesDeleted,
    purgeInstances: (store) => store.purgeInstances({ createdTimeFrom: new Date(0), runtimeStatus: ['Terminated'] }),
  };

  it.each(Object.keys(purges))('%s', async (purge) => {
    const name = uniqueName('purge-inputs');
    const here = adapters[adapter](name);
    // Another tab whose commits this handle does not hear (it went before posting them): a handle forgets the input of
    // an instance whose end it hears.
    vi.stubGlobal('BroadcastChannel', undefined);
    const elsewhere = adapters[adapter](name);
    vi.unstubAllGlobals();
    opened.push(here, elsewhere);
    const keep = vi.spyOn(ExecutionInputs.prototype, 'keep');
    await createClient({ store: here }).startNew('O', { instanceId: 'x', input: { items: [1, 2, 3] } });
    const item = await here.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() });
    expect(item?.state.input).toEqual({ items: [1, 2, 3] });
    const inputs = keep.mock.contexts.find((c): c is ExecutionInputs => c instanceof ExecutionInputs && c.get('x', item!.state) !== undefined);
    expect(inputs).toBeDefined();
    // The worker here gives the step up, and another tab's client ends the instance: this handle commits nothing of it.
    await here.abandonOrchestration('x', item!.lease.token);
    await createClient({ store: elsewhere }).terminate('x', 'ended in another tab');
    const ended = await here.getInstance('x');
    expect(ended?.runtimeStatus).toBe('Terminated');
    expect(inputs!.get('x', item!.state)).toBeDefined();
    expect(await purges[purge]!(here, ended!)).toBe(1);
    expect(inputs!.get('x', item!.state)).toBeUndefined();
  });
});

// A caller's own `newId` may repeat execution ids (outside its contract). An input kept of one run of an id is not
// taken for a later run with the same execution id that another tab created while this handle did not hear of it.
describe.each(Object.keys(adapters) as AdapterName[])('an input kept of an execution id that a later run repeats: %s', (adapter) => {
  const opened: Store[] = [];
  afterEach(async () => {
    vi.unstubAllGlobals();
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  it('is not handed out for the later run (a read and a claim read its record)', async () => {
    const name = uniqueName('repeated-execution-id');
    const here = adapters[adapter](name);
    vi.stubGlobal('BroadcastChannel', undefined);
    const elsewhere = adapters[adapter](name); // a tab this handle does not hear
    vi.unstubAllGlobals();
    opened.push(here, elsewhere);
    await create(here, newInstance('x', { run: 1 }));
    const item = await here.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: T0 });
    expect(item?.state.input).toEqual({ run: 1 }); // kept here from now on
    await here.abandonOrchestration('x', item!.lease.token);
    // The other tab ends and purges the run, and starts the id again with the same execution id, a second later.
    await createClient({ store: elsewhere }).terminate('x', 'over');
    expect(await elsewhere.purgeInstance('x')).toBe(1);
    const again = newInstance('x', { run: 2 });
    const later = new Date(T0.getTime() + 1000);
    await create(elsewhere, { ...again, state: { ...again.state, createdTime: later, lastUpdatedTime: later } });
    expect((await here.getInstance('x'))?.input).toEqual({ run: 2 });
    const claimed = await here.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date(later.getTime() + 1) });
    expect(claimed?.state.executionId).toBe('exec-1');
    expect(claimed?.state.input).toEqual({ run: 2 });
  });
});
