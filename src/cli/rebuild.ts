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
    const total = await sumEnds(admin, sources);
    const projector = await startProjector({ kafka, admin, redis, topics, appId: config.appId, ...config.processor });
    const startedMs = Date.now();
    for (;;) {
      const done = await sumCommitted(admin, groupId, sources);
      progress(done, total, Date.now() - startedMs);
      if (done >= total) break;
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

const sumEnds = async (admin: Admin, names: string[]) => {
  let n = 0;
  for (const topic of names) for (const p of await retriable(() => admin.fetchTopicOffsets(topic))) n += Number(p.high) - Number(p.low);
  return n;
};

async function sumCommitted(admin: Admin, groupId: string, names: string[]): Promise<number> {
  let n = 0;
  for (const topic of names) {
    const lows = new Map((await retriable(() => admin.fetchTopicOffsets(topic))).map((p) => [p.partition, Number(p.low)]));
    const [committed] = await retriable(() => admin.fetchOffsets({ groupId, topics: [topic] }));
    for (const p of committed?.partitions ?? []) n += Math.max(0, Number(p.offset) - (lows.get(p.partition) ?? 0));
  }
  return n;
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
