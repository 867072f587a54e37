import * as assert from 'uvu/assert';

/** uvu/assert has no async throws: fails unless fn rejects with a message matching pattern. */
export async function rejects(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    assert.match(message, pattern);
    return;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
}
