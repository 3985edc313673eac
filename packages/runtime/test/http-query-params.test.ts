import { beforeEach, describe, expect, it } from 'vitest';
import { parseDate, QueryParams } from '../src/http/query-params.js';
import type { Runtime } from '../src/runtime/create-runtime.js';
import { echo, waitForEvents } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';
import { servedRuntimes } from './served-runtimes.js';

/**
 * Query parameters of the HTTP API, against a real server on 127.0.0.1: names are read in any case (as Durable
 * Functions reads them), a single-valued parameter given twice is refused, and dates name real instants in UTC.
 * Each malformed request is refused with a typed 400 and changes nothing.
 */

const KEY = 'query-key';

const serving = servedRuntimes(KEY);
let runtime: Runtime;
let base: string;
/** When the one instance `done` was created (ms precision, as stored). */
let created: Date;

beforeEach(async () => {
  ({ runtime, base } = await serving.open({ orchestrators: { Echo: echo, WaitForEvents: waitForEvents } }));
  await runtime.client.startNew('Echo', { instanceId: 'done', input: 'x' });
  created = (await runtime.client.waitForCompletion('done', SETTLED)).createdTime;
  await runtime.client.startNew('WaitForEvents', { instanceId: 'ended', input: 1 });
  await runtime.client.terminate('ended', 'stop');
  expect((await runtime.client.waitForCompletion('ended', SETTLED)).runtimeStatus).toBe('Terminated');
});

