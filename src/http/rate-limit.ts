import type { Redis } from 'ioredis';

export interface RateLimit {
  readonly requestsPerWindow: number;
  readonly windowMs: number;
}

/**
 * A fixed-window counter per client in Redis, so every API instance shares the count.
 * Returns undefined when allowed, else the ms until the window ends (for Retry-After).
 */
export async function overLimit(redis: Redis, keyPrefix: string, client: string, limit: RateLimit, nowMs = Date.now()): Promise<number | undefined> {
  const windowStartMs = nowMs - (nowMs % limit.windowMs);
  const key = `${keyPrefix}:rate:${client}:${windowStartMs}`;
  const replies = await redis.multi().incr(key).pexpire(key, limit.windowMs).exec();
  const [err, counted] = replies?.[0] ?? [new Error('the rate limit transaction was discarded'), null];
  if (err) throw err; // not counted is not allowed: the caller answers 503
  const count = Number(counted);
  return count > limit.requestsPerWindow ? windowStartMs + limit.windowMs - nowMs : undefined;
}
