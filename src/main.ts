// npm start [-- --roles api,...] : runs the chosen roles on the configured (or local) stack.
import './kafka/kafkajs-patch.js'; // first: it must precede every import of kafkajs
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from './config.js';
import { createKafka } from './kafka/client.js';
import { ensureTopics } from './kafka/topics-admin.js';
import { CommandSender } from './kafka/command-sender.js';
import { retriable } from './kafka/retry.js';
import { healthRoutes, type HealthCheck } from './http/health.js';
import { metricsRoutes } from './http/metrics.js';
import { startProcessor } from './processor/processor.js';
import { startProjector } from './projector/projector.js';
import { apiRoutes } from './http/api.js';
import { VersionWaiter } from './http/version-waiter.js';
import { AccountCache } from './http/account-cache.js';
import { ReadModels } from './redis/read-models.js';
import { keys } from '../actors/projections/read-models.js';
import type { FastifyPluginAsync } from 'fastify';
import { Partitioners } from 'kafkajs';
import { buildHttpServer } from './http/server.js';
import { logger, setLogLevel } from './log.js';
import { acquireStack } from './stack/index.js';
import { topology } from '../topics/index.js';

const log = logger('main');
const allRoles = ['processor', 'projector', 'api'] as const;
type Role = (typeof allRoles)[number];

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
  // Stopped first, together: the roles and the HTTP server (each bounded by its own drain wait).
  const roleStops: Array<() => Promise<unknown>> = [];
  // Then what they used, in reverse order of opening.
  const closers: Array<() => Promise<unknown>> = [];
  const shutdown = onceShutdown(roleStops, closers, config.shutdownTimeoutMs);
  // process.on, not once: a second signal (Ctrl-C reaches npm and node both) would otherwise kill the drain.
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // kafkajs does not restart a consumer after an error it deems not retriable: the process stops
  // (exit code 1) so that its supervisor starts it anew, instead of idling until a person does.
  const onStoppedForGood = (role: Role) => (reason: string) => {
    log.error('a consumer stopped for good; stopping the process so that it is restarted', { role, reason });
    void shutdown(`${role} consumer stopped for good`, 1);
  };
  try {
    await startRoles(config, roles, roleStops, closers, onStoppedForGood);
  } catch (err) {
    // What started is stopped (a processor leaves its group now, not at its session's timeout).
    log.error('failed to start', { error: err instanceof Error ? err.message : String(err) });
    await shutdown('failed to start', 1);
  }
}

