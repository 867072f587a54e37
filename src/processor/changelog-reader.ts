import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { logger } from '../log.js';
import { unlessStopped } from '../kafka/unless-stopped.js';
import { watchCrashes } from '../kafka/crashes.js';
import { abortable, withTimeout } from '../timeout.js';

const log = logger('changelog-reader');
/**
 * Connecting and joining its own one-member group takes a second or two. A broker that does not
 * answer fails the restore instead: within the processor consumer's 30 s session, which an
 * open's restore holds meanwhile (in its eachBatch).
 */
const startTimeoutMs = 20_000;

interface ReadJob {
  readonly fromOffset: bigint;
  /** The first offset this job has not read yet. */
  nextOffset: bigint;
  readonly untilOffset: bigint;
  readonly onMessages: (messages: KafkaMessage[]) => Promise<void>;
  readonly done: (err?: unknown) => void;
}

/**
 * Reads ranges of changelog partitions for restore. kafkajs has no assign(), so this is a
 * consumer alone in its own group (one per processor instance): it is given every partition,
 * keeps them paused, and seeks + resumes one only while a restore reads it. read_committed,
 * so aborted snapshots are never restored.
 */
export class ChangelogReader {
  private readonly jobs = new Map<number, ReadJob>();
  /** A new one per start attempt: a consumer that failed to start may still join later, and its listeners would stay. */
  private consumer: Consumer;
  private started: Promise<void> | undefined;
  /** Set once its consumer crashed and kafkajs will not restart it: no restore can succeed any more. */
  stoppedForGood: () => string | undefined = () => undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly groupId: string,
    private readonly onStoppedForGood?: (reason: string) => void,
  ) {
    this.consumer = this.newConsumer();
  }

  private newConsumer(): Consumer {
    return this.kafka.consumer({ groupId: this.groupId, maxWaitTimeInMs: 100, readUncommitted: false, maxBytesPerPartition: 4 * 1024 * 1024 });
  }

  /** Reads [fromOffset, untilOffset] of the partition, handing over committed records in order. An abort ends the read with an error. */
  async read(partition: number, fromOffset: bigint, untilOffset: bigint, onMessages: ReadJob['onMessages'], signal?: AbortSignal): Promise<void> {
    // A start that failed (Kafka unreachable, no join in time) is tried again, with a new consumer, by the next read.
    const started = (this.started ??= withTimeout(this.start(), startTimeoutMs, 'the changelog reader did not start').catch(async (err: unknown) => {
      const failed = this.consumer;
      this.consumer = this.newConsumer();
      this.started = undefined;
      await failed.disconnect().catch(() => undefined);
      throw err;
    }));
    await (signal ? abortable(started, signal) : started);
    signal?.throwIfAborted();
    if (this.jobs.has(partition)) throw new Error(`changelog partition ${partition} is already being read`);
    let job: ReadJob | undefined;
    const aborted = () => {
      if (this.jobs.get(partition) === job) this.finish(partition, signal?.reason instanceof Error ? signal.reason : new Error(`reading changelog partition ${partition} was cancelled`));
    };
    await new Promise<void>((resolve, reject) => {
      job = { fromOffset, nextOffset: fromOffset, untilOffset, onMessages, done: (err) => (err ? reject(err) : resolve()) };
      this.jobs.set(partition, job);
      signal?.addEventListener('abort', aborted, { once: true });
      try {
        this.consumer.seek({ topic: this.topic, partition, offset: fromOffset.toString() });
        this.consumer.resume([{ topic: this.topic, partitions: [partition] }]);
      } catch (err) {
        this.finish(partition, err); // or the partition could never be read again
      }
    }).finally(() => signal?.removeEventListener('abort', aborted));
  }

  private async start(): Promise<void> {
    const consumer = this.consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    // A consumer kafkajs does not restart would leave every restore waiting for good.
    this.stoppedForGood = watchCrashes(consumer, log, (reason) => {
      for (const partition of [...this.jobs.keys()]) this.finish(partition, new Error(`the changelog reader crashed: ${reason}`));
      this.onStoppedForGood?.(`the changelog reader: ${reason}`);
    });
    // kafkajs hands a fetch of only transaction markers or aborted records to no eachBatch. A
    // range may end in such records (a restore up to the last stable offset ends at a marker, and
    // an aborted transaction's records may come in a fetch before its marker): one that starts at
    // or before the job's next offset leaves nothing to read up to its last offset.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const job = this.jobs.get(payload.partition);
      if (!job || payload.batchSize !== 0 || payload.firstOffset === null || BigInt(payload.firstOffset) > job.nextOffset) return;
      this.readTo(payload.partition, job, BigInt(payload.lastOffset));
    });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch, isStale }) => {
        // Fetched before the job's seek (every partition is fetched from 0 until it is first
        // paused): records from below fromOffset would write older snapshots over newer ones.
        if (isStale()) return;
        const job = this.jobs.get(batch.partition);
        if (!job) {
          consumer.pause([{ topic: this.topic, partitions: [batch.partition] }]);
          return;
        }
        try {
          const wanted = batch.messages.filter((m) => BigInt(m.offset) >= job.fromOffset && BigInt(m.offset) <= job.untilOffset);
          if (wanted.length > 0) await job.onMessages(wanted);
          // A job cancelled meanwhile has ended: a later job may hold the partition now.
          if (this.jobs.get(batch.partition) === job) this.readTo(batch.partition, job, BigInt(batch.lastOffset()));
        } catch (err) {
          if (this.jobs.get(batch.partition) === job) this.finish(batch.partition, err);
        }
      },
    });
    await joined;
    log.debug('ready', { topic: this.topic });
  }

  /** The job has read up to lastOffset: done once that reaches its end. */
  private readTo(partition: number, job: ReadJob, lastOffset: bigint): void {
    if (lastOffset + 1n > job.nextOffset) job.nextOffset = lastOffset + 1n;
    if (job.nextOffset > job.untilOffset) this.finish(partition);
  }

  /** The job first: pausing throws once kafkajs stopped the consumer, and the job must end all the same. */
  private finish(partition: number, err?: unknown): void {
    const job = this.jobs.get(partition);
    this.jobs.delete(partition);
    job?.done(err);
    unlessStopped(() => this.consumer.pause([{ topic: this.topic, partitions: [partition] }]));
  }

  async stop(): Promise<void> {
    for (const partition of this.jobs.keys()) this.finish(partition, new Error('processor stopping'));
    await this.consumer.disconnect();
  }
}
