import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Redis } from 'ioredis';
import { dispatch, start, stop, type Ref } from 'nact';
import { spawnProjector, type Project } from '../../actors/projections/actor.js';
import { accountEventsOps, applyAccountEventsLua, commandResultOp, keys, type RedisOp } from '../../actors/projections/read-models.js';
import { commandResultCodec, type CommandResult } from '../../topics/command-results.js';
import { eventCodec, type EventEnvelope } from '../../topics/events.js';
import { parseJson } from '../../topics/codec.js';
import type { Topology } from '../../topics/index.js';
import { logger } from '../log.js';
import { produceChunkBytesMax } from '../processor/batch-output.js';
import { projectorMetrics as metrics } from '../metrics.js';

export interface ProjectorOptions {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly redis: Redis;
  readonly topics: Topology;
  readonly appId: string;
  readonly batchBytesMax: number;
  readonly partitionsConcurrently: number;
}

export interface Projector {
  stop(): Promise<void>;
}

/** Redis calls per pipeline: bounds the memory of one round trip. */
export const pipelineOpsMax = 2_000;
const log = logger('projector');

/**
 * The projector role: a consumer group on `events` and `command-results` (read_committed). Each
 * batch goes to the projector actor of its read model, the Redis calls it returns run in
 * pipelines, and the batch's offset is committed only after Redis acknowledged every call.
 * Replays are harmless (see actors/projections/read-models.ts).
 */
export async function startProjector(options: ProjectorOptions): Promise<Projector> {
  const { kafka, redis, topics, appId } = options;
  const k = keys(appId);
  redis.defineCommand('applyAccountEvents', { lua: applyAccountEventsLua }); // the key count is the first argument
  const system = start() as Ref<unknown>;
  const accounts = spawnProjector<EventEnvelope>(system, 'accounts', (events) => accountEventsOps(k, events));
  const results = spawnProjector<CommandResult>(system, 'command-results', (records) => records.map((result) => commandResultOp(k, result)));

  const consumer: Consumer = kafka.consumer({
    groupId: `${appId}-projector`,
    readUncommitted: false,
    maxWaitTimeInMs: 50,
    // At least two of the processor's produce chunks: a record batch larger than the fetch limit
    // is returned only for the first partition of a fetch, so a smaller limit crawls.
    maxBytesPerPartition: Math.max(options.batchBytesMax, 2 * produceChunkBytesMax),
  });

  async function eachBatch({ batch }: EachBatchPayload): Promise<void> {
    if (batch.isEmpty()) return;
    const startedMs = Date.now();
    const ops =
      batch.topic === topics.events.name
        ? await ask(accounts, decodeAll(batch.messages, (v) => eventCodec.validate(v), batch.topic))
        : await ask(results, decodeAll(batch.messages, (v) => commandResultCodec.validate(v), batch.topic));
    for (let i = 0; i < ops.length; i += pipelineOpsMax) await runPipeline(redis, ops.slice(i, i + pipelineOpsMax));
    metrics.records.inc({ topic: batch.topic }, batch.messages.length);
    metrics.batchSeconds.observe((Date.now() - startedMs) / 1000);
  }

  await rebuildIfRedisLost(options, `${appId}-projector`, k.marker);
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.events.name, topics.commandResults.name], fromBeginning: true });
  // eachBatch resolves the batch only after Redis acknowledged it; autoCommitThreshold 1 commits
  // after every batch, including those kafkajs resolves itself (only transaction markers).
  await consumer.run({ autoCommit: true, autoCommitThreshold: 1, eachBatchAutoResolve: true, partitionsConsumedConcurrently: options.partitionsConcurrently, eachBatch });
  return {
    stop: async () => {
      await consumer.disconnect();
      stop(system as never);
    },
  };
}

function ask<T>(actor: Ref<Project<T>>, records: T[]): Promise<RedisOp[]> {
  return new Promise((reply) => dispatch(actor, { records, reply }));
}

/** Our own topics: a record that does not decode is a bug upstream; it is logged and skipped. */
function decodeAll<T>(messages: { value: Buffer | null; offset: string }[], validate: (v: unknown) => { ok: true; value: T } | { ok: false; reason: string }, topic: string): T[] {
  const out: T[] = [];
  for (const message of messages) {
    const json = parseJson(message.value);
    const decoded = json.ok ? validate(json.value) : json;
    if (decoded.ok) out.push(decoded.value);
    else {
      metrics.invalid.inc({ topic });
      log.error('skipping a record that does not decode', { topic, offset: message.offset, reason: decoded.reason });
    }
  }
  return out;
}

async function runPipeline(redis: Redis, ops: RedisOp[]): Promise<void> {
  const pipeline = redis.pipeline();
  const calls = pipeline as unknown as Record<string, (...args: (string | number)[]) => unknown>;
  for (const [name, ...args] of ops) calls[name]!(...args);
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
}

/**
 * The read models live in Redis, the projector's offsets in Kafka. A Redis that lost its data
 * (the local stack keeps none on disk) would otherwise resume at the old offsets with empty
 * models. A marker key tells: when it is missing, project again from offset 0.
 */
async function rebuildIfRedisLost({ admin, redis, topics }: ProjectorOptions, groupId: string, marker: string): Promise<void> {
  const fresh = await redis.set(marker, '1', 'NX');
  if (fresh !== 'OK') return;
  for (const topic of [topics.events.name, topics.commandResults.name]) {
    try {
      await admin.resetOffsets({ groupId, topic, earliest: true });
    } catch (err) {
      log.warn('could not reset the projector offsets for a fresh Redis (is another projector running?)', { topic, error: String(err) });
      return;
    }
  }
  log.info('no read models in Redis: projecting from offset 0');
}
