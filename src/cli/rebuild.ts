// npm run rebuild : wipes the read models and rebuilds them from the event log (offset 0).
// Stop the projector role first; this command runs the projector itself until it has caught up.
import '../kafka/kafkajs-patch.js'; // first: it must precede every import of kafkajs
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Admin } from 'kafkajs';
import { loadConfig } from '../config.js';
import { createKafka } from '../kafka/client.js';
import { retriable } from '../kafka/retry.js';
import { setLogLevel } from '../log.js';
import { forgetOffsets, startProjector } from '../projector/projector.js';
import { acquireStack, runningStack } from '../stack/index.js';
import { topology } from '../../topics/index.js';

const progressEveryMs = 500;
const barWidth = 30;

async function main(): Promise<void> {
  const config = loadConfig();
  setLogLevel('warn');
  const stackDir = join(config.dataDir, 'stack');
  if ((!config.kafkaBrokers || !config.redisUrl) && !runningStack(stackDir)) {
    throw new Error('no stack to rebuild: set KAFKA_BROKERS and REDIS_URL, or start one with `npm run stack -- up`');
  }
  const stack = await acquireStack(stackDir, config);
  const kafka = createKafka(stack.kafkaBrokers.split(','), `${config.appId}-rebuild`);
  const admin = kafka.admin();
  const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: 1 });
  // Failures surface as the calls' errors; without a listener ioredis prints each one as unhandled.
  redis.on('error', () => undefined);
  const topics = topology(config.appId, config.partitions, config.topicPrefix);
  const groupId = `${config.appId}-projector`;
  const sources = [topics.events.name, topics.commandResults.name];
  try {
    await admin.connect();
    const { groups } = await retriable(() => admin.describeGroups([groupId]));
    if ((groups[0]?.members.length ?? 0) > 0) throw new Error(`the projector group ${groupId} has running members: stop the projector role first`);
    const wiped = await wipe(redis, `${config.appId}:`);
    await forgetOffsets(admin, groupId);
    console.error(`wiped ${wiped} keys; projecting ${sources.join(' and ')} from offset 0`);
    const ends = await partitionEnds(admin, sources);
    const total = [...ends.values()].reduce((n, { low, high }) => n + (high - low), 0);
    const projector = await startProjector({ kafka, admin, redis, topics, appId: config.appId, ...config.processor, batchesInFlightPerPartitionMax: config.projectorBatchesInFlightPerPartitionMax });
    const startedMs = Date.now();
    for (;;) {
      const { done, complete } = await reached(admin, groupId, sources, ends);
      progress(done, total, Date.now() - startedMs);
      if (complete) break;
      // A partition that cannot go on (Redis down or full for 30 s, a gap): fail instead of waiting for ever.
      await projector.check().catch(async (err: unknown) => {
        await projector.stop();
        throw new Error(`the rebuild cannot go on: ${err instanceof Error ? err.message : String(err)}`);
      });
      await new Promise((resolve) => setTimeout(resolve, progressEveryMs));
    }
    await projector.stop();
    process.stderr.write(`\nrebuilt ${total} records in ${((Date.now() - startedMs) / 1000).toFixed(1)} s\n`);
  } finally {
    await admin.disconnect();
    redis.disconnect();
    await stack.stop();
  }
}

/** Deletes the read models: every key under the app's prefix except rate-limit counters. */
async function wipe(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    const models = found.filter((key) => !key.startsWith(`${prefix}rate:`));
    if (models.length > 0) deleted += await redis.unlink(...models);
  } while (cursor !== '0');
  return deleted;
}

/** Per "topic:partition", its offsets at the start: the rebuild is done when each reached its own end. */
async function partitionEnds(admin: Admin, names: string[]): Promise<Map<string, { low: number; high: number }>> {
  const ends = new Map<string, { low: number; high: number }>();
  for (const topic of names) {
    for (const p of await retriable(() => admin.fetchTopicOffsets(topic))) ends.set(`${topic}:${p.partition}`, { low: Number(p.low), high: Number(p.high) });
  }
  return ends;
}

/**
 * Records projected up to the start's ends, and whether every partition reached its end. Per
 * partition: a sum could finish early (one partition past its end hiding another behind), or
 * never (retention deleting records below the start's low meanwhile).
 */
async function reached(admin: Admin, groupId: string, names: string[], ends: Map<string, { low: number; high: number }>): Promise<{ done: number; complete: boolean }> {
  const committed = new Map<string, number>();
  for (const topic of names) {
    const [offsets] = await retriable(() => admin.fetchOffsets({ groupId, topics: [topic] }));
    for (const p of offsets?.partitions ?? []) committed.set(`${topic}:${p.partition}`, Number(p.offset));
  }
  let done = 0;
  let complete = true;
  for (const [key, { low, high }] of ends) {
    const at = committed.get(key) ?? -1;
    done += Math.max(0, Math.min(at, high) - low);
    if (high > low && at < high) complete = false; // an empty partition has nothing to reach
  }
  return { done, complete };
}

function progress(done: number, total: number, elapsedMs: number): void {
  const fraction = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(fraction * barWidth);
  const line = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${done}/${total} records  ${(elapsedMs / 1000).toFixed(1)} s`;
  process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`rebuild failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
