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
