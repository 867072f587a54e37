import type { TopicPartitionOffsetAndMetadata } from 'kafkajs';
import { logger, throttledLog } from '../log.js';
import { unlessStopped } from '../kafka/unless-stopped.js';

/** What the lanes need of the consumer: committing offsets, and fetching a partition again. */
export interface LaneConsumer {
  commitOffsets(offsets: TopicPartitionOffsetAndMetadata[]): Promise<void>;
  seek(at: { topic: string; partition: number; offset: string }): void;
  pause(topics: Array<{ topic: string; partitions: number[] }>): void;
  resume(topics: Array<{ topic: string; partitions: number[] }>): void;
}

/** After a failed batch, its partition rests this long before it is fetched again (Redis may be down). */
export const failureRetryDelayMs = 1_000;
/** After a failure, fresh batches from beyond the seek offset in a row; the last is taken (see refetched). */
const refetchBeyondSeekMax = 3;

interface Lane {
  /** Below it, everything is in Redis: a failure fetches again from here (replays are harmless). */
  resume: string | undefined;
  /**
   * After a failure, where the partition is fetched again. Until a batch that begins at or
   * before it comes, batches are dropped (see refetched): one that begins beyond it and
   * committed would skip the records between, never applied.
   */
  refetchFrom: string | undefined;
  /** Batches from beyond refetchFrom since the failure, each followed by another seek. */
  refetchMisses: number;
  /** Since when its batches fail, with nothing applied in between, and the last error: a stalled partition (see stalled). */
  failing: { sinceMs: number; error: string } | undefined;
  /** Bumped by a failure or a rebalance: steps of an older epoch neither commit nor fail the lane. */
  epoch: number;
  /** The last step: each waits for the one before, so offsets commit in order. */
  tail: Promise<void>;
  /** Steps not yet settled, oldest first. */
  queued: Promise<void>[];
}

const log = logger('projector');
/** During an outage these repeat per request or per retry: a line per 10 s, with how many were left out. */
const logRepeated = throttledLog(log, 10_000);
const laneKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * Per topic-partition, the batches whose Redis calls are sent and not yet acknowledged. The
 * consumer fetches on while Redis applies (kafkajs fetches again only when every batch of the
 * previous fetch returned); an offset is committed once its batch and every earlier one of the
 * partition were acknowledged. Commits of all partitions go out together, one request at a time.
 */
export class CommitLanes {
  private readonly lanes = new Map<string, Lane>();
  private readonly toCommit = new Map<string, TopicPartitionOffsetAndMetadata>();
  private committing: Promise<void> | undefined;

  constructor(
    private readonly consumer: LaneConsumer,
    /** Batches of a partition sent and not yet acknowledged; add() waits beyond. */
    private readonly inFlightMax: number,
  ) {}

  /**
   * Queues a sent batch: done settles when Redis acknowledged it. firstOffset: the offset of the
   * first record fetched, control records included (in our uncompacted topics, where the fetch
   * began); nextOffset: the offset to commit once it is done. fresh: fetched after any seek
   * (eachBatch's isStale said so); marker-only batches cannot tell. Resolves when the partition has room.
   */
  async add(topic: string, partition: number, firstOffset: string, nextOffset: string, done: Promise<void>, fresh = false): Promise<void> {
    done.catch(() => undefined); // handled in order below; never an unhandled rejection meanwhile
    const key = laneKey(topic, partition);
    const lane = this.lane(key);
    if (lane.refetchFrom !== undefined && !this.refetched(lane, topic, partition, firstOffset, fresh)) return;
    lane.resume ??= firstOffset;
    const { epoch, queued } = lane;
    const current = lane;
    const step = lane.tail.then(async () => {
      if (current.epoch !== epoch) return;
      try {
        await done;
      } catch (err) {
        if (current.epoch === epoch) this.fail(current, topic, partition, err);
        return;
      }
      if (current.epoch !== epoch || (current.resume !== undefined && BigInt(nextOffset) <= BigInt(current.resume))) return;
      current.resume = nextOffset;
      current.failing = undefined;
      this.commitSoon(key, { topic, partition, offset: nextOffset });
    });
    lane.tail = step;
    queued.push(step);
    void step.finally(() => queued.shift()); // steps settle in order: the one settling is the head
    while (queued.length > this.inFlightMax && current.epoch === epoch) await queued[0];
  }

