/**
 * The worker's logger: one JSON object per line on stdout (time, level, msg, then the SDK's
 * metadata: workflowId, runId, workflowType, activityType, attempt, taskQueue, ...), so a log
 * pipeline can index runs by workflow and run ID. ETCD_STRETCH_LOG_FORMAT=text keeps the SDK's
 * human-readable lines.
 */
import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

export function logLevel(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const value = (env.LOG_LEVEL ?? 'INFO').toUpperCase();
  if (!(LEVELS as readonly string[]).includes(value))
    throw new Error(`LOG_LEVEL=${env.LOG_LEVEL}: expected one of ${LEVELS.join(', ')}`);
  return value as LogLevel;
}

/** Errors become {type, message, stack}; bigints become strings; everything else as JSON has it. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const failureType = (value as { type?: unknown }).type;
    return {
      error: value.name,
      ...(typeof failureType === 'string' ? { type: failureType } : {}),
      message: value.message,
      ...(value.cause ? { cause: value.cause } : {}),
      stack: value.stack,
    };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

export function jsonLine(entry: LogEntry): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  return JSON.stringify({ time, level: entry.level, msg: entry.message, ...entry.meta }, replacer);
}

export function createWorkerLogger(
  env: NodeJS.ProcessEnv = process.env,
  write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
): DefaultLogger {
  const level = logLevel(env);
  const format = env.ETCD_STRETCH_LOG_FORMAT ?? 'json';
  if (format === 'text') return new DefaultLogger(level);
  if (format !== 'json') throw new Error(`ETCD_STRETCH_LOG_FORMAT=${format}: expected json or text`);
  return new DefaultLogger(level, (entry) => write(jsonLine(entry)));
}
