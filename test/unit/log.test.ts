import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { throttledLog, type Logger } from '../../src/log.js';

function recordingLogger() {
  const lines: Array<[string, string, Record<string, unknown> | undefined]> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push([level, msg, fields]);
  const log: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
  return { log, lines };
}

test('a repeated line is written once per interval per key; the held-back ones are counted, and the latest is written when its interval ends', () => {
  const { log, lines } = recordingLogger();
  let nowMs = 1_000;
  const due: Array<{ atMs: number; run: () => void }> = [];
  const logRepeated = throttledLog(log, 10_000, () => nowMs, (run, delayMs) => void due.push({ atMs: nowMs + delayMs, run }));
  const advanceTo = (atMs: number) => {
    nowMs = atMs;
    for (const timer of due.splice(0).sort((a, b) => a.atMs - b.atMs)) {
      if (timer.atMs <= atMs) timer.run();
      else due.push(timer);
    }
  };
  logRepeated('warn', 'p0', 'failed', { n: 1 });
  logRepeated('warn', 'p0', 'failed', { n: 2 });
  logRepeated('warn', 'p1', 'failed', { n: 3 }); // another key: its own interval
  advanceTo(10_999);
  logRepeated('warn', 'p0', 'failed', { n: 4 });
  assert.equal(lines.length, 2, 'held back within the interval');
  advanceTo(11_000); // the end of p0's interval: its latest held-back line, counting both
  advanceTo(11_500);
  logRepeated('warn', 'p0', 'failed', { n: 5 }); // within the interval the flush began
  advanceTo(21_000);
  advanceTo(40_000);
  logRepeated('error', 'p0', 'failed', { n: 6 });
  assert.equal(lines, [
    ['warn', 'failed', { n: 1 }],
    ['warn', 'failed', { n: 3 }],
    ['warn', 'failed', { n: 4, leftOut: 2, sinceMs: 10_000 }],
    ['warn', 'failed', { n: 5, leftOut: 1, sinceMs: 10_000 }],
    ['error', 'failed', { n: 6 }],
  ]);
});

test.run();