async function startRoles(
  config: Config,
  roles: Role[],
  roleStops: Array<() => Promise<unknown>>,
  closers: Array<() => Promise<unknown>>,
  onStoppedForGood: (role: Role) => (reason: string) => void,
): Promise<void> {

  const needsRedis = roles.includes('projector') || roles.includes('api');
  const stack = await acquireStack(join(config.dataDir, 'stack'), config, { redis: needsRedis });
  closers.push(() => stack.stop());
  log.info('stack ready', { kafkaBrokers: stack.kafkaBrokers, redisUrl: stack.redisUrl });

  const kafka = createKafka(stack.kafkaBrokers.split(','), config.appId);
  const admin = kafka.admin();
  await admin.connect();
  closers.push(() => admin.disconnect());
  const topics = topology(config.appId, config.partitions, config.topicPrefix);
  log.info('topics ready', { created: await ensureTopics(admin, topics, config.topicReplication) });

  const checks: HealthCheck[] = [{ name: 'kafka', check: async () => void (await admin.describeCluster()) }];

  if (roles.includes('processor')) {
    const processor = await startProcessor({
      kafka,
      admin,
      topics,
      appId: config.appId,
      dataDir: config.dataDir,
      ...config.processor,
      limits: config.processor,
      onStoppedForGood: onStoppedForGood('processor'),
    });
    roleStops.push(() => processor.stop());
    checks.push({ name: 'processor', check: () => processor.check() });
  }

  const routes: FastifyPluginAsync[] = [];
  if (roles.includes('projector') || roles.includes('api')) {
    const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 5_000, lazyConnect: true });
    redis.on('error', (err: Error) => log.warn('redis error', { error: err.message }));
    await redis.connect();
    closers.push(() => redis.quit());
    checks.push({ name: 'redis', check: async () => void (await redis.ping()) });
    if (roles.includes('projector')) {
      const projector = await startProjector({ kafka, admin, redis, topics, appId: config.appId, ...config.processor, batchesInFlightPerPartitionMax: config.projectorBatchesInFlightPerPartitionMax, onStoppedForGood: onStoppedForGood('projector') });
      roleStops.push(() => projector.stop());
      checks.push({ name: 'projector', check: () => projector.check() });
    }
    if (roles.includes('api')) {
      const subscriber = redis.duplicate();
      subscriber.on('error', (err: Error) => log.warn('redis subscriber error', { error: err.message }));
      closers.push(async () => subscriber.disconnect());
      const k = keys(config.appId);
      const cache = new AccountCache(config.accountCacheEntriesMax);
      // Updates published while it is away are missed: serve nothing meanwhile, and forget what was read before.
      subscriber.on('close', () => cache.clear(false));
      // ioredis emits 'ready' before its own resubscribe is answered: serve again once ours is.
      subscriber.on('ready', () =>
        void subscriber.subscribe(k.updates).then(
          () => cache.clear(true),
          (err: Error) => log.warn('redis subscriber could not subscribe again', { error: err.message }),
        ),
      );
      const waiter = new VersionWaiter(subscriber, k.updates, (id, version) => cache.notify(id, version));
      await waiter.start();
      // Idempotent, acks from all replicas: a retried send cannot duplicate a command. Retrying
      // without end, which kafkajs does only when asked (the client's retries would apply
      // otherwise): see CommandSender. The POST answers 503 at commandSendTimeoutMs instead,
      // while the send goes on (sendsInFlightMax bounds them).
      const createProducer = async () => {
        const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: Number.MAX_SAFE_INTEGER }, createPartitioner: Partitioners.DefaultPartitioner });
        await producer.connect();
        return producer;
      };
      const { topics: [commandsMetadata] } = await retriable(() => admin.fetchTopicMetadata({ topics: [topics.commands.name] }));
      const sender = new CommandSender(createProducer, topics.commands.name, commandsMetadata!.partitions.length);
      await sender.ready();
      closers.push(() => sender.close());
      routes.push(
        apiRoutes({
          readModels: new ReadModels(redis, k),
          waiter,
          sender,
          waitMaxMs: config.waitMaxMs,
          cache,
          rateLimit: { ...config.rateLimit, redis, keyPrefix: config.appId },
        }),
      );
    }
  }

  // Every process serves /health and /metrics; the api role adds the ledger's routes.
  const http = buildHttpServer([healthRoutes(checks), metricsRoutes, ...routes], config.trustProxy);
  await http.listen({ port: config.httpPort, host: config.httpHost });
  roleStops.push(() => http.close());
  const address = http.server.address();
  log.info('http listening', { port: typeof address === 'object' && address ? address.port : config.httpPort });
  log.info('started', { roles });
}

/**
 * Once, bounded by shutdownTimeoutMs: stops the roles and the HTTP server at the same time, then
 * closes the rest in reverse order of opening. What main() starts after the signal is not waited
 * for: the process exits, and every role is safe to kill.
 */
function onceShutdown(roleStops: Array<() => Promise<unknown>>, closers: Array<() => Promise<unknown>>, shutdownTimeoutMs: number): (reason: string, exitCode?: number) => Promise<void> {
  let started = false;
  return async (reason, exitCode = 0) => {
    if (started) return log.info('already shutting down', { reason });
    started = true;
    log.info('shutting down', { reason });
    const timer = setTimeout(() => {
      log.error('shutdown timed out', { shutdownTimeoutMs });
      process.exit(1);
    }, shutdownTimeoutMs);
    const closeLogged = (close: () => Promise<unknown>) => close().catch((err: unknown) => log.warn('close failed', { error: String(err) }));
    await Promise.all([...roleStops].map(closeLogged));
    for (const close of [...closers].reverse()) await closeLogged(close);
    clearTimeout(timer);
    process.exit(exitCode);
  };
}

main().catch((err: unknown) => {
  log.error('failed to start', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
