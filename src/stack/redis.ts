import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { spawnServer, stopPid, waitUntil, type ServerProcess } from './process.js';

const redisReadyTimeoutMs = 15_000;

export interface RedisServer {
  readonly url: string;
  readonly process: ServerProcess;
}

/** A private redis-server on a free loopback port, keeping nothing on disk. */
export async function startRedis(dir: string, detached = false): Promise<RedisServer> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const server = spawnServer('redis-server', args, join(dir, 'redis.log'), detached);
  const url = `redis://127.0.0.1:${port}`;
  await waitForRedis(url).catch(async (err: unknown) => {
    await stopPid(server.pid);
    throw err;
  });
  return { url, process: server };
}

export async function waitForRedis(url: string, timeoutMs = redisReadyTimeoutMs): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined); // refused connections are expected while it starts
  try {
    await waitUntil(`Redis at ${url}`, timeoutMs, async () => {
      if (client.status !== 'ready') await client.connect();
      return (await client.ping()) === 'PONG';
    });
  } finally {
    client.disconnect();
  }
}
