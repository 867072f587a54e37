import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Partitioners, type Admin, type Consumer, type EachBatchPayload, type Kafka, type Producer } from 'kafkajs';
import { start, stop as stopActor, type Ref } from 'nact';
import type { Topology } from '../../topics/index.js';
import { retriable } from '../kafka/retry.js';
import { unlessStopped } from '../kafka/unless-stopped.js';
import { watchCrashes } from '../kafka/crashes.js';
import { logger } from '../log.js';
import { processorMetrics as metrics } from '../metrics.js';
import { ChangelogReader } from './changelog-reader.js';
import { PartitionWorker, type ProcessorLimits } from './partition-worker.js';

export interface ProcessorOptions {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly topics: Topology;
  readonly appId: string;
  readonly dataDir: string;
  readonly limits: ProcessorLimits;
  /** Partitions whose batches are handled at the same time (overlaps one's commit with another's work). */
  readonly partitionsConcurrently: number;
  /** Bytes fetched per partition per batch: bounds the batch size. */
  readonly batchBytesMax: number;
  /** Called once if its consumer or its changelog reader's stops for good (kafkajs will not restart it): main stops the process, so that its supervisor restarts it. */
  readonly onStoppedForGood?: (reason: string) => void;
}

export interface Processor {
  stop(): Promise<void>;
  /**
   * Throws when a consumer of the role stopped for good (kafkajs will not restart it), or a
   * partition keeps failing: /health reports it. Else the partitions' state: how many this
   * instance owns, which of them are being restored from the changelog (on assignment, or
   * opened at their first batch), failed to (retried; a failed open is reported down after
   * 60 s), or back off after a failed batch.
   */
  check(): Promise<{ partitionsOwned: number; restoring: number[]; openFailing: number[]; backingOff: number[] }>;
}

const log = logger('processor');
/** On stop, how long accepted batches get to commit before the workers close. */
const stopDrainWaitMs = 10_000;
/** A partition that has failed to open (restore, store, producer), or failed its batches without a commit, this long makes /health report the processor down. */
export const openFailingReportMs = 60_000;
/** A failed restore on assignment is tried again after this long, while its partition has not been opened. */
const restoreAheadRetryMs = 5_000;
/** The longest pause before a failed partition is fetched again; the first is 1 s, doubling with each failure at the same offset. */
const failureRetryDelayMaxMs = 30_000;

/**
 * The processor role: a consumer group on `commands`, one PartitionWorker per assigned partition,
 * one Kafka transaction per batch. Any failure in a batch closes that partition's worker (its
 * actors' tentative state is dropped) and kafkajs fetches the same batch again for a new worker.
 */
