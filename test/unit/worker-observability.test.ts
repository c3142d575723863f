/** The worker's log lines and metrics settings (the worker process itself: test/e2e/operator.test.ts). */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { createWorkerLogger, jsonLine, logLevel } from '../../worker/json-logger.js';
import { DEFAULT_METRICS_ADDRESS, metricsAddress } from '../../worker/metrics.js';

describe('JSON log lines', () => {
  it('one object per line: time, level, msg and the SDK metadata; errors keep type and message', () => {
    const line = jsonLine({
      level: 'WARN',
      message: 'Activity failed',
      timestampNanos: 1_700_000_000_123_000_000n,
      meta: {
        workflowId: 'w1',
        runId: 'r1',
        activityType: 'addLearner',
        error: ApplicationFailure.nonRetryable('safety guard refused: add learner', 'LearnerAlreadyPresent'),
        big: 12n,
      },
    });
    expect(line).not.toContain('\n');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed).toMatchObject({
      time: '2023-11-14T22:13:20.123Z',
      level: 'WARN',
      msg: 'Activity failed',
      workflowId: 'w1',
      runId: 'r1',
      activityType: 'addLearner',
      error: { type: 'LearnerAlreadyPresent', message: 'safety guard refused: add learner' },
      big: '12',
    });
  });

  it('filters by LOG_LEVEL and refuses unknown levels and formats by name', () => {
    const lines: string[] = [];
    const logger = createWorkerLogger({ LOG_LEVEL: 'warn' }, (l) => lines.push(l));
    logger.info('not shown');
    logger.warn('shown', { workflowId: 'w' });
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['shown']);
    expect(logLevel({})).toBe('INFO');
    expect(() => logLevel({ LOG_LEVEL: 'verbose' })).toThrow(
      'LOG_LEVEL=verbose: expected one of TRACE, DEBUG, INFO, WARN, ERROR',
    );
    expect(() => createWorkerLogger({ ETCD_STRETCH_LOG_FORMAT: 'xml' })).toThrow(
      'ETCD_STRETCH_LOG_FORMAT=xml: expected json or text',
    );
  });
});

describe('metrics address', () => {
  it('defaults to loopback, can be moved or turned off, and names a bad value', () => {
    expect(metricsAddress({})).toBe(DEFAULT_METRICS_ADDRESS);
    expect(metricsAddress({ ETCD_STRETCH_METRICS_ADDRESS: '0.0.0.0:9464' })).toBe('0.0.0.0:9464');
    expect(metricsAddress({ ETCD_STRETCH_METRICS_ADDRESS: 'off' })).toBeUndefined();
    expect(() => metricsAddress({ ETCD_STRETCH_METRICS_ADDRESS: '9464' })).toThrow(
      'ETCD_STRETCH_METRICS_ADDRESS=9464: expected host:port (e.g. 0.0.0.0:9464) or "off"',
    );
  });
});
