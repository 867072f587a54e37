import type { Producer } from 'kafkajs';
import { murmur2Partition } from '../../topics/commands.js';
import { logger } from '../log.js';

/** Where a command was written. */
export interface Sent {
  readonly partition: number;
  readonly offset: string;
}

/** Commands per produce request, and their bytes: well under the broker's 1 MiB per record batch (a command's body is at most 64 KiB). */
export const sendBatchRecordsMax = 1_000;
export const sendBatchBytesMax = 512 * 1024;

interface Queued {
  readonly key: string;
  readonly value: Buffer;
  readonly resolve: (sent: Sent) => void;
  readonly reject: (err: unknown) => void;
}

interface Lane {
  queue: Queued[];
  sending: boolean;
  /** Commands in the request in flight. */
  inRequest: number;
}

const log = logger('api');

/**
 * Sends commands to `commands`, many to a produce request. kafkajs makes one request per send()
 * call, and an idempotent producer keeps one request in flight (maxInFlightRequests 1, which
 * keeps its order), so a send per POST allowed one POST per round trip (bench:e2e (d): 382-422
 * POSTs/s). Commands that come while a partition's request is in flight queue, and go together
 * in its next one, as the Java producer's batching does, without waiting for more. Each
 * partition has its own queue, so one without a leader holds up only its own accounts. Commands
 * are partitioned here with the processor's murmur2, so each one's offset follows from its
 * partition's base offset.
 *
 * The producer must retry without end: a send that gives up rolls its partitions' sequence
 * numbers back, and if it had been written, the next batch of as many records would be taken
 * for its duplicate and answered with its offsets, unwritten. A send that fails all the same
 * (an error kafkajs does not retry) therefore also replaces the producer: a new producer id
 * starts new sequences.
 */
export class CommandSender {
  private readonly partitions = new Map<number, Lane>();
  private producer: Promise<Producer>;
  /** Produce requests made: fewer than commands when they were batched. */
  requests = 0;

  constructor(
    private readonly createProducer: () => Promise<Producer>,
    private readonly topic: string,
    private readonly partitionCount: number,
  ) {
    this.producer = this.connect();
  }

  /** Resolves once the first producer is connected (or rejects: Kafka is not there). */
  async ready(): Promise<void> {
    await this.producer;
  }

  private connect(): Promise<Producer> {
    const producer = this.createProducer();
    producer.catch(() => undefined); // a send that awaits it gets the error; no unhandled rejection meanwhile
    return producer;
  }

  /** The partition a command with this key goes to (the processor's murmur2). */
  partitionOf(key: string): number {
    return murmur2Partition(Buffer.from(key), this.partitionCount);
  }

  /** How many commands of the partition Kafka has not acknowledged yet (queued or in a request). */
  waiting(partition: number): number {
    const lane = this.partitions.get(partition);
    return lane ? lane.queue.length + lane.inRequest : 0;
  }

  /** Resolves once Kafka acknowledged the command, or rejects with the send's error (it may have been written all the same). */
  send(key: string, value: Buffer, partition = this.partitionOf(key)): Promise<Sent> {
    let lane = this.partitions.get(partition);
    if (!lane) this.partitions.set(partition, (lane = { queue: [], sending: false, inRequest: 0 }));
    const { queue } = lane;
    const sent = new Promise<Sent>((resolve, reject) => queue.push({ key, value, resolve, reject }));
    if (!lane.sending) void this.drain(partition, lane);
    return sent;
  }

  private async drain(partition: number, lane: Lane): Promise<void> {
    lane.sending = true;
    while (lane.queue.length > 0) {
      const batch = take(lane.queue);
      lane.inRequest = batch.length;
      this.requests++;
      const producer = this.producer;
      try {
        const written = await (await producer).send({ topic: this.topic, messages: batch.map(({ key, value }) => ({ key, value, partition })) });
        // kafkajs writes the records in the order given, from the partition's base offset.
        const base = BigInt(written.find((m) => m.partition === partition)?.baseOffset ?? '-1');
        if (base < 0n) throw new Error(`kafka acknowledged no offset for partition ${partition}`);
        batch.forEach((command, i) => command.resolve({ partition, offset: String(base + BigInt(i)) }));
      } catch (err) {
        for (const command of batch) command.reject(err);
        this.replace(producer, err);
      }
      lane.inRequest = 0;
    }
    lane.sending = false;
  }

  /** After a failed send: the next sends go through a new producer (once per failed one). */
  private replace(failed: Promise<Producer>, err: unknown): void {
    if (this.producer !== failed) return;
    log.warn('a command send failed; replacing the producer, whose sequence numbers kafkajs rolled back', { error: String(err) });
    this.producer = this.connect();
    void failed.then((p) => p.disconnect()).catch(() => undefined);
  }

  async close(): Promise<void> {
    await (await this.producer.catch(() => undefined))?.disconnect();
  }
}

/** The oldest queued commands, up to sendBatchRecordsMax and sendBatchBytesMax (at least one). */
function take(queue: Queued[]): Queued[] {
  let count = 0;
  let bytes = 0;
  while (count < queue.length && count < sendBatchRecordsMax) {
    const size = queue[count]!.value.length + Buffer.byteLength(queue[count]!.key);
    if (count > 0 && bytes + size > sendBatchBytesMax) break;
    bytes += size;
    count++;
  }
  return queue.splice(0, count);
}
