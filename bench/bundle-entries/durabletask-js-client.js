// Reference only: the durabletask-js client (gRPC to a sidecar). It needs Node's http2, so it cannot run in a page.
import { TaskHubGrpcClient } from '@microsoft/durabletask-js';
import { hello } from './shared.js';

const client = new TaskHubGrpcClient({ hostAddress: 'localhost:4001' });
const id = await client.scheduleNewOrchestration(Object.keys(hello.orchestrators)[0]);
document.body.append(String((await client.getOrchestrationState(id))?.serializedCustomStatus));
