import { join } from 'node:path';
import type { KafkaMessage, Producer } from 'kafkajs';
import { dispatch, spawn, stop, type Ref } from 'nact';
import { spawnAccountActor, type HandleCommands, type HandledCommands } from '../../actors/account/actor.js';
import { emptySnapshot } from '../../actors/account/host.js';
import { decodeSnapshot, restoreMarkerKey, type AggregateSnapshot } from '../../topics/aggregates-changelog.js';
import { decodeCommand } from '../../topics/commands.js';
import type { Topology } from '../../topics/index.js';
import { logger } from '../log.js';
import { processorMetrics as metrics } from '../metrics.js';
import { RocksStore, type BatchOp } from '../store/rocks.js';
import { BatchOutput } from './batch-output.js';
import type { ChangelogReader } from './changelog-reader.js';
import { abortable, withTimeout } from '../timeout.js';

export interface ProcessorLimits {
  /** Aggregate actors kept in memory per partition; the least recently used are passivated. */
  readonly liveActorsPerPartitionMax: number;
  /** Aggregate actors kept in memory by the process, shared evenly by the partitions it owns. */
  readonly liveActorsMax: number;
  /** An actor idle this long is passivated after the next commit. */
  readonly actorIdleMs: number;
  /** How long a batch waits for its actors' replies before it fails (and is retried). */
  readonly actorReplyTimeoutMs: number;
  /** Batches of a partition accepted and not yet committed (the one committing included); fetching waits beyond. */
  readonly batchesInFlightPerPartitionMax: number;
  /** Their keys' and values' bytes: fetching waits when one more fetch (batchBytesMax) would pass it. */
  readonly bytesInFlightPerPartitionMax: number;
  /** Batches waiting behind a commit are merged into one transaction up to this many bytes of keys and values. */
  readonly batchBytesMax: number;
}

/** A fetched batch: its records, and the offset to commit past (control records included). */
export interface FetchedBatch {
  readonly messages: KafkaMessage[];
  readonly lastOffset: bigint;
}

export interface WorkerContext {
  readonly partition: number;
  /** Of `commands`: a command's key must hash (murmur2) to the partition it arrived on. */
  readonly partitionCount: number;
  readonly topics: Topology;
  readonly groupId: string;
  readonly dataDir: string;
  readonly producer: Producer;
  readonly reader: ChangelogReader;
  readonly actorSystem: Ref<unknown>;
  readonly limits: ProcessorLimits;
  /** The committed offset of commands/p, read after our producer fenced any previous owner. */
  readonly committedOffset: () => Promise<bigint>;
  /** The Kafka cluster's id: a store restored from another cluster's changelog is emptied first. */
  readonly clusterId: () => Promise<string>;
  /**
   * Whether the group's last assignment still gives this instance the partition: a transaction
   * is aborted, not committed, once it does not (the new owner's restore fences this producer
   * too, but only once it has started).
   */
  readonly owns: () => boolean;
  /** How many partitions this process owns now: they share limits.liveActorsMax. */
  readonly partitionsOwned: () => number;
  /** Called after a batch passivated actors (for the live actors gauge). */
  readonly actorsChanged: () => void;
}

/** See PartitionWorker.isFull: full by count, or when one more fetch would pass the bytes bound; an empty queue never is. */
export function queueIsFull(queue: readonly { bytes: number }[], limits: Pick<ProcessorLimits, 'batchesInFlightPerPartitionMax' | 'bytesInFlightPerPartitionMax' | 'batchBytesMax'>): boolean {
  if (queue.length === 0) return false;
  let bytes = 0;
  for (const batch of queue) bytes += batch.bytes;
  return queue.length >= limits.batchesInFlightPerPartitionMax || bytes + limits.batchBytesMax > limits.bytesInFlightPerPartitionMax;
}

/**
 * Batches at the head of a partition's queue that may keep their fetch response alive: kafkajs
 * hands out keys and values as slices of the whole response (every partition's records, up to
 * 10 MiB), so a small queued batch holds all of it. Deeper batches hold copies (see detached):
 * the bytes bound then bounds their memory. Copying every batch cost about 9% of
 * bench:processor's throughput; there the bytes bound pauses at two batches and nothing is copied.
 */
