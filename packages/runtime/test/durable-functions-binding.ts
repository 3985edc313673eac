import * as df from 'durable-functions';

/** The `durable-functions` (v3) DurableClient. */
export type DfClient = ReturnType<typeof df.getClient>;
type DfContext = Parameters<typeof df.getClient>[0];

/** Where a {@link dfClient}'s binding data points. */
export interface DfBinding {
  /** The server's URL. */
  readonly origin: string;
  /** The management API's base path on it (the 2.x webhook path or the 1.x extension path). */
  readonly basePath: string;
  readonly taskHub: string;
  /** The key, as the `code` the extension puts in every URL. */
  readonly key: string;
}

/** The binding data the Durable Functions extension hands to a `durableClient` input, pointing at `binding`. */
function bindingData({ origin, basePath, taskHub, key }: DfBinding): Record<string, unknown> {
  const base = `${origin}${basePath}`;
  const query = `taskHub=${taskHub}&connection=Storage&code=${key}`;
  const instance = `${base}/instances/INSTANCEID`;
  return {
    taskHubName: taskHub,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?${query}`,
      createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${query}`,
    },
    managementUrls: {
      id: 'INSTANCEID',
      statusQueryGetUri: `${instance}?${query}`,
      sendEventPostUri: `${instance}/raiseEvent/{eventName}?${query}`,
      terminatePostUri: `${instance}/terminate?reason={text}&${query}`,
      rewindPostUri: `${instance}/rewind?reason={text}&${query}`,
      purgeHistoryDeleteUri: `${instance}?${query}`,
      restartPostUri: `${instance}/restart?${query}`,
      suspendPostUri: `${instance}/suspend?reason={text}&${query}`,
      resumePostUri: `${instance}/resume?reason={text}&${query}`,
    },
    baseUrl: base,
    requiredQueryStringParameters: query,
  };
}

/**
 * `df.getClient` on a context that carries the binding data of `binding`, as a function invocation would. The client
 * rewrites every URL to localhost:7071 unless `WEBSITE_HOSTNAME` names the server; setting it is the caller's part.
 */
export function dfClient(binding: DfBinding): DfClient {
  const input = df.input.durableClient();
  const data = bindingData(binding);
  const context = { options: { extraInputs: [input] }, extraInputs: { get: () => data } } as unknown as DfContext;
  return df.getClient(context);
}
