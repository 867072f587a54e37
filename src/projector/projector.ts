import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Redis } from 'ioredis';
import { dispatch, start, stop, type Ref } from 'nact';
import { spawnProjector, type Project } from '../../actors/projections/actor.js';
import { accountEventsOps, appliedOffsetField, appliedOffsetOp, applyAccountEventsLua, commandResultOp, keys, setAppliedOffsetLua, type RawEvent, type RedisOp } from '../../actors/projections/read-models.js';
import { commandResultCodec, type CommandResult } from '../../topics/command-results.js';
import { eventCodec } from '../../topics/events.js';
import { parseJsonText } from '../../topics/codec.js';
import type { Topology } from '../../topics/index.js';
import { logger } from '../log.js';
import { withTimeout } from '../timeout.js';
import { retriable } from '../kafka/retry.js';
import { watchCrashes } from '../kafka/crashes.js';
import { produceChunkBytesMax } from '../processor/batch-output.js';
import { CommitLanes } from './commit-lanes.js';
import { projectorMetrics as metrics } from '../metrics.js';

export interface ProjectorOptions {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly redis: Redis;
  readonly topics: Topology;
  readonly appId: string;
  readonly batchBytesMax: number;
  readonly partitionsConcurrently: number;
  /** Batches of a partition sent to Redis and not yet acknowledged; fetching waits beyond. */
  readonly batchesInFlightPerPartitionMax: number;
  /** A projection actor that does not answer (a bug that threw in it) fails the batch instead of hanging its partition. */
  readonly actorReplyTimeoutMs: number;
  /** Called once if its consumer stops for good (kafkajs will not restart it): main stops the process, so that its supervisor restarts it. */
  readonly onStoppedForGood?: (reason: string) => void;
}

export interface Projector {
  stop(): Promise<void>;
  /** Throws when its consumer stopped for good (kafkajs will not restart it): /health reports it. */
  check(): Promise<void>;
}

/** Redis calls per pipeline: bounds the memory of one round trip. */
export const pipelineOpsMax = 2_000;
/** How often the projector compares the offsets Redis holds with those the group committed (see rewindWhereRedisLost). */
export const redisLossCheckMs = 2_000;
/** A partition whose batches have failed this long, nothing applied since, makes /health report the projector down. */
export const stalledReportMs = 30_000;
/** On stop, how long sent batches get to be acknowledged and committed. */
const stopDrainWaitMs = 10_000;
const log = logger('projector');

/**
 * The projector role: a consumer group on `events` and `command-results` (read_committed). Each
 * batch goes to the projector actor of its read model and the Redis calls it returns are sent
 * at once; the consumer fetches on while Redis applies them, and a batch's offset is committed
 * only after Redis acknowledged it and every earlier batch of its partition (CommitLanes).
 * Replays are harmless (see actors/projections/read-models.ts).
 * Redis also keeps, per partition, the offset below which it holds every record, raised once
 * a batch's calls all succeeded (see setAppliedOffsetLua). A Redis that lost data (restarted without persistence, restored
 * from an older copy, flushed) then holds less than the group committed, and those partitions
 * are projected again from what it holds: checked on every assignment and every redisLossCheckMs.
 */