export async function startProcessor(options: ProcessorOptions): Promise<Processor> {
  const { kafka, admin, topics, appId } = options;
  const groupId = `${appId}-processor`;
  const actorSystem = start() as Ref<unknown>;
  const reader = new ChangelogReader(kafka, topics.changelog.name, `${appId}-restore-${randomUUID()}`, options.onStoppedForGood);
  const workers = new Map<number, { worker: PartitionWorker; producer: Producer }>();
  let assigned = new Set<number>();
  /** Partitions whose worker failed to open, since when and why; cleared when one opens. */
  const openFailures = new Map<number, { sinceMs: number; error: string }>();
  /**
   * Partitions whose batches failed and have not committed since: when the first failed, the
   * offset they failed at, how many failed. Cleared by a commit past that offset.
   */
  const batchFailures = new Map<number, { sinceMs: number; error: string; offset: bigint; count: number }>();
  /** Partitions paused after a failed batch, and the timer that resumes each when its retry is due. */
  const backingOff = new Map<number, NodeJS.Timeout>();
  /** Set by stop(): nothing is fetched or resumed any more while the accepted batches commit. */
  let stopping = false;

  const consumer: Consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    maxWaitTimeInMs: 100,
    maxBytesPerPartition: options.batchBytesMax,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
  });

  /** Partitions whose worker is being opened: waiting for the previous one to close, or restoring. */
  const opening = new Set<number>();
  /** Workers being closed: a new worker of the partition waits for its store and transactional id to be let go. */
  const closing = new Map<number, Promise<void>>();
  /** Partitions paused while their store is restored on assignment (see restoreAhead), and how to cancel each. */
  const restoringAhead = new Map<number, { controller: AbortController; done: Promise<void> }>();
  /** Partitions whose restore on assignment failed, and why; cleared when one succeeds or the partition opens. */
  const restoreAheadFailures = new Map<number, string>();

  async function closeWorker(partition: number): Promise<void> {
    const entry = workers.get(partition);
    if (!entry) return closing.get(partition);
    workers.delete(partition);
    const closed = (async () => {
      await entry.worker.close().catch((err: unknown) => log.warn('closing worker failed', { partition, error: String(err) }));
      await entry.producer.disconnect().catch(() => undefined);
      updateLiveActors();
    })();
    closing.set(partition, closed);
    await closed;
    if (closing.get(partition) === closed) closing.delete(partition);
  }

  /** undefined: the partition was revoked, or the processor began to stop, while the open waited for the store. */
  async function openWorker(partition: number, heartbeat: () => Promise<void>): Promise<PartitionWorker | undefined> {
    opening.add(partition);
    try {
      return await openWorkerOnce(partition, heartbeat);
    } finally {
      opening.delete(partition);
    }
  }

  async function openWorkerOnce(partition: number, heartbeat: () => Promise<void>): Promise<PartitionWorker | undefined> {
    // Else RocksDB refuses the store's lock, and two producers of one transactional id fence each
    // other. Its batch in flight may take a while: the group membership is kept meanwhile. (No
    // restore on assignment runs now: eachBatch leaves a partition being restored alone.)
    const previous = closing.get(partition);
    if (previous) {
      const beating = setInterval(() => void heartbeat().catch(() => undefined), 1_000);
      await previous.finally(() => clearInterval(beating));
      // kafkajs may rejoin meanwhile (it does inside a fetch, while other batches are handled): a
      // revoked partition's producer would fence its new owner.
      if (!assigned.has(partition) || stopping) return undefined;
    }
    const producer = kafka.producer({
      transactionalId: `${appId}-processor-p${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      // After a crash, the broker aborts the dead owner's open transactions only at this timeout
      // or when the new owner's producer fences them, which it does at the partition's first
      // batch. Until then they hold back what readers of the partitions they wrote to may see
      // (saga commands go to other commands partitions). A transaction here lasts one commit,
      // but its sends may retry for up to about 20 s (retries below): one that overran would be
      // aborted and retried whole, again and again while the broker stays slow. So 30 s.
      transactionTimeout: 30_000,
      createPartitioner: Partitioners.DefaultPartitioner,
      // The next transaction's first request can meet CONCURRENT_TRANSACTIONS while the broker
      // still writes the previous one's markers; kafkajs retries it after initialRetryTime. With
      // the shared 100 ms, bench:e2e measured a mean commit of 233 ms; with 10 ms, 177 ms (one run each).
      retry: { initialRetryTime: 10, maxRetryTime: 1_000, retries: 20 },
    });
    await producer.connect();
    try {
      const worker = await PartitionWorker.open({
        partition,
        partitionCount: await partitionCount(),
        topics,
        groupId,
        dataDir: join(options.dataDir, appId),
        producer,
        reader,
        actorSystem,
        limits: options.limits,
        committedOffset: () => committedOffset(admin, groupId, topics.commands.name, partition),
        clusterId,
        owns: () => assigned.has(partition),
        partitionsOwned: () => assigned.size,
        actorsChanged: () => updateLiveActors(),
      }, heartbeat);
      workers.set(partition, { worker, producer });
      return worker;
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  /**
   * On assignment: the partition is paused while its store is brought up to the changelog's end
   * (PartitionWorker.restoreAhead), then resumed, so an idle partition is restored too and its
   * first batch opens with little left to read. Paused, not held in an eachBatch: kafkajs then
   * heartbeats and rebalances meanwhile, and a revoked partition's restore is cancelled. A failed
   * one is tried again after restoreAheadRetryMs while the partition is still to be opened; its
   * first batch opens it meanwhile, restoring it in any case (and /health reports a failing open).
   */
  function restoreAhead(partition: number, ends = () => changelogEnds(admin, topics.changelog.name)): void {
    const controller = new AbortController();
    unlessStopped(() => consumer.pause([{ topic: topics.commands.name, partitions: [partition] }]));
    const done = (async () => {
      await closing.get(partition); // the previous worker lets the store go first
      await PartitionWorker.restoreAhead({ partition, dataDir: join(options.dataDir, appId), reader, clusterId, changelogEnd: async () => (await ends()).get(partition)! }, controller.signal);
      restoreAheadFailures.delete(partition);
    })()
      .catch((err: unknown) => {
        log.warn('restoring on assignment failed; tried again, and the first batch restores the partition in any case', { partition, retryInMs: restoreAheadRetryMs, error: String(err) });
        restoreAheadFailures.set(partition, String(err));
        setTimeout(() => {
          if (toRestore(partition)) restoreAhead(partition);
        }, restoreAheadRetryMs).unref();
      })
      .finally(() => {
        restoringAhead.delete(partition);
        // Revoked, and assigned again before this restore had ended (the join found it running): restored anew.
        if (controller.signal.aborted && toRestore(partition)) restoreAhead(partition);
        else if (assigned.has(partition)) resumeUnlessHeld(partition);
      });
    restoringAhead.set(partition, { controller, done });
  }

  let cluster: Promise<string> | undefined; // asked once; a failure is asked again next time
  const clusterId = () =>
    (cluster ??= retriable(() => admin.describeCluster()).then(
      (c) => c.clusterId,
      (err: unknown) => {
        cluster = undefined;
        throw err;
      },
    ));

  let partitions: number | undefined;
  const partitionCount = async () => (partitions ??= (await retriable(() => admin.fetchTopicMetadata({ topics: [topics.commands.name] }))).topics[0]!.partitions.length);

  const updateLiveActors = () => metrics.liveActors.set([...workers.values()].reduce((n, { worker }) => n + worker.liveActors, 0));

  /**
   * Hands the batch to its partition's worker, which commits it in the background: the consumer
   * fetches on instead of waiting for the slowest partition's transaction (kafkajs waits for every
   * eachBatch of a fetch before the next fetch). A partition whose worker is full is paused, not
   * waited for, so the others are fetched meanwhile.
   */
  async function eachBatch({ batch, heartbeat, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    // Stopping: a batch fetched before the pause is left to the next owner (nothing opened, nothing resolved).
    if (!isRunning() || isStale() || batch.isEmpty() || stopping) return;
    const { partition } = batch;
    if (!assigned.has(partition)) throw new Error(`partition ${partition} is not assigned to this instance`);
    let worker = workers.get(partition)?.worker;
    // Fetched before the pause of a restore on assignment: fetched again once it is resumed (nothing resolved).
    if (!worker && restoringAhead.has(partition)) return;
    try {
      worker ??= await openWorker(partition, heartbeat);
      if (!worker) return; // revoked, or stopping, while it waited
      openFailures.delete(partition);
      restoreAheadFailures.delete(partition);
    } catch (err) {
      // Revoked while it opened (PartitionWorker.restore refuses to fence then): the new owner's, not a failure here.
      if (!assigned.has(partition)) return;
      openFailures.set(partition, { sinceMs: openFailures.get(partition)?.sinceMs ?? Date.now(), error: String(err) });
      // kafkajs stops the consumer for good at an error it deems not retriable (a fencing by a
      // previous owner that has not noticed it lost the partition, say): it is fetched and
      // opened again instead, after kafkajs's backoff.
      throw Object.assign(new Error(`opening partition ${partition} failed: ${String(err)}`), { retriable: true });
    }
    const onFailure = (err: unknown) => void failed(partition, worker, err).catch((e: unknown) => log.error('dropping a failed partition failed', { partition, error: String(e) }));
    const full = await worker.accept({ messages: batch.messages, lastOffset: BigInt(batch.lastOffset()) }, heartbeat, onFailure);
    resolveOffset(batch.lastOffset());
    if (full) {
      consumer.pause([{ topic: topics.commands.name, partitions: [partition] }]);
      // Also when the worker closes: a new one takes over (after the backoff, if it failed).
      worker.whenRoom(() => resumeUnlessHeld(partition));
    }
    updateLiveActors();
  }

  /**
   * A batch failed: the worker's tentative state and queued batches are dropped, and the consumer
   * goes back to the last committed offset, where a new worker (restored from the changelog) resumes.
   */
  async function failed(partition: number, worker: PartitionWorker, err: unknown): Promise<void> {
    if (workers.get(partition)?.worker !== worker) return;
    const offset = worker.resumeOffset;
    const previous = batchFailures.get(partition);
    const failure = previous && previous.offset === offset ? { ...previous, error: String(err), count: previous.count + 1 } : { sinceMs: Date.now(), error: String(err), offset, count: 1 };
    batchFailures.set(partition, failure);
    // Each retry opens a worker anew (a producer, a restore): a batch that fails every time is
    // retried after 1, 2, 4 ... up to 30 s, not several times a second.
    const retryInMs = Math.min(failureRetryDelayMaxMs, 1_000 * 2 ** (failure.count - 1));
    log.warn('batch failed; dropping the partition state, fetching again from the committed offset', { partition, offset: String(offset), failures: failure.count, retryInMs, error: String(err) });
    // Synchronously, before any other batch of this partition: it finds no worker and a pending seek (isStale).
    unlessStopped(() => {
      consumer.seek({ topic: topics.commands.name, partition, offset: offset.toString() });
      consumer.pause([{ topic: topics.commands.name, partitions: [partition] }]);
    });
    clearTimeout(backingOff.get(partition)); // one timer per partition: an older one must not end this backoff early
    backingOff.set(
      partition,
      setTimeout(() => {
        backingOff.delete(partition);
        resumeUnlessHeld(partition);
      }, retryInMs).unref(),
    );
    await closeWorker(partition);
  }

  /** An assigned partition with no worker, none being opened or restored, while the processor runs. */
  const toRestore = (partition: number) => assigned.has(partition) && !workers.has(partition) && !opening.has(partition) && !restoringAhead.has(partition) && !stopping;

  /** A paused partition is fetched again, unless its backoff is still due, it is being restored on assignment, or the processor is stopping. */
  function resumeUnlessHeld(partition: number): void {
    if (!backingOff.has(partition) && !restoringAhead.has(partition) && !stopping) unlessStopped(() => consumer.resume([{ topic: topics.commands.name, partitions: [partition] }]));
  }

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    assigned = new Set(payload.memberAssignment[topics.commands.name] ?? []);
    for (const [partition, { controller }] of restoringAhead) if (!assigned.has(partition)) controller.abort();
    // A consumer kafkajs restarted (after a crash) starts with nothing paused: backoffs still due, and restores, are paused again.
    const held = [...backingOff.keys(), ...restoringAhead.keys()].filter((partition) => assigned.has(partition));
    if (held.length > 0) unlessStopped(() => consumer.pause([{ topic: topics.commands.name, partitions: held }]));
    log.info('partitions assigned', { partitions: [...assigned].sort((a, b) => a - b) });
    let ends: Promise<Map<number, bigint>> | undefined; // asked once for the restores this join starts
    for (const partition of assigned) if (toRestore(partition)) restoreAhead(partition, () => (ends ??= changelogEnds(admin, topics.changelog.name)));
    for (const partition of restoreAheadFailures.keys()) if (!assigned.has(partition)) restoreAheadFailures.delete(partition);
    for (const partition of workers.keys()) if (!assigned.has(partition)) void closeWorker(partition);
    for (const partition of openFailures.keys()) if (!assigned.has(partition)) openFailures.delete(partition);
    for (const partition of batchFailures.keys()) if (!assigned.has(partition)) batchFailures.delete(partition);
  });
  // kafkajs hands a batch of only transaction markers to no eachBatch; its offsets go with the
  // partition's next commit. Not one with no record at or after the fetched offset (no first
  // offset): kafkajs then reports an end it did not read.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.batchSize !== 0 || payload.firstOffset === null) return;
    const worker = workers.get(payload.partition)?.worker;
    if (worker) return worker.skip(BigInt(payload.firstOffset), BigInt(payload.lastOffset));
    // No worker, and the fetch went past a failed batch's offset with only markers: nothing is failing there.
    const failure = batchFailures.get(payload.partition);
    if (failure && failure.offset <= BigInt(payload.lastOffset)) batchFailures.delete(payload.partition);
  });
  const stoppedForGood = watchCrashes(consumer, log, options.onStoppedForGood);

  await consumer.connect();
  await consumer.subscribe({ topic: topics.commands.name, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: options.partitionsConcurrently,
    eachBatch,
  });

  return {
    stop: async () => {
      // What was fetched is committed if it can be within the wait, while this instance is still
      // the group's member and owner (leaving first, a new owner's restore fenced these commits,
      // and they were aborted and redone); the rest is fetched again by the next owner.
      stopping = true;
      // The assigned partitions by name: a pause of the whole topic would be undone by the next pause of one partition (kafkajs's pauseAll).
      unlessStopped(() => consumer.pause([{ topic: topics.commands.name, partitions: [...assigned] }]));
      for (const { controller } of restoringAhead.values()) controller.abort();
      await Promise.all([...workers.values()].map(({ worker }) => worker.idle(stopDrainWaitMs)));
      await consumer.disconnect();
      await reader.stop().catch(() => undefined);
      await Promise.all([...restoringAhead.values()].map(({ done }) => done)); // each closes its store
      await Promise.all([...workers.keys()].map(closeWorker));
      stopActor(actorSystem as never);
    },
    check: async () => {
      const failure = stoppedForGood() ?? reader.stoppedForGood();
      if (failure !== undefined) throw new Error(`processing stopped for good, restart the process: ${failure}`);
      for (const [partition, { sinceMs, error }] of openFailures) {
        // Not while a restore on assignment reads it: that is progress, and the open is tried when it ends.
        if (!restoringAhead.has(partition) && Date.now() - sinceMs >= openFailingReportMs) throw new Error(`partition ${partition} has failed to open for ${Math.round((Date.now() - sinceMs) / 1000)} s: ${error}`);
      }
      for (const [partition, { sinceMs, error, offset, count }] of batchFailures) {
        const worker = workers.get(partition)?.worker;
        if (worker && worker.resumeOffset > offset) batchFailures.delete(partition); // committed past it
        // More than once: a single failure whose retry found only transaction markers (no worker to commit them) is no stall.
        else if (count > 1 && Date.now() - sinceMs >= openFailingReportMs) {
          throw new Error(`partition ${partition} has failed ${count} batches at offset ${offset} for ${Math.round((Date.now() - sinceMs) / 1000)} s, none committed: ${error}`);
        }
      }
      const owned = (partitions: Iterable<number>) => [...partitions].filter((p) => assigned.has(p)).sort((a, b) => a - b);
      return { partitionsOwned: assigned.size, restoring: owned(new Set([...opening, ...restoringAhead.keys()])), openFailing: owned(new Set([...openFailures.keys(), ...restoreAheadFailures.keys()])), backingOff: owned(backingOff.keys()) };
    },
  };
}

/** The changelog's last stable offset per partition (admin's listOffsets is read_committed): below it, every transaction has ended. */
async function changelogEnds(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const offsets = await retriable(() => admin.fetchTopicOffsets(topic));
  return new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
}

async function committedOffset(admin: Admin, groupId: string, topic: string, partition: number): Promise<bigint> {
  const [offsets] = await retriable(() => admin.fetchOffsets({ groupId, topics: [topic] }));
  const offset = offsets?.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
  return BigInt(offset);
}
