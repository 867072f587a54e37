import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { throttledLog, type Logger } from '../../src/log.js';

function recordingLogger() {
  const lines: Array<[string, string, Record<string, unknown> | undefined]> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push([level, msg, fields]);
  const log: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
  return { log, lines };
}

test('a repeated line is written once per interval per key, then with how many were left out', () => {
  const { log, lines } = recordingLogger();
  let nowMs = 1_000;
  const logRepeated = throttledLog(log, 10_000, () => nowMs);
  logRepeated('warn', 'p0', 'failed', { n: 1 });
  logRepeated('warn', 'p0', 'failed', { n: 2 });
  logRepeated('warn', 'p1', 'failed', { n: 3 }); // another key: its own interval
  nowMs += 9_999;
  logRepeated('warn', 'p0', 'failed', { n: 4 });
  nowMs += 1;
  logRepeated('warn', 'p0', 'failed', { n: 5 });
  nowMs += 10_000;
  logRepeated('error', 'p0', 'failed', { n: 6 });
  assert.equal(lines, [
    ['warn', 'failed', { n: 1 }],
    ['warn', 'failed', { n: 3 }],
    ['warn', 'failed', { n: 5, leftOut: 2, sinceMs: 10_000 }],
    ['error', 'failed', { n: 6 }],
  ]);
});

test.run();
