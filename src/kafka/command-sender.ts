import type { Producer } from 'kafkajs';
import { murmur2Partition } from '../../topics/commands.js';

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
  readonly partition: number;
  readonly resolve: (sent: Sent) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Sends commands to `commands`, many to a produce request. kafkajs makes one request per send()
 * call, and an idempotent producer keeps one request in flight (maxInFlightRequests 1, which
 * keeps its order), so a send per POST allowed one POST per round trip (bench:e2e (d): 382-422
 * POSTs/s). Commands that come while a request is in flight queue, and go together in the next
 * one, as the Java producer's batching does, without waiting for more. Each is partitioned here
 * with the processor's own murmur2, so its offset is known from its partition's base offset.
 */
export class CommandSender {
  private queue: Queued[] = [];
  private sending = false;
  /** Produce requests made: fewer than commands when they were batched. */
  requests = 0;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly partitionCount: number,
  ) {}

  /** Resolves once Kafka acknowledged the command, or rejects with the send's error (it may have been written all the same). */
  send(key: string, value: Buffer): Promise<Sent> {
    return new Promise<Sent>((resolve, reject) => {
      this.queue.push({ key, value, partition: murmur2Partition(Buffer.from(key), this.partitionCount), resolve, reject });
      if (!this.sending) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.sending = true;
    while (this.queue.length > 0) {
      const batch = this.take();
      this.requests++;
      try {
        const written = await this.producer.send({ topic: this.topic, messages: batch.map(({ key, value, partition }) => ({ key, value, partition })) });
        // kafkajs writes each partition's records in the order given, from its base offset.
        const next = new Map(written.map((m) => [m.partition, BigInt(m.baseOffset ?? '-1')]));
        for (const command of batch) {
          const offset = next.get(command.partition);
          if (offset === undefined || offset < 0n) {
            command.reject(new Error(`kafka acknowledged no offset for partition ${command.partition}`));
            continue;
          }
          next.set(command.partition, offset + 1n);
          command.resolve({ partition: command.partition, offset: String(offset) });
        }
      } catch (err) {
        for (const command of batch) command.reject(err);
      }
    }
    this.sending = false;
  }

  /** The oldest queued commands, up to sendBatchRecordsMax and sendBatchBytesMax (at least one). */
  private take(): Queued[] {
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && count < sendBatchRecordsMax) {
      const size = this.queue[count]!.value.length + this.queue[count]!.key.length;
      if (count > 0 && bytes + size > sendBatchBytesMax) break;
      bytes += size;
      count++;
    }
    return this.queue.splice(0, count);
  }
}
