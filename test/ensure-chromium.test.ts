import { describe, expect, it } from 'vitest';
import { chromiumPlan } from '../scripts/ensure-chromium.mjs';

/** What `npm test`'s pretest decides about the browser, on a machine where `present` are the files that exist. */
function plan(chromiumPath: string | undefined, present: string[], { platform = 'linux', isRoot = true } = {}) {
  return chromiumPlan({ chromiumPath, exists: (path: string) => present.includes(path), platform, isRoot });
}

describe('ensure-chromium', () => {
  it('uses CHROMIUM_PATH when it exists, else /usr/bin/chromium', () => {
    expect(plan('/opt/chrome', ['/opt/chrome'])).toEqual({ action: 'ok', path: '/opt/chrome' });
    expect(plan(undefined, ['/usr/bin/chromium'])).toEqual({ action: 'ok', path: '/usr/bin/chromium' });
  });

  it('fails at once, naming the path, when CHROMIUM_PATH is set to a file that does not exist (no apt-get)', () => {
    // apt-get could run here, but it installs /usr/bin/chromium, never the path asked for.
    const result = plan('/opt/missing/chrome', ['/usr/bin/apt-get']);
    expect(result.action).toBe('fail');
    expect(result).toMatchObject({ message: expect.stringContaining('/opt/missing/chrome, which does not exist') });
    // Even when /usr/bin/chromium is there: the path that was asked for is the one used.
    expect(plan('/opt/missing/chrome', ['/usr/bin/chromium', '/usr/bin/apt-get']).action).toBe('fail');
  });

  it('installs Debian\'s chromium only without CHROMIUM_PATH, as root on Linux with apt-get', () => {
    expect(plan(undefined, ['/usr/bin/apt-get'])).toEqual({ action: 'install', path: '/usr/bin/chromium' });
    for (const facts of [{ isRoot: false }, { platform: 'darwin' }]) {
      expect(plan(undefined, ['/usr/bin/apt-get'], facts)).toMatchObject({ action: 'fail', message: expect.stringContaining('set CHROMIUM_PATH') });
    }
    expect(plan(undefined, []).action).toBe('fail');
  });
});
