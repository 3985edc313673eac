import { describe, expect, it } from 'vitest';
import { remoteTargetOf } from '../src/app/remote-target.js';

/** `?server=` read by the rule every baseUrl surface applies: nothing the user typed is dropped silently. */
describe('remoteTargetOf', () => {
  it('reads the server as origin and path, without trailing slashes, and the key', () => {
    expect(remoteTargetOf('')).toBeUndefined();
    expect(remoteTargetOf(`?server=${encodeURIComponent('http://127.0.0.1:7071/api/')}&key=k`))
      .toEqual({ baseUrl: 'http://127.0.0.1:7071/api', key: 'k' });
  });

  it('refuses a server with a query, a fragment or credentials instead of dropping them', () => {
    for (const server of ['http://127.0.0.1:7071/?code=k', 'http://127.0.0.1:7071/#x', 'http://u:p@127.0.0.1:7071']) {
      expect(() => remoteTargetOf(`?server=${encodeURIComponent(server)}`), server).toThrow(/without query, fragment or credentials/);
    }
  });

  it('refuses a server that is not an http(s) URL', () => {
    expect(() => remoteTargetOf('?server=ftp://127.0.0.1')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => remoteTargetOf('?server=nowhere')).toThrow(/not a URL/);
  });
});
