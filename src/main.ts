// npm start [-- --roles api,...] : runs the chosen roles on the configured (or local) stack.
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from './config.js';
import { createKafka } from './kafka/client.js';
import { ensureTopics } from './kafka/topics-admin.js';
import { healthRoutes } from './http/health.js';
import { buildHttpServer } from './http/server.js';
import { logger, setLogLevel } from './log.js';
import { acquireStack } from './stack/index.js';
import { topicSpecs } from '../topics/index.js';

const log = logger('main');
const allRoles = ['api'] as const;
type Role = (typeof allRoles)[number];
const shutdownTimeoutMs = 30_000;

function parseRoles(argv: string[]): Role[] {
  const at = argv.indexOf('--roles');
  if (at === -1) return [...allRoles];
  const named = (argv[at + 1] ?? '').split(',').filter(Boolean);
  const unknown = named.filter((role) => !(allRoles as readonly string[]).includes(role));
  if (named.length === 0 || unknown.length > 0) {
    throw new Error(`--roles takes a comma list of ${allRoles.join(', ')}; unknown: "${unknown.join(',') || '(none given)'}"`);
  }
  return named as Role[];
}

async function main(): Promise<void> {
  const config = loadConfig();
  setLogLevel(config.logLevel);
  const roles = parseRoles(process.argv.slice(2));
  const closers: Array<() => Promise<unknown>> = [];
  const shutdown = onceShutdown(closers);
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  const stack = await acquireStack(join(config.dataDir, 'stack'), config);
  closers.push(() => stack.stop());
  log.info('stack ready', { kafkaBrokers: stack.kafkaBrokers, redisUrl: stack.redisUrl });

  const kafka = createKafka(stack.kafkaBrokers.split(','), config.appId);
  const admin = kafka.admin();
  await admin.connect();
  closers.push(() => admin.disconnect());
  const created = await ensureTopics(admin, topicSpecs(config.appId, config.partitions), config.appId);
  log.info('topics ready', { created });

  const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', (err: Error) => log.warn('redis error', { error: err.message }));
  await redis.connect();
  closers.push(() => redis.quit());

  if (roles.includes('api')) {
    const http = buildHttpServer([
      healthRoutes([
        { name: 'kafka', check: async () => void (await admin.describeCluster()) },
        { name: 'redis', check: async () => void (await redis.ping()) },
      ]),
    ]);
    await http.listen({ port: config.httpPort, host: config.httpHost });
    closers.push(() => http.close());
    log.info('api listening', { url: `http://${config.httpHost}:${config.httpPort}` });
  }
  log.info('started', { roles });
}

/** Closes in reverse order of opening, once, bounded by shutdownTimeoutMs. */
function onceShutdown(closers: Array<() => Promise<unknown>>): (reason: string) => Promise<void> {
  let started = false;
  return async (reason) => {
    if (started) return;
    started = true;
    log.info('shutting down', { reason });
    const timer = setTimeout(() => {
      log.error('shutdown timed out', { shutdownTimeoutMs });
      process.exit(1);
    }, shutdownTimeoutMs);
    for (const close of closers.reverse()) {
      await close().catch((err: unknown) => log.warn('close failed', { error: String(err) }));
    }
    clearTimeout(timer);
    process.exit(0);
  };
}

main().catch((err: unknown) => {
  log.error('failed to start', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