  /**
   * After a failure: whether this batch may be queued. One that begins at or before the seek
   * offset holds it (and replays what Redis has, harmlessly). One beyond it would skip records
   * never applied: dropped, and when fresh the partition is sought again (the fetch position
   * moved past the seek). The third fresh one in a row is taken: the broker keeps answering
   * the seek from beyond it, so the records below are gone (retention), not skipped by us.
   */
  private refetched(lane: Lane, topic: string, partition: number, firstOffset: string, fresh: boolean): boolean {
    const from = lane.refetchFrom!;
    if (BigInt(firstOffset) > BigInt(from)) {
      if (!fresh) return false;
      if (++lane.refetchMisses < refetchBeyondSeekMax) {
        log.warn('a batch after a seek begins beyond it; seeking again', { topic, partition, seekOffset: from, firstOffset });
        unlessStopped(() => this.consumer.seek({ topic, partition, offset: from }));
        return false;
      }
      log.error('the log no longer holds the records from the seek offset (retention?); projecting on from the first it has', { topic, partition, seekOffset: from, firstOffset });
    }
    lane.refetchFrom = undefined;
    lane.refetchMisses = 0;
    return true;
  }

  private lane(key: string): Lane {
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = { resume: undefined, refetchFrom: undefined, refetchMisses: 0, failing: undefined, epoch: 0, tail: Promise.resolve(), queued: [] }));
    return lane;
  }

  /**
   * Redis no longer holds what was applied from offset on (it restarted empty, or was restored
   * from an older copy): what is in flight commits nothing, the partition is fetched again from
   * there, and the group's offset goes back there at once, so the loss is acted on once.
   */
  rewind(topic: string, partition: number, offset: string): void {
    const key = laneKey(topic, partition);
    const lane = this.lane(key);
    this.dropQueued(lane);
    lane.resume = offset;
    this.refetch(lane, topic, partition, offset);
    this.commitSoon(key, { topic, partition, offset });
  }

  /** Partitions whose batches have failed for at least forMs with nothing applied since: a gap, Redis down or full. */
  stalled(forMs: number, nowMs = Date.now()): Array<{ topic: string; partition: number; sinceMs: number; error: string }> {
    const found = [];
    for (const [key, lane] of this.lanes) {
      if (lane.failing === undefined || nowMs - lane.failing.sinceMs < forMs) continue;
      const [topic, partition] = key.split('\u0000') as [string, string];
      found.push({ topic, partition: Number(partition), ...lane.failing });
    }
    return found;
  }

  /** After a rebalance kafkajs fetches from the committed offsets: what is in flight commits nothing more. */
  reset(): void {
    for (const lane of this.lanes.values()) lane.epoch++;
    this.lanes.clear();
  }

  /** Resolves when every queued batch settled and its offset was committed, or after waitMs. */
  async settled(waitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    const all = (async () => {
      await Promise.all([...this.lanes.values()].map((lane) => lane.tail));
      await this.committing;
    })();
    await Promise.race([all, timeout]);
    clearTimeout(timer);
  }

  /** Drops what is queued behind the failed batch and fetches the partition again from its resume offset. */
  private fail(lane: Lane, topic: string, partition: number, err: unknown): void {
    lane.failing = { sinceMs: lane.failing?.sinceMs ?? Date.now(), error: String(err) };
    this.dropQueued(lane);
    logRepeated('warn', `${topic}:${partition}`, 'redis failed a batch; fetching the partition again from its last applied offset after a pause', { topic, partition, offset: lane.resume, error: String(err) });
    if (lane.resume !== undefined) this.refetch(lane, topic, partition, lane.resume);
    unlessStopped(() => this.consumer.pause([{ topic, partitions: [partition] }]));
    setTimeout(() => unlessStopped(() => this.consumer.resume([{ topic, partitions: [partition] }])), failureRetryDelayMs).unref();
  }

  private dropQueued(lane: Lane): void {
    lane.epoch++;
    lane.queued = [];
    lane.tail = Promise.resolve();
  }

  private refetch(lane: Lane, topic: string, partition: number, from: string): void {
    lane.refetchFrom = from;
    lane.refetchMisses = 0;
    unlessStopped(() => this.consumer.seek({ topic, partition, offset: from }));
  }

  private commitSoon(key: string, offset: TopicPartitionOffsetAndMetadata): void {
    this.toCommit.set(key, offset);
    this.committing ??= this.commitAll();
  }

  private async commitAll(): Promise<void> {
    while (this.toCommit.size > 0) {
      const offsets = [...this.toCommit.values()];
      this.toCommit.clear();
      // A failed commit (a rebalance) only means these records may be projected again: harmless.
      await this.consumer.commitOffsets(offsets).catch((err: unknown) => log.warn('committing projector offsets failed', { error: String(err) }));
    }
    this.committing = undefined;
  }
}
