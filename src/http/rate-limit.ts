import { isIP } from 'node:net';
import type { Redis } from 'ioredis';

export interface RateLimit {
  readonly requestsPerWindow: number;
  readonly windowMs: number;
}

/**
 * Whom a request is counted against: an IPv4 address, or an IPv6 address's /64 (one host
 * usually holds a whole /64, and would otherwise get a fresh count from each of its addresses).
 * Anything else (a proxy's X-Forwarded-For entry with a port, say) counts as itself, cut short.
 */
export function clientKey(ip: string | undefined): string {
  const address = (ip ?? '').split('%')[0]!; // no zone index
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return `other:${(ip ?? 'unknown').slice(0, 100)}`;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const groupsOf = (part: string | undefined) => (part ? part.split(':').flatMap(ipv4AsGroups) : []);
  const [head, tail] = address.split('::');
  const headGroups = groupsOf(head);
  const tailGroups = groupsOf(tail);
  const zeros = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const prefix = [...headGroups, ...zeros, ...tailGroups].slice(0, 4);
  return `${prefix.map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}

/** An IPv4 address ending an IPv6 one is its last two groups. */
const ipv4AsGroups = (group: string): string[] => {
  if (!group.includes('.')) return [group];
  const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
};

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
