import { describe, expect, it } from 'vitest';
import { guardedLogger } from '../src/store-kit/index.js';

describe('guardedLogger (store-kit: a store wraps the logger it is given once)', () => {
  it('passes every report on, with its details', () => {
    const reports: unknown[][] = [];
    const logger = guardedLogger({ warn: (...args) => void reports.push(['warn', ...args]), error: (...args) => void reports.push(['error', ...args]) });
    const cause = new Error('lost position');
    logger.warn('retrying', cause);
    logger.error('resync failed', cause);
    expect(reports).toEqual([['warn', 'retrying', cause], ['error', 'resync failed', cause]]);
  });

  it('never throws, so the failure handler that reports goes on (arms its retry) and later reports still arrive', () => {
    let calls = 0;
    let broken = true;
    const logger = guardedLogger({
      warn: () => { calls++; if (broken) throw new Error('log stream closed'); },
      error: () => { calls++; if (broken) throw new Error('log stream closed'); },
    });
    let retryArmed = false;
    const onFailure = () => {
      logger.error('re-reading after a lost position failed; retrying');
      retryArmed = true;
    };
    expect(onFailure).not.toThrow();
    expect(() => logger.warn('clock skew')).not.toThrow();
    expect(retryArmed).toBe(true);
    broken = false;
    logger.error('recovered');
    expect(calls).toBe(3);
  });
});