function call(path: string, method = 'GET'): Promise<Response> {
  return fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${KEY}` } });
}

async function errorOf(pending: Promise<Response>): Promise<[number, string]> {
  const response = await pending;
  const body = (await response.json()) as { code: string };
  return [response.status, body.code];
}

async function ids(pending: Promise<Response>): Promise<string[]> {
  const response = await pending;
  expect(response.status).toBe(200);
  return ((await response.json()) as { instanceId: string }[]).map((s) => s.instanceId).sort();
}

const remaining = async () => (await runtime.client.getStatusAll()).map((s) => s.instanceId).sort();

describe('query parameter names', () => {
  it('are read in any case, as Durable Functions reads them: a purge by runtimestatus deletes only that status', async () => {
    const purged = await call('/instances?createdtimefrom=2000-01-01&RUNTIMESTATUS=Terminated', 'DELETE');
    expect(purged.status).toBe(200);
    expect(await purged.json()).toEqual({ instancesDeleted: 1 });
    expect(await remaining()).toEqual(['done']);
  });

  it('are read in any case on the list and status routes', async () => {
    expect(await ids(call('/instances?RuntimeStatus=Completed'))).toEqual(['done']);
    const hidden = (await (await call('/instances?ShowInput=false&InstanceIdPrefix=do')).json()) as { input: unknown }[];
    expect(hidden).toEqual([expect.objectContaining({ instanceId: 'done', input: null })]);
    const status = (await (await call('/instances/done?SHOWHISTORY=true')).json()) as { historyEvents?: unknown[] };
    expect(status.historyEvents?.length).toBeGreaterThan(0);
    expect(await errorOf(call('/instances?TOP=zero'))).toEqual([400, 'invalid-argument']);
  });
});

describe('a purge by filter', () => {
  it('reads a status name in any case, which Durable Functions would drop (a case-sensitive enum parse) and purge every status', async () => {
    const purged = await call('/instances?createdTimeFrom=2000-01-01&runtimeStatus=terminated', 'DELETE');
    expect(await purged.json()).toEqual({ instancesDeleted: 1 });
    expect(await remaining()).toEqual(['done']);
  });

  it('refuses instanceIdPrefix, which it cannot apply, rather than purge every instance in the time range', async () => {
    expect(await errorOf(call('/instances?createdTimeFrom=2000-01-01&instanceIdPrefix=do', 'DELETE'))).toEqual([400, 'invalid-argument']);
    await expect(runtime.client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), instanceIdPrefix: 'do' } as never))
      .rejects.toMatchObject({ code: 'invalid-argument' });
    expect(await remaining()).toEqual(['done', 'ended']);
  });
});

describe('a purge by filter with a parameter it does not read', () => {
  // Durable Functions ignores it, so the purge runs without the filter meant: every finished instance of the range.
  it('is refused with 400 naming it, and purges nothing: a misspelled filter or a blank in a name', async () => {
    for (const query of ['runtimeStatuses=Terminated', 'runtimeState=Terminated', 'createdTimeTo%20=2000-01-02', 'to=2000-01-02']) {
      const response = await call(`/instances?createdTimeFrom=2000-01-01&${query}`, 'DELETE');
      const body = (await response.json()) as { code: string; message: string };
      expect([response.status, body.code], query).toEqual([400, 'invalid-argument']);
      expect(body.message, query).toContain(JSON.stringify(decodeURIComponent(query.split('=')[0]!)));
      expect(await remaining(), query).toEqual(['done', 'ended']);
    }
  });

  it('names in its message only the filters the purge applies, not instanceIdPrefix, which it refuses', async () => {
    const response = await call('/instances?createdTimeFrom=2026-01-01&top=5', 'DELETE');
    const body = (await response.json()) as { code: string; message: string };
    expect([response.status, body.code]).toEqual([400, 'invalid-argument']);
    expect(body.message).toBe('"top" is not a parameter of this route (it knows createdTimeFrom, createdTimeTo, runtimeStatus, name, tags)');
    const prefixed = await call('/instances?createdTimeFrom=2026-01-01&instanceIdPrefix=do', 'DELETE');
    expect(((await prefixed.json()) as { message: string }).message).toContain('instanceIdPrefix is not a purge filter');
    expect(await remaining()).toEqual(['done', 'ended']);
  });

  it('refuses axios\'s array form runtimeStatus[]=Failed (and runtimeStatus[0]) with a hint, and purges nothing', async () => {
    for (const name of ['runtimeStatus[]', 'runtimeStatus%5B%5D', 'runtimeStatus[0]']) {
      const response = await call(`/instances?createdTimeFrom=2000-01-01&${name}=Terminated`, 'DELETE');
      const body = (await response.json()) as { code: string; message: string };
      expect([response.status, body.code], name).toEqual([400, 'invalid-argument']);
      expect(body.message, name).toContain('runtimeStatus=A,B');
    }
    expect(await remaining()).toEqual(['done', 'ended']);
  });

  it('takes what Durable Functions clients send: taskHub, connection, connectionName (Python) and the key as code', async () => {
    const url = `${base}/instances?taskHub=hub&Connection=Storage&connectionName=Storage&code=${KEY}`
      + '&createdTimeFrom=2000-01-01&runtimeStatus=Terminated';
    const purged = await fetch(url, { method: 'DELETE' });
    expect(purged.status).toBe(200);
    expect(await purged.json()).toEqual({ instancesDeleted: 1 });
    expect(await remaining()).toEqual(['done']);
  });

  it('leaves the list route reading as Durable Functions: an unknown parameter there is ignored', async () => {
    expect(await ids(call('/instances?runtimeStatuses=Completed&showHistory=true&_=1'))).toEqual(['done', 'ended']);
  });
});

describe('a single-valued parameter given twice', () => {
  it('is refused with 400, in any case, and changes nothing', async () => {
    expect(await errorOf(call('/instances?top=1&top=1000'))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/instances/done?showHistory=true&showhistory=false'))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/instances/done?format=native&format=native'))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/instances?createdTimeFrom=2000-01-01&createdTimeFrom=2999-01-01', 'DELETE'))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/instances/ended/terminate?reason=a&reason=b', 'POST'))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/orchestrators/Echo/twice?timeout=1&Timeout=2', 'POST'))).toEqual([400, 'invalid-argument']);
    expect(await remaining()).toEqual(['done', 'ended']);
  });

  it('is accepted for runtimeStatus, a list', async () => {
    expect(await ids(call('/instances?runtimeStatus=Completed&runtimestatus=Terminated'))).toEqual(['done', 'ended']);
  });
});

describe('a parameter given without a value', () => {
  // Durable Functions reads an empty value as the parameter left out (its parsers fail on "" and keep the default), so
  // a form or URL template that sends its empty fields (`?createdTimeFrom=&top=`) asks for the defaults.
  it('is the parameter left out on the list and status routes', async () => {
    const empty = 'createdTimeFrom=&createdTimeTo=&runtimeStatus=&instanceIdPrefix=&showInput=&top=&format=';
    expect(await ids(call(`/instances?${empty}`))).toEqual(['done', 'ended']);
    const status = await call('/instances/done?showHistory=&showHistoryOutput=&showInput=&returnInternalServerErrorOnFailure=&format=');
    expect(status.status).toBe(200);
    const body = (await status.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ instanceId: 'done', input: 'x', output: 'x' });
    expect(body).not.toHaveProperty('historyEvents');
  });

  it('is the parameter left out on start, restart and purge: no wait, a new id, no upper bound; a purge still needs createdTimeFrom', async () => {
    const started = await call('/orchestrators/Echo/w?timeout=&pollingInterval=&version=', 'POST');
    expect(started.status).toBe(202);
    expect(((await started.json()) as { id: string }).id).toBe('w');
    const restarted = await call('/instances/done/restart?restartWithNewInstanceId=&timeout=', 'POST');
    expect(restarted.status).toBe(202);
    expect(((await restarted.json()) as { id: string }).id).not.toBe('done');
    expect(await errorOf(call('/instances?createdTimeFrom=&runtimeStatus=Terminated', 'DELETE'))).toEqual([400, 'invalid-argument']);
    // An empty instanceIdPrefix too: no prefix, which narrows nothing, so nothing is widened by leaving it out.
    const purged = await call('/instances?createdTimeFrom=2000-01-01&createdTimeTo=&runtimeStatus=Terminated&instanceIdPrefix=', 'DELETE');
    expect(purged.status).toBe(200);
    expect(await purged.json()).toEqual({ instancesDeleted: 1 });
  });

  it('keeps an empty reason, a string: terminate?reason= ends the instance with the reason ""', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'quiet', input: 1 });
    expect((await call('/instances/quiet/terminate?reason=', 'POST')).status).toBe(202);
    expect(await runtime.client.waitForCompletion('quiet', SETTLED)).toMatchObject({ runtimeStatus: 'Terminated', output: '' });
  });
});

describe('dates', () => {
  it('are refused (400) when the day or time does not exist, never rolled over into another date', async () => {
    for (const bad of ['2024-02-30', '2023-02-29T00:00:00Z', '2024-04-31T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T10:60:00Z',
      '2024-13-01', '2024-01-01T00:00:00 01:00', '2024-01-01  00:00:00', '2024-01-01T00:00:00+24:00', '2024-01-01Tnoon',
      '+275760-09-13T00:00:00.001Z', '+275760-09-13T00:00:00-00:01', '-271821-04-19T23:59:59.999Z', '-000000-01-01', '+10000-01-01']) {
      expect(await errorOf(call(`/instances?createdTimeFrom=${encodeURIComponent(bad)}`)), bad).toEqual([400, 'invalid-argument']);
      expect(await errorOf(call(`/instances?createdTimeFrom=${encodeURIComponent(bad)}`, 'DELETE')), bad).toEqual([400, 'invalid-argument']);
    }
    expect(await remaining()).toEqual(['done', 'ended']);
    expect(await ids(call('/instances?createdTimeFrom=2024-02-29'))).toEqual(['done', 'ended']);
  });

  it('read a year of 1 to 3 digits as padded with zeros, as Durable Functions (Python\'s strftime writes datetime.min as 1-01-01)', async () => {
    for (const early of ['1-01-01T00:00:00.000000Z', '1-01-01', '10-01-01T00:00:00Z', '999-12-31T23:59:59Z', '0001-01-01T00:00:00Z']) {
      expect(await ids(call(`/instances?createdTimeFrom=${early}`)), early).toEqual(['done', 'ended']);
      expect(await ids(call(`/instances?createdTimeTo=${early}`)), early).toEqual([]);
    }
    expect(await errorOf(call('/instances?createdTimeFrom=1-1-01'))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/instances?createdTimeFrom=-1-01-01'))).toEqual([400, 'invalid-argument']);
  });

  it('read a year before 0000 or after 9999 as toISOString writes it (a sign and six digits), up to the last day a Date holds', async () => {
    const parsed = (d: string) => parseDate(new QueryParams(new URLSearchParams({ d })), 'd', 'down')?.getTime();
    for (const time of [8.64e15, -8.64e15, Date.UTC(10_000, 0, 1), Date.UTC(-1, 0, 1)]) {
      expect(parsed(new Date(time).toISOString()), new Date(time).toISOString()).toBe(time);
    }
    expect(parsed('+000000-01-01')).toBe(parsed('0000-01-01'));
    expect(await ids(call(`/instances?createdTimeTo=${encodeURIComponent(new Date(8.64e15).toISOString())}`))).toEqual(['done', 'ended']);
    expect(await ids(call(`/instances?createdTimeFrom=${encodeURIComponent(new Date(-8.64e15).toISOString())}`))).toEqual(['done', 'ended']);
    expect(await ids(call(`/instances?createdTimeFrom=${encodeURIComponent('+010000-01-01T00:00:00Z')}`))).toEqual([]);
  });

  it('read a year of 1 to 3 digits as that year, never as 19xx or 20xx', () => {
    const parsed = (d: string) => parseDate(new QueryParams(new URLSearchParams({ d })), 'd', 'down')?.toISOString();
    expect(parsed('1-01-01')).toBe(new Date('0001-01-01T00:00:00Z').toISOString());
    expect(parsed('1-01-01T00:00:00.000000Z')).toBe('0001-01-01T00:00:00.000Z');
    expect(parsed('10-01-01T00:00:00Z')).toBe('0010-01-01T00:00:00.000Z');
    expect(parsed('99-06-30')).toBe('0099-06-30T00:00:00.000Z');
    expect(parsed('999-12-31T23:59:59Z')).toBe('0999-12-31T23:59:59.000Z');
  });

  it('read a time without a zone as UTC, whatever the server\'s time zone', async () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York'; // UTC-5 or -4: a local reading would move every bound by hours
    try {
      expect(new Date('2024-01-01T00:00:00').getTimezoneOffset()).toBe(300); // the zone took effect
      const at = (date: Date) => date.toISOString().slice(0, -1); // without the Z
      expect(await ids(call(`/instances?createdTimeFrom=${at(created)}&instanceIdPrefix=done`))).toEqual(['done']);
      expect(await ids(call(`/instances?createdTimeTo=${at(new Date(created.getTime() - 1))}&instanceIdPrefix=done`))).toEqual([]);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('read a date and time separated by a space, as Python\'s str(datetime) writes them (requests\' params=), and Durable Functions\' DateTime.TryParse reads them', async () => {
    // `requests.get(url, params={'createdTimeFrom': dt})` sends `str(dt)`: `2024-01-01 12:00:00.123000+00:00`, or without
    // a zone for a naive datetime, form-encoded (the space as `+`, the zone's `+` as `%2B`), as URLSearchParams encodes it.
    const str = (date: Date, zone: string) => `${date.toISOString().slice(0, -1).replace('T', ' ')}000${zone}`;
    const query = (params: Record<string, string>) => new URLSearchParams(params).toString();
    for (const zone of ['+00:00', '']) {
      const before = str(new Date(created.getTime() - 1), zone);
      expect(await ids(call(`/instances?${query({ createdTimeFrom: str(created, zone), instanceIdPrefix: 'done' })}`)), zone).toEqual(['done']);
      expect(await ids(call(`/instances?${query({ createdTimeTo: before, instanceIdPrefix: 'done' })}`)), zone).toEqual([]);
    }
    const purged = await call(`/instances?${query({ createdTimeFrom: str(created, '+00:00'), createdTimeTo: str(created, '+00:00'), runtimeStatus: 'Completed' })}`, 'DELETE');
    expect([purged.status, await purged.json()]).toEqual([200, { instancesDeleted: 1 }]);
    expect(await remaining()).toEqual(['ended']);
  });

  it('read a zone offset (with + sent as %2B)', async () => {
    const tokyo = (date: Date) => `${new Date(date.getTime() + 9 * 3_600_000).toISOString().slice(0, -1)}%2B09:00`;
    expect(await ids(call(`/instances?createdTimeFrom=${tokyo(created)}&instanceIdPrefix=done`))).toEqual(['done']);
    expect(await ids(call(`/instances?createdTimeTo=${tokyo(new Date(created.getTime() - 1))}&instanceIdPrefix=done`))).toEqual([]);
  });
});

describe('a bound with digits below the millisecond', () => {
  // Instances are created at whole milliseconds; the Python client sends microseconds (`.%fZ`), Durable Functions
  // compares 100 ns ticks. A bound just after an instance's creation must not take it in, nor purge it.
  const justAfter = (date: Date) => `${date.toISOString().slice(0, -1)}0001Z`; // 100 ns later
  const justBefore = (date: Date) => `${new Date(date.getTime() - 1).toISOString().slice(0, -1)}9999Z`; // 100 ns earlier

  it('createdTimeFrom just after the creation leaves the instance out of lists and purges', async () => {
    expect(await ids(call(`/instances?createdTimeFrom=${justAfter(created)}&instanceIdPrefix=done`))).toEqual([]);
    expect(await ids(call(`/instances?createdTimeFrom=${justBefore(created)}&instanceIdPrefix=done`))).toEqual(['done']);
    const purged = await call(`/instances?createdTimeFrom=${justAfter(created)}&createdTimeTo=${justAfter(created)}`, 'DELETE');
    expect(purged.status).toBe(404);
    await purged.body?.cancel();
    expect(await remaining()).toEqual(['done', 'ended']);
  });

  it('createdTimeTo just before the creation leaves the instance out; just after takes it in', async () => {
    expect(await ids(call(`/instances?createdTimeTo=${justBefore(created)}&instanceIdPrefix=done`))).toEqual([]);
    expect(await ids(call(`/instances?createdTimeTo=${justAfter(created)}&instanceIdPrefix=done`))).toEqual(['done']);
  });

  it('is read to the millisecond: up for createdTimeFrom, down for createdTimeTo', () => {
    const parsed = (name: string, d: string) => parseDate(new QueryParams(new URLSearchParams({ [name]: d })), name, name === 'createdTimeFrom' ? 'up' : 'down')?.toISOString();
    expect(parsed('createdTimeFrom', '2024-01-01T00:00:00.1230001Z')).toBe('2024-01-01T00:00:00.124Z');
    expect(parsed('createdTimeFrom', '2024-01-01T00:00:00.123000Z')).toBe('2024-01-01T00:00:00.123Z');
    expect(parsed('createdTimeFrom', '2024-01-01T23:59:59.9999+01:00')).toBe('2024-01-01T23:00:00.000Z');
    expect(parsed('createdTimeTo', '2024-01-01T00:00:00.1239999Z')).toBe('2024-01-01T00:00:00.123Z');
  });
});

describe('timeout and pollingInterval', () => {
  it('timeout is decimal seconds: hex, exponents, signs and blanks are refused and start nothing', async () => {
    // Above maxWaitSeconds (300 by default) too, where Durable Functions has no cap.
    for (const bad of ['0x1', '1e1', '+1', '%201', 'Infinity', '300.5']) {
      expect(await errorOf(call(`/orchestrators/Echo/w?timeout=${bad}`, 'POST')), bad).toEqual([400, 'invalid-argument']);
    }
    expect(await remaining()).toEqual(['done', 'ended']);
    const waited = await call('/orchestrators/Echo/w?timeout=30.5&pollingInterval=.5', 'POST');
    expect(waited.status).toBe(200);
    expect(await waited.json()).toBeNull();
  });

  it('pollingInterval is ignored whatever its value, as Durable Functions ignores one it cannot parse (its own URL template leaves {intervalInSeconds})', async () => {
    for (const [i, interval] of ['%7BintervalInSeconds%7D', '{intervalInSeconds}', 'abc', '-1', '1&pollingInterval=2'].entries()) {
      const waited = await call(`/orchestrators/Echo/p${i}?timeout=30&pollingInterval=${interval}`, 'POST');
      expect(waited.status, interval).toBe(200);
      expect(await waited.json()).toBeNull();
    }
  });
});