export async function startProjector(options: ProjectorOptions): Promise<Projector> {
  const { kafka, redis, topics, appId } = options;
  const k = keys(appId);
  redis.defineCommand('applyAccountEvents', { lua: applyAccountEventsLua }); // the key count is the first argument
  redis.defineCommand('setAppliedOffset', { lua: setAppliedOffsetLua });
  const system = start() as Ref<unknown>;
  const accounts = spawnProjector<RawEvent>(system, 'accounts', (events) => accountEventsOps(k, events));
  const results = spawnProjector<{ result: CommandResult; timestampMs: number }>(system, 'command-results', (records) => records.map((record) => commandResultOp(k, record)));
  let stopping = false;
  const groupId = `${appId}-projector`;
  /** This member's partitions, from its last GROUP_JOIN. */
  let assigned: Record<string, number[]> = {};

  const consumer: Consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    maxWaitTimeInMs: 50,
    // At least two of the processor's produce chunks: a record batch larger than the fetch limit
    // is returned only for the first partition of a fetch, so a smaller limit crawls.
    maxBytesPerPartition: Math.max(options.batchBytesMax, 2 * produceChunkBytesMax),
  });
  const lanes = new CommitLanes(consumer, options.batchesInFlightPerPartitionMax);

  /**
   * Per partition, the last write of its applied offset: each waits for the one before and for
   * its batch's calls, so a marker-only batch's (which has no calls) cannot overtake the data
   * batch before it, find Redis short of its start, and leave the offset behind for good.
   */
  const offsetWrites = new Map<string, Promise<unknown>>();
  function writeAppliedOffset(topic: string, partition: number, first: string, next: string, batchApplied: Promise<void>): Promise<void> {
    const field = appliedOffsetField(topic, partition);
    const written = Promise.all([offsetWrites.get(field), batchApplied]).then(() => runPipelines(redis, [appliedOffsetOp(k, topic, partition, first, next)]));
    offsetWrites.set(field, written.catch(() => undefined));
    return written;
  }

  async function eachBatch({ batch, isStale }: EachBatchPayload): Promise<void> {
    if (stopping || isStale() || batch.isEmpty()) return;
    const startedMs = Date.now();
    const mapped =
      batch.topic === topics.events.name
        ? ask(accounts, decodeAll(batch.messages, (v) => eventCodec.validate(v), batch.topic, (event, raw) => ({ event, raw })))
        : ask(results, decodeAll(batch.messages, (v) => commandResultCodec.validate(v), batch.topic, (result, _raw, timestampMs) => ({ result, timestampMs })));
    const ops = await withTimeout(mapped, options.actorReplyTimeoutMs, `the projection of ${batch.topic}/${batch.partition} did not answer`);
    if (isStale()) return; // a seek came while the actor mapped it: the partition is fetched again
    const next = String(BigInt(batch.lastOffset()) + 1n);
    const first = batch.firstOffset()!;
    const applied = writeAppliedOffset(batch.topic, batch.partition, first, next, runPipelines(redis, ops)).then(() => {
      metrics.records.inc({ topic: batch.topic }, batch.messages.length);
      metrics.batchSeconds.observe((Date.now() - startedMs) / 1000);
      metrics.recordLagSeconds.observe((Date.now() - Number(batch.messages[0]!.timestamp)) / 1000);
    });
    await lanes.add(batch.topic, batch.partition, first, next, applied, true);
  }

  /**
   * Where Redis holds less than the group committed, fetches again from what it holds. Commits
   * follow Redis's acknowledgements, so read in this order a Redis that kept everything never
   * holds less than the commits (a replay's lower offsets are not kept, see setAppliedOffsetLua).
   */
  let checking: Promise<void> | undefined;
  let checkAgain = false;
  function rewindWhereRedisLost(): void {
    if (stopping) return;
    if (checking) {
      checkAgain = true; // a join during a check: its assignment is checked right after
      return;
    }
    checking = checkOnce()
      .catch((err: unknown) => log.debug('checking the offsets Redis holds failed; trying again later', { error: String(err) })) // Redis or Kafka down: the batches fail and retry on their own
      .finally(() => {
        checking = undefined;
        if (checkAgain) {
          checkAgain = false;
          rewindWhereRedisLost();
        }
      });
  }
  async function checkOnce(): Promise<void> {
    const mine = assigned;
    const names = Object.keys(mine);
    if (names.length === 0) return;
    const committed = await options.admin.fetchOffsets({ groupId, topics: names });
    const held = await redis.hgetall(k.appliedOffsets);
    let lows: Map<string, bigint> | undefined; // asked only when a partition is rewound
    for (const { topic, partitions } of committed) {
      for (const { partition, offset } of partitions) {
        const field = appliedOffsetField(topic, partition);
        const holds = BigInt(held[field] ?? '0');
        if (BigInt(offset) <= holds) continue;
        if (!lows) {
          lows = new Map();
          for (const name of names) for (const p of await options.admin.fetchTopicOffsets(name)) lows.set(appliedOffsetField(name, p.partition), BigInt(p.low));
        }
        if (stopping || assigned !== mine || !mine[topic]?.includes(partition)) continue;
        const low = lows.get(field) ?? 0n;
        if (low > holds) {
          // Retention removed the records below low: Redis cannot hold less than that.
          await runPipelines(redis, [appliedOffsetOp(k, topic, partition, '0', String(low))]);
          if (stopping || assigned !== mine) return;
        }
        const from = String(holds > low ? holds : low);
        log.warn('Redis holds less of this partition than was committed (it lost data): projecting again from what it holds', { topic, partition, committed: offset, redisHolds: String(holds), from });
        lanes.rewind(topic, partition, from);
      }
    }
  }

  await consumer.connect();
  await consumer.subscribe({ topics: [topics.events.name, topics.commandResults.name], fromBeginning: true });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    lanes.reset();
    assigned = payload.memberAssignment;
    rewindWhereRedisLost();
  });
  const stoppedForGood = watchCrashes(consumer, log, options.onStoppedForGood);
  const lossCheck = setInterval(rewindWhereRedisLost, redisLossCheckMs);
  // kafkajs resolves a batch of only transaction markers itself, without eachBatch: its offset
  // is committed here, in order with the partition's other batches.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    // No first offset: no record at or after the fetched offset (kafkajs then reports an end it
    // did not read, the fetched offset or the high watermark); such a batch is not committed past.
    if (stopping || payload.batchSize > 0 || payload.firstOffset === null) return;
    const next = String(BigInt(payload.lastOffset) + 1n);
    void lanes.add(payload.topic, payload.partition, payload.firstOffset, next, writeAppliedOffset(payload.topic, payload.partition, payload.firstOffset, next, Promise.resolve()));
  });
  await consumer.run({ autoCommit: false, eachBatchAutoResolve: true, partitionsConsumedConcurrently: options.partitionsConcurrently, eachBatch });
  return {
    stop: async () => {
      stopping = true;
      clearInterval(lossCheck);
      await lanes.settled(stopDrainWaitMs);
      await consumer.disconnect();
      stop(system as never);
    },
    check: async () => {
      const failure = stoppedForGood();
      if (failure !== undefined) throw new Error(`projecting stopped for good, restart the process: ${failure}`);
      const stalled = lanes.stalled(stalledReportMs);
      if (stalled.length > 0) {
        const { topic, partition, sinceMs, error } = stalled[0]!;
        throw new Error(`${stalled.length} partition(s) stalled, e.g. ${topic}/${partition}: failing for ${Math.round((Date.now() - sinceMs) / 1000)} s, last error: ${error}`);
      }
    },
  };
}

