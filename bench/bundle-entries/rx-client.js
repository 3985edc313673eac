// A UI that watches orchestrations running on a server, over HTTP + Server-Sent Events.
import { createRemoteClient } from '@durable-rx/rx-client';
import { hello } from './shared.js';

const client = createRemoteClient({ baseUrl: location.origin, key: 'key' });
const id = await client.startNew(Object.keys(hello.orchestrators)[0]);
client.customStatus$(id).subscribe((s) => document.body.append(String(s)));
