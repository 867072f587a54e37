import type { Redis } from 'ioredis';

export interface RateLimit {
  readonly requestsPerWindow: number;
  readonly windowMs: number;
}

/**
 * Whom a request is counted against: an IPv4 address, or an IPv6 address's /64 (one host
 * usually holds a whole /64, and would otherwise get a fresh count from each of its addresses).
 */
export function clientKey(ip: string): string {
  const address = ip.split('%')[0]!; // no zone index
  if (!address.includes(':')) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const [head = '', tail] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? headGroups : [...headGroups, ...new Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`;
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