function ask<T>(actor: Ref<Project<T>>, records: T[]): Promise<RedisOp[]> {
  return new Promise((resolve, reject) => dispatch(actor, { records, reply: (ops) => (ops instanceof Error ? reject(ops) : resolve(ops)) }));
}

/**
 * Our own topics: a record that does not decode is a bug upstream; it is logged and skipped.
 * Each value comes with its JSON text: passing strings keeps ioredis from encoding a command's
 * arguments one Buffer at a time.
 */
function decodeAll<T, R>(
  messages: { value: Buffer | null; offset: string; timestamp: string }[],
  validate: (v: unknown) => { ok: true; value: T } | { ok: false; reason: string },
  topic: string,
  wrap: (value: T, text: string, timestampMs: number) => R,
): R[] {
  const out: R[] = [];
  for (const message of messages) {
    const text = message.value?.toString('utf8') ?? '';
    const json = parseJsonText(text);
    const decoded = json.ok ? validate(json.value) : json;
    if (decoded.ok) out.push(wrap(decoded.value, text, Number(message.timestamp)));
    else {
      metrics.invalid.inc({ topic });
      log.error('skipping a record that does not decode', { topic, offset: message.offset, reason: decoded.reason });
    }
  }
  return out;
}

/** Sends every call now, in pipelines of at most pipelineOpsMax; resolves when Redis acknowledged all. */
async function runPipelines(redis: Redis, ops: RedisOp[]): Promise<void> {
  const sent: Promise<[Error | null, unknown][] | null>[] = [];
  for (let i = 0; i < ops.length; i += pipelineOpsMax) {
    const pipeline = redis.pipeline();
    const calls = pipeline as unknown as Record<string, (...args: (string | number)[]) => unknown>;
    for (const [name, ...args] of ops.slice(i, i + pipelineOpsMax)) calls[name]!(...args);
    sent.push(pipeline.exec());
  }
  for (const replies of await Promise.all(sent)) {
    const failed = (replies ?? []).find(([err]) => err);
    if (failed) throw failed[0];
  }
}

/**
 * Deletes the group and so its committed offsets: its next consumer starts at offset 0. Fails
 * while the group has members. One request, where admin.resetOffsets joins the group once per
 * topic and waits out a fetch (5 s each).
 */
export async function forgetOffsets(admin: Admin, groupId: string): Promise<void> {
  await retriable(async () => {
    try {
      await admin.deleteGroups([groupId]);
    } catch (err) {
      const types = ((err as { groups?: Array<{ error?: { type?: string } }> }).groups ?? []).map((g) => g.error?.type);
      if (types.length > 0 && types.every((t) => t === 'GROUP_ID_NOT_FOUND')) return; // nothing committed yet
      // A fresh broker's coordinator is still loading: kafkajs does not retry these for deleteGroups.
      if (types.length > 0 && types.every((t) => t !== undefined && coordinatorBusy.has(t))) Object.assign(err as object, { retriable: true });
      throw err;
    }
  });
}

const coordinatorBusy = new Set(['COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS', 'NOT_COORDINATOR']);
