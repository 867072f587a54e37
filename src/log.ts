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
 * written at most once per intervalMs per key. A line carries `leftOut`: how many lines of its key
 * were held back since the last one written, itself included when it is one of them. At the end
 * of an interval the latest held-back line is written, so a burst's size is never lost.
 * Keys must come from a small set (a call site, a partition).
 */
export function throttledLog(
  log: Logger,
  intervalMs: number,
  now = Date.now,
  schedule = (run: () => void, delayMs: number) => void setTimeout(run, delayMs).unref(),
): (level: LogLevel, key: string, msg: string, fields?: Record<string, unknown>) => void {
  type Line = { level: LogLevel; msg: string; fields: Record<string, unknown> | undefined };
  const keys = new Map<string, { atMs: number; leftOut: number; latest?: Line; flushing: boolean }>();
  const write = (key: string, { level, msg, fields }: Line) => {
    const entry = keys.get(key);
    const nowMs = now();
    log[level](msg, entry?.leftOut ? { ...fields, leftOut: entry.leftOut, sinceMs: nowMs - entry.atMs } : fields);
    keys.set(key, { atMs: nowMs, leftOut: 0, flushing: entry?.flushing ?? false });
  };
  return (level, key, msg, fields) => {
    const entry = keys.get(key);
    if (!entry || now() - entry.atMs >= intervalMs) return write(key, { level, msg, fields });
    entry.leftOut++;
    entry.latest = { level, msg, fields };
    if (entry.flushing) return;
    entry.flushing = true;
    schedule(() => {
      const current = keys.get(key)!;
      current.flushing = false;
      if (current.leftOut > 0 && current.latest) write(key, current.latest);
    }, entry.atMs + intervalMs - now());
  };
}