const uncopiedBatchesMax = 2;

const bytesOf = (messages: KafkaMessage[]) => messages.reduce((n, m) => n + (m.key?.length ?? 0) + (m.value?.length ?? 0), 0);

/** The messages with their keys and values copied into one buffer of their own, and its size. Header values (rare on commands) are copied one by one. */
function detached(messages: KafkaMessage[]): { messages: KafkaMessage[]; bytes: number } {
  const bytes = bytesOf(messages);
  const own = Buffer.allocUnsafeSlow(bytes);
  let at = 0;
  const copy = (b: Buffer | null | undefined): Buffer | null => {
    if (!b) return null;
    const start = at;
    at += b.copy(own, at);
    return own.subarray(start, at);
  };
  const copied = messages.map((m) => {
    const headers = m.headers && Object.keys(m.headers).length > 0 ? copyHeaders(m.headers) : m.headers;
    return { ...m, key: copy(m.key), value: copy(m.value), headers } as KafkaMessage;
  });
  return { messages: copied, bytes };
}

function copyHeaders(headers: NonNullable<KafkaMessage['headers']>): NonNullable<KafkaMessage['headers']> {
  const copyOne = (v: Buffer | string | undefined) => (Buffer.isBuffer(v) ? Buffer.from(v) : v);
  return Object.fromEntries(Object.entries(headers).map(([name, v]) => [name, Array.isArray(v) ? v.map(copyOne) : copyOne(v)])) as NonNullable<KafkaMessage['headers']>;
}

const snapshotKey = (aggregateId: string) => `a:${aggregateId}`;
const changelogOffsetKey = 'm:changelog-offset';
const clusterIdKey = 'm:cluster-id';
const restoreWriteBatchMax = 5_000;
/**
 * A restore on assignment reads up to the changelog's last stable offset. The reader knows it
 * got there from a record at or past that offset; should none follow a gap the log compacted
 * away, or should the reader be starved by other partitions' restores, it stops after this long
 * without a record. What it read stays, and the partition's first batch restores the rest (up
 * to a marker of its own).
 */
const restoreAheadStallMs = 30_000;
const log = logger('processor');

/**
 * Writes the snapshots of changelog/p's [fromOffset, untilOffset] into the store, each fetched
 * batch with the offset it reaches (a restore cut short resumes there), calling afterWrite after
 * each; returns how many snapshots.
 */
async function readIntoStore(store: RocksStore, reader: ChangelogReader, partition: number, fromOffset: bigint, untilOffset: bigint, afterWrite: () => Promise<void>, signal?: AbortSignal): Promise<number> {
  let restored = 0;
  const write = async (messages: KafkaMessage[]) => {
    signal?.throwIfAborted(); // the read has ended: its store may be closing
    const ops: BatchOp[] = [];
    for (const message of messages) {
      const key = message.key?.toString();
      if (!key || key === restoreMarkerKey || !message.value) continue;
      ops.push({ type: 'put', key: snapshotKey(key), value: message.value });
    }
    const snapshots = ops.length;
    // Last, so it lands in the last write, with the last snapshots.
    ops.push({ type: 'put', key: changelogOffsetKey, value: String(BigInt(messages.at(-1)!.offset) + 1n) });
    for (let i = 0; i < ops.length; i += restoreWriteBatchMax) await store.write(ops.slice(i, i + restoreWriteBatchMax));
    restored += snapshots;
    await afterWrite();
  };
  let writing: Promise<void> = Promise.resolve();
  try {
    await reader.read(partition, fromOffset, untilOffset, (messages) => (writing = write(messages)), signal);
  } catch (err) {
    // A read ended early (cancelled, the reader stopping) while a write may still run: the caller closes the store next.
    await writing.catch(() => undefined);
    throw err;
  }
  return restored;
}

/**
 * Owns one input partition: its RocksDB store, its transactional producer and the actors of
 * its aggregates. Actor state is tentative until the batch's transaction commits; after any
 * failure the worker is closed and a new one restores from the committed truth.
 */
