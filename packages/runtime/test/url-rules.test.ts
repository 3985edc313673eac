import { describe, expect, it } from 'vitest';
import { requestBase, withoutTrailingSlashes } from '../src/model/validation.js';

describe('withoutTrailingSlashes', () => {
  it('drops every trailing slash and keeps the first character', () => {
    expect(withoutTrailingSlashes('/')).toBe('/');
    expect(withoutTrailingSlashes('///')).toBe('/');
    expect(withoutTrailingSlashes('')).toBe('');
    expect(withoutTrailingSlashes('/a///')).toBe('/a');
    expect(withoutTrailingSlashes('/a//b')).toBe('/a//b');
    expect(withoutTrailingSlashes('https://x.test/')).toBe('https://x.test');
  });
});

describe('requestBase', () => {
  it('is the http(s) origin of the request URL, and names the option to set for any other scheme', () => {
    expect(requestBase(new URL('https://x.test:8443/api/start?x=1'), 'baseUrl')).toBe('https://x.test:8443');
    expect(requestBase(new URL('http://[::1]:7071/start'), 'baseUrl')).toBe('http://[::1]:7071');
    expect(requestBase(new URL('https://例え.jp/start'), 'baseUrl')).toBe('https://xn--r8jz45g.jp');
    for (const url of ['app://bundle/start', 'file:///start', 'tauri://localhost/start']) {
      expect(() => requestBase(new URL(url), 'the handler\'s baseUrl option')).toThrow(expect.objectContaining({
        code: 'invalid-argument', message: expect.stringContaining('the handler\'s baseUrl option is required'),
      }));
    }
  });
});
