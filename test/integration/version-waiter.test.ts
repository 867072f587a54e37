import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { dependency, Unavailable } from '../../src/http/problem.js';
import { VersionWaiter } from '../../src/http/version-waiter.js';
import { testEnv, unique } from '../support/env.js';

const redis = new Redis(testEnv().redisUrl);
const subscriber = redis.duplicate();
test.after(() => {
  redis.disconnect();
  subscriber.disconnect();
});

test('a read waits for the version a notice brings; past waitersMax a read is refused as overload, not as Redis down', async () => {
  const channel = unique('updates');
  const waiter = new VersionWaiter(subscriber, channel, undefined, 1);
  await waiter.start();
  const first = waiter.waitFor('a', 5, 5_000, async () => 0);
  const refused = await dependency('redis', () => waiter.waitFor('b', 1, 5_000, async () => 0)).catch((err: unknown) => err);
  assert.instance(refused, Unavailable);
  assert.is((refused as Error).message, '1 reads are waiting for a version already; retry later');
  await redis.publish(channel, JSON.stringify(['a', 5]));
  assert.is(await first, 5);
});

test('a notice that is not JSON is ignored, not a crash; a notice missed is caught by reading again at the timeout', async () => {
  const channel = unique('updates');
  const waiter = new VersionWaiter(subscriber, channel);
  await waiter.start();
  let stored = 0;
  const read = waiter.waitFor('a', 3, 300, async () => stored);
  await redis.publish(channel, 'a 3'); // the notice format of older projectors
  stored = 3; // the model reached version 3, and its notice was lost
  assert.is(await read, 3);
});

test.run();