export class PartitionWorker {
  private readonly actors = new Map<string, { ref: Ref<HandleCommands>; lastUsedMs: number }>();
  private parent: Ref<unknown>;
  /** The first offset not yet accepted: records below it are queued or committed already (by us or a previous owner). */
  private nextOffset = 0n;
  /** What our last commit (or the previous owner's) moved the group's offset to: where a retry resumes. */
  private committed = 0n;
  /** Accepted batches, oldest first; the head ones are being handled and committed. */
  private readonly queue: (FetchedBatch & { bytes: number })[] = [];
  /** Called once when the queue has room again (or the worker closes). */
  private roomWaiters: (() => void)[] = [];
  private draining: Promise<void> | undefined;
  /** Head batches of the queue that drain() is handling now (merged into one transaction). */
  private handling = 0;
  /** From the last accept(): what skip() queues with. */
  private lastAccepted: { heartbeat: () => Promise<void>; onFailure: (err: unknown) => void } | undefined;
  /** A skip() that came while every queued batch was committing: the next batch covers it, or drain() commits it alone. */
  private skippedOffset: bigint | undefined;
  private closed = false;
  private spawned = 0;

  private constructor(
    private readonly ctx: WorkerContext,
    private readonly store: RocksStore,
  ) {
    this.parent = spawn(ctx.actorSystem as never, (state: unknown) => state, `p${ctx.partition}-${Date.now()}`) as Ref<unknown>;
  }

