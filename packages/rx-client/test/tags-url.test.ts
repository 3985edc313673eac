import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { KEY, openHarness, type Harness } from './harness.js';

/**
 * Tags travel in the start route's URL as JSON: a `"` or `\` there is escaped (`\"`), then percent-encoded (`%5C%22`),
 * six characters for one byte. A set of tags the shared rule takes must reach a real Node server (16 KiB of request line
 * and headers), so the rule counts such a character twice.
 */

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
});

/** `count` tags, each key `A"""…` of 128 characters and each value `\\\…` of `valueLength`. */
function quotedTags(count: number, valueLength: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [String.fromCharCode(0x41 + i).padEnd(128, '"'), '\\'.repeat(valueLength)]));
}

describe('tags of quotes and backslashes in the URL of a start through a real server', () => {
  it('refuses 4 KiB of them (8 KiB as JSON) on every client, and sends the most the rule takes', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    const twice = quotedTags(16, 128); // 4096 characters, 8176 bytes as JSON
    for (const each of [h.runtime.client, client]) {
      await expect(each.startNew('Echo', { instanceId: 'too-quoted', tags: twice })).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
      await expect(each.signalWithStart('WaitForEvents', { instanceId: 'too-quoted', eventName: 'Item', tags: twice }))
        .rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
    }
    expect(await h.runtime.client.getStatus('too-quoted')).toBeUndefined();
    const most = quotedTags(8, 128); // 8 * (1 + 127 * 2 + 128 * 2) = 4088 bytes as JSON
    const id = await client.startNew('Echo', { instanceId: 'quoted', input: 1, tags: most });
    expect((await client.getStatus(id))?.tags).toEqual(most);
    await client.signalWithStart('WaitForEvents', { instanceId: 'quoted-sws', input: 1, eventName: 'Item', eventData: 'a', tags: most });
    expect((await client.getStatus('quoted-sws'))?.tags).toEqual(most);
  });
});
