import type { LogLevel } from './config.js';

const rank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
let threshold: LogLevel = (process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info';

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export type Logger = Record<LogLevel, (msg: string, fields?: Record<string, unknown>) => void>;

/** JSON lines on stderr: one object per event, easy to grep and to ship. */
export function logger(component: string): Logger {
  const write = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (rank[level] > rank[threshold]) return;
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...fields })}\n`);
  };
  return { error: write('error'), warn: write('warn'), info: write('info'), debug: write('debug') };
}

/**
 * A log line that may repeat many times a second (per request, per retry during an outage):
 * written at most once per intervalMs per key, with how many were left out since the last one.
 * Keys must come from a small set (a call site, a partition).
 */
export function throttledLog(log: Logger, intervalMs: number, now = Date.now): (level: LogLevel, key: string, msg: string, fields?: Record<string, unknown>) => void {
  const last = new Map<string, { atMs: number; leftOut: number }>();
  return (level, key, msg, fields) => {
    const nowMs = now();
    const entry = last.get(key);
    if (entry && nowMs - entry.atMs < intervalMs) {
      entry.leftOut++;
      return;
    }
    log[level](msg, entry?.leftOut ? { ...fields, leftOut: entry.leftOut, sinceMs: nowMs - entry.atMs } : fields);
    last.set(key, { atMs: nowMs, leftOut: 0 });
  };
}