  /**
   * On assignment, before the partition's first batch: brings its store up to the changelog's
   * last stable offset (changelogEnd), so that the open at the first batch (its marker, below)
   * reads only what was committed since. It writes nothing to Kafka: the previous owner may still
   * be committing, and fencing it is the open's work, inside eachBatch, where kafkajs waits for
   * it before a rebalance. A store found to be of another changelog (by cluster id, or ending
   * beyond this one) is left to the open, which empties it. Resolves early, without an error,
   * when the signal aborts (the partition was revoked), or when nothing comes for
   * restoreAheadStallMs (see there): what was read so far stays in the store.
   */
  static async restoreAhead(ctx: Pick<WorkerContext, 'partition' | 'dataDir' | 'reader' | 'clusterId'> & { changelogEnd: () => Promise<bigint> }, signal: AbortSignal): Promise<void> {
    const startedMs = Date.now();
    const { partition } = ctx;
    if (signal.aborted) return;
    const store = await RocksStore.open(join(ctx.dataDir, `p${partition}`));
    // Ends the restore when the signal aborts, or when nothing has come for restoreAheadStallMs.
    const stop = new AbortController();
    const abort = () => stop.abort(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    if (signal.aborted) abort();
    let progressMs = Date.now();
    let stalled = false;
    const watchdog = setInterval(() => {
      if (Date.now() - progressMs <= restoreAheadStallMs) return;
      stalled = true;
      stop.abort(new Error(`restoring on assignment: nothing came for ${restoreAheadStallMs} ms`));
    }, 1_000).unref();
    try {
      const fromOffset = BigInt((await store.get(changelogOffsetKey))?.toString() ?? '0');
      const storedClusterId = (await store.get(clusterIdKey))?.toString();
      const [clusterId, endOffset] = await abortable(Promise.all([ctx.clusterId(), ctx.changelogEnd()]), stop.signal);
      if ((storedClusterId !== undefined && storedClusterId !== clusterId) || fromOffset >= endOffset) return;
      const restored = await readIntoStore(store, ctx.reader, partition, fromOffset, endOffset - 1n, async () => void (progressMs = Date.now()), stop.signal);
      await store.write([
        { type: 'put', key: changelogOffsetKey, value: String(endOffset) },
        { type: 'put', key: clusterIdKey, value: clusterId },
      ]);
      metrics.restoreSeconds.observe({ at: 'assignment' }, (Date.now() - startedMs) / 1000);
      log.info('partition restored on assignment', { partition, fromOffset: String(fromOffset), toOffset: String(endOffset - 1n), snapshots: restored, ms: Date.now() - startedMs });
    } catch (err) {
      if (signal.aborted) return;
      if (!stalled) throw err;
      log.info('restoring on assignment stopped, nothing came; the first batch restores the rest', { partition, stallMs: restoreAheadStallMs });
    } finally {
      clearInterval(watchdog);
      signal.removeEventListener('abort', abort);
      await store.close();
    }
  }

  /** heartbeat: the consumer's, called while restoring so a long restore keeps the group membership. */
  static async open(ctx: WorkerContext, heartbeat: () => Promise<void>): Promise<PartitionWorker> {
    const store = await RocksStore.open(join(ctx.dataDir, `p${ctx.partition}`));
    try {
      const worker = new PartitionWorker(ctx, store);
      await worker.restore(heartbeat);
      const committed = await ctx.committedOffset(); // -1: nothing committed yet
      worker.committed = worker.nextOffset = committed > 0n ? committed : 0n;
      return worker;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /**
   * Brings the store up to the end of changelog/p. A marker record, committed by our producer,
   * marks that end: committing it proves that any earlier owner of this transactional id is
   * fenced (its open transaction aborted), so nothing can land after what we read.
   */
  private async restore(heartbeat: () => Promise<void>): Promise<void> {
    const startedMs = Date.now();
    const { partition, topics, producer } = this.ctx;
    let fromOffset = BigInt((await this.store.get(changelogOffsetKey))?.toString() ?? '0');
    const clusterId = await this.ctx.clusterId();
    const storedClusterId = (await this.store.get(clusterIdKey))?.toString();
    // The first transaction initialises the transactional id, fencing its other holders: not for
    // a partition revoked since (kafkajs can rejoin inside a fetch while other batches open).
    if (!this.ctx.owns()) throw new Error(`partition ${partition} was revoked before its restore`);
    const tx = await producer.transaction();
    let markerOffset: bigint;
    try {
      const [sent] = await tx.send({ topic: topics.changelog.name, messages: [{ key: restoreMarkerKey, value: String(Date.now()), partition }] });
      await tx.commit();
      markerOffset = BigInt(sent!.baseOffset!);
    } catch (err) {
      await tx.abort().catch(() => undefined);
      throw err;
    }
    // A store from another cluster, or beyond the end of this changelog (the topic was deleted
    // and created again): its snapshots are not this changelog's, and restoring over them
    // would bring back aggregates the log does not have.
    if ((storedClusterId !== undefined && storedClusterId !== clusterId) || fromOffset > markerOffset) {
      log.warn('the store is not of this changelog: emptied, restoring from offset 0', { partition, storeOffset: String(fromOffset), changelogEnd: String(markerOffset), storedClusterId, clusterId });
      await this.empty(heartbeat);
      fromOffset = 0n;
    }
    const restored = await readIntoStore(this.store, this.ctx.reader, partition, fromOffset, markerOffset, heartbeat);
    await this.store.write([
      { type: 'put', key: changelogOffsetKey, value: String(markerOffset + 1n) },
      { type: 'put', key: clusterIdKey, value: clusterId },
    ]);
    metrics.restoreSeconds.observe({ at: 'open' }, (Date.now() - startedMs) / 1000);
    log.info('partition restored', { partition, fromOffset: String(fromOffset), toOffset: String(markerOffset), snapshots: restored, ms: Date.now() - startedMs });
  }

  /** Deletes every key of the store, keeping the group membership meanwhile. */
  private async empty(heartbeat: () => Promise<void>): Promise<void> {
    let ops: BatchOp[] = [];
    for await (const [key] of this.store.entries()) {
      ops.push({ type: 'del', key });
      if (ops.length === restoreWriteBatchMax) {
        await this.store.write(ops);
        await heartbeat();
        ops = [];
      }
    }
    await this.store.write(ops);
  }

  /**
   * Queues a fetched batch and returns, so the consumer fetches on while the batch commits.
   * Batches are handled and committed one after another, each partition on its own, not in
   * rounds with the others. Returns true when the queue of batches accepted and not committed
   * is now full (see isFull): the caller then pauses the partition until whenRoom. (A batch
   * that still comes waits here for room.)
   * onFailure: called once when a batch fails; the worker is unusable from then on, and the
   * caller fetches again from resumeOffset with a new worker.
   */
  async accept(batch: FetchedBatch, heartbeat: () => Promise<void>, onFailure: (err: unknown) => void): Promise<boolean> {
    if (batch.lastOffset < this.nextOffset) return false; // fetched again after a consumer restart: accepted already
    while (!this.closed && this.isFull) await new Promise<void>((resolve) => this.whenRoom(resolve));
    if (this.closed) return false;
    const fetched = batch.messages.filter((m) => BigInt(m.offset) >= this.nextOffset);
    const { messages, bytes } = this.queue.length < uncopiedBatchesMax ? { messages: fetched, bytes: bytesOf(fetched) } : detached(fetched);
    this.nextOffset = batch.lastOffset + 1n;
    this.lastAccepted = { heartbeat, onFailure };
    this.skippedOffset = undefined; // below this batch's offsets
    this.enqueue({ messages, lastOffset: batch.lastOffset, bytes });
    return this.isFull;
  }

  /**
   * A fetched batch of only transaction markers (or aborted records), which kafkajs hands to no
   * eachBatch: its offsets are committed with the partition's next transaction. The last queued
   * batch not yet being handled takes them; with an empty queue, an empty batch (a transaction
   * of only the offset) is queued; while every queued batch is committing, the next batch takes
   * them, or drain() queues the empty batch once the queue is done (queuing it now could fill the
   * queue without the partition being paused). Otherwise a partition whose last fetch held only
   * markers kept a lag that never went away.
   */
  skip(firstOffset: bigint, lastOffset: bigint): void {
    // Only what directly follows the accepted records: a gap would be records never seen
    // (a batch fetched before a seek, say), and committing past them would lose commands.
    if (this.closed || !this.lastAccepted || lastOffset < this.nextOffset || firstOffset > this.nextOffset) return;
    this.nextOffset = lastOffset + 1n;
    const last = this.queue.at(-1);
    if (last && this.queue.length > this.handling) {
      this.queue[this.queue.length - 1] = { ...last, lastOffset };
      this.skippedOffset = undefined;
    } else if (!last) this.enqueue({ messages: [], lastOffset, bytes: 0 });
    else this.skippedOffset = lastOffset;
  }

  private enqueue(batch: FetchedBatch & { bytes: number }): void {
    this.queue.push(batch);
    if (this.queue.length === 1) {
      const { heartbeat, onFailure } = this.lastAccepted!;
      this.draining = this.drain(heartbeat);
      this.draining.catch(onFailure);
    }
  }

  /**
   * Full by count, or when one more fetch (up to batchBytesMax) would pass the bytes bound; an
   * empty queue never is. Under a steady load the fetched batches are small and many queue
   * behind a commit (they go into the next transaction together): pausing after two of them
   * held the partition's commands on the broker until the commit ended and then up to a fetch
   * wait more (kafkajs fetches a resumed partition only with its next fetch). Draining a
   * backlog, fetches are large and, with the defaults, the bytes bound pauses after two.
   */
  private get isFull(): boolean {
    return queueIsFull(this.queue, this.ctx.limits);
  }

  /** Calls callback once, when the queue has room again or the worker closes. */
  whenRoom(callback: () => void): void {
    if (this.closed || !this.isFull) callback();
    else this.roomWaiters.push(callback);
  }

  /** Calls the room waiters if the queue has room (a commit may leave it full by bytes), or the worker closed. */
  private freeRoom(): void {
    if (!this.closed && this.isFull) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const callback of waiters) {
      try {
        callback();
      } catch (err) {
        log.warn('a room waiter failed', { partition: this.ctx.partition, error: String(err) });
      }
    }
  }

  /** The offset the group has committed for this partition as far as this worker knows (never above the truth). */
  get resumeOffset(): bigint {
    return this.committed;
  }

  /**
   * Handles the queue's batches in order until it is empty; throws at the first failure. The
   * batches that arrived during a commit go into the next transaction together: a transaction
   * costs the same five round trips however small, and a command waits for one, not one per
   * batch queued before it.
   */
  private async drain(heartbeat: () => Promise<void>): Promise<void> {
    while (!this.closed && this.queue.length > 0) {
      let count = 1;
      let bytes = this.queue[0]!.bytes;
      while (count < this.queue.length && bytes + this.queue[count]!.bytes <= this.ctx.limits.batchBytesMax) bytes += this.queue[count++]!.bytes;
      const merged = this.queue.slice(0, count);
      this.handling = count;
      await this.handle(count === 1 ? merged[0]! : { messages: merged.flatMap((b) => b.messages), lastOffset: merged.at(-1)!.lastOffset }, heartbeat);
      this.queue.splice(0, count);
      this.handling = 0;
      if (this.queue.length === 0 && this.skippedOffset !== undefined) {
        this.queue.push({ messages: [], lastOffset: this.skippedOffset, bytes: 0 });
        this.skippedOffset = undefined;
      }
      this.freeRoom();
    }
  }

  /** Resolves once every accepted batch is committed (or one failed), or after waitMs. */
  async idle(waitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    await Promise.race([this.draining?.catch(() => undefined), timeout]);
    clearTimeout(timer);
  }

  /** Decide every command of the batch, then commit all outputs and the input offset atomically. */
  private async handle(batch: FetchedBatch, heartbeat: () => Promise<void>): Promise<void> {
    const startedMs = Date.now();
    const out = new BatchOutput(this.ctx.topics, this.ctx.partition);
    const byAggregate = new Map<string, { commands: HandleCommands['commands'][number][]; messages: KafkaMessage[] }>();
    const counts = new Map<string, number>();
    const count = (type: string, outcome: string) => counts.set(`${type}\u0000${outcome}`, (counts.get(`${type}\u0000${outcome}`) ?? 0) + 1);

    for (const message of batch.messages) {
      const decoded = decodeCommand(message.key, message.value, this.ctx.partition, this.ctx.partitionCount);
      if (!decoded.ok) {
        out.deadLetter(message, decoded.reason);
        metrics.dlqRecords.inc({ kind: 'invalid' });
        count('invalid', 'dead-lettered');
        if (decoded.commandId !== undefined) {
          out.result({ commandId: decoded.commandId, aggregateId: message.key?.toString() ?? '', status: 'rejected', reason: decoded.reason });
        }
        continue;
      }
      const id = decoded.value.aggregateId;
      let group = byAggregate.get(id);
      if (!group) byAggregate.set(id, (group = { commands: [], messages: [] }));
      group.commands.push({ command: decoded.value, receivedAtMs: Number(message.timestamp) });
      group.messages.push(message);
    }

    const replies = await withTimeout(
      Promise.all([...byAggregate].map(async ([id, group]) => [id, group, await this.ask(id, group.commands)] as const)),
      this.ctx.limits.actorReplyTimeoutMs,
      `actors of partition ${this.ctx.partition} did not answer`,
    );
    for (const [id, group, reply] of replies) {
      reply.outcomes.forEach((outcome, i) => {
        for (const event of outcome.events) out.event(event);
        for (const command of outcome.followUps) out.command(command);
        out.result(outcome.result);
        if (outcome.deadLetter) {
          out.deadLetter(group.messages[i]!, outcome.deadLetter.reason);
          metrics.dlqRecords.inc({ kind: outcome.deadLetter.kind });
        }
        count(group.commands[i]!.command.type, outcome.deadLetter?.kind === 'decider-error' ? 'dead-lettered' : outcome.result.status);
      });
      if (reply.snapshot) out.snapshot(id, reply.snapshot);
    }

    const nextChangelogOffset = await this.commit(batch, out, heartbeat);
    if (batch.messages.length > 0) metrics.commandLagSeconds.observe((Date.now() - Number(batch.messages[0]!.timestamp)) / 1000);
    await this.persist(out, nextChangelogOffset);
    this.passivate();
    this.ctx.actorsChanged();
    for (const [key, n] of counts) {
      const [type, outcome] = key.split('\u0000') as [string, string];
      metrics.commands.inc({ type, outcome }, n);
    }
    for (const [output, { records, bytes }] of out.written) {
      metrics.outputRecords.inc({ output }, records);
      metrics.outputBytes.inc({ output }, bytes);
    }
    metrics.batchSize.observe(batch.messages.length);
    metrics.batchSeconds.observe((Date.now() - startedMs) / 1000);
  }

  /** One transaction: every output record plus the consumed offset. Returns the changelog's next offset. */
  private async commit(batch: FetchedBatch, out: BatchOutput, heartbeat: () => Promise<void>): Promise<bigint | undefined> {
    const { producer, topics, partition, groupId } = this.ctx;
    await heartbeat(); // throws if a rebalance started: then we may no longer own this partition
    const startedMs = Date.now();
    const tx = await producer.transaction();
    let nextChangelogOffset: bigint | undefined;
    try {
      for (const topicMessages of out.chunks()) {
        const sent = await tx.sendBatch({ topicMessages });
        const changelog = sent.find((m) => m.topicName === topics.changelog.name && m.partition === partition);
        const written = topicMessages.find((t) => t.topic === topics.changelog.name)?.messages.length ?? 0;
        if (changelog && written > 0) nextChangelogOffset = BigInt(changelog.baseOffset!) + BigInt(written);
      }
      // Above what a fenced previous owner committed: accept() starts at that offset.
      const offset = batch.lastOffset + 1n;
      await tx.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: topics.commands.name, partitions: [{ partition, offset: offset.toString() }] }] });
      if (!this.ctx.owns()) throw new Error(`partition ${partition} was assigned to another instance: its transaction is aborted`);
      await tx.commit();
      this.committed = offset;
    } catch (err) {
      metrics.aborts.inc();
      await tx.abort().catch(() => undefined); // fenced or broken: the worker is closed anyway
      throw err;
    }
    metrics.commitSeconds.observe((Date.now() - startedMs) / 1000);
    return nextChangelogOffset;
  }

  /** After the commit: the same snapshots into RocksDB, with the changelog offset they reach. */
  private async persist(out: BatchOutput, nextChangelogOffset: bigint | undefined): Promise<void> {
    if (nextChangelogOffset === undefined) return;
    const ops: BatchOp[] = [];
    for (const [id, value] of out.snapshots) ops.push({ type: 'put', key: snapshotKey(id), value });
    ops.push({ type: 'put', key: changelogOffsetKey, value: String(nextChangelogOffset) });
    await this.store.write(ops);
  }

  private async ask(aggregateId: string, commands: HandleCommands['commands']): Promise<HandledCommands> {
    let entry = this.actors.get(aggregateId);
    if (entry) this.actors.delete(aggregateId); // re-insert below: Map order is the LRU order
    else entry = { ref: spawnAccountActor(this.parent, `a${this.spawned++}`, await this.load(aggregateId)), lastUsedMs: 0 };
    entry.lastUsedMs = Date.now();
    this.actors.set(aggregateId, entry);
    const ref = entry.ref;
    return new Promise<HandledCommands>((reply) => dispatch(ref, { commands, reply }));
  }

  private async load(aggregateId: string): Promise<AggregateSnapshot> {
    const bytes = await this.store.get(snapshotKey(aggregateId));
    if (!bytes) return emptySnapshot;
    const decoded = decodeSnapshot(bytes);
    if (!decoded.ok) throw new Error(`snapshot of ${aggregateId} in partition ${this.ctx.partition} is invalid: ${decoded.reason}`);
    return decoded.value;
  }

  /**
   * Stops the least recently used actors beyond the bound, and the idle ones. Their state is
   * committed. The bound is the partition's share of the process's: an instance that takes over
   * the partitions of others (they died) keeps its memory, not their actors.
   */
  private passivate(): void {
    const { liveActorsPerPartitionMax, liveActorsMax, actorIdleMs } = this.ctx.limits;
    const bound = Math.min(liveActorsPerPartitionMax, Math.floor(liveActorsMax / Math.max(1, this.ctx.partitionsOwned())));
    const idleBeforeMs = Date.now() - actorIdleMs;
    for (const [id, entry] of this.actors) {
      if (this.actors.size <= bound && entry.lastUsedMs >= idleBeforeMs) break;
      stop(entry.ref);
      this.actors.delete(id);
    }
  }

  get liveActors(): number {
    return this.actors.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.freeRoom();
    await this.draining?.catch(() => undefined); // the batch in flight commits or fails; the queue behind it is dropped
    stop(this.parent); // stops every actor of this partition with it
    this.actors.clear();
    await this.store.close();
  }
}
