import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { testEnv, unique } from '../support/env.js';

const redis = new Redis(testEnv().redisUrl);
test.after(() => void redis.disconnect());

test('string and hash round trip, with a TTL', async () => {
  const key = unique('k');
  await redis.set(key, 'v', 'EX', 60);
  assert.is(await redis.get(key), 'v');
  const ttlS = await redis.ttl(key);
  assert.ok(ttlS > 0 && ttlS <= 60, `ttl ${ttlS}`);
  await redis.hset(`${key}:h`, { balance: '500', currency: 'EUR' });
  assert.equal(await redis.hgetall(`${key}:h`), { balance: '500', currency: 'EUR' });
});

test('a pipeline answers in order', async () => {
  const key = unique('n');
  const results = await redis.pipeline().incrby(key, 2).incrby(key, 3).get(key).exec();
  assert.equal(results?.map(([, value]) => value), [2, 5, '5']);
});

test.run();
