import type { KafkaMessage, Message, TopicMessages } from 'kafkajs';
import type { Topology } from '../../topics/index.js';
import { dlqHeaders } from '../../topics/commands-dlq.js';
import { encodeCommand, type Command } from '../../topics/commands.js';
import type { CommandResult } from '../../topics/command-results.js';
import type { EventEnvelope } from '../../topics/events.js';
import { encodeSnapshot, type AggregateSnapshot } from '../../topics/aggregates-changelog.js';

export type OutputKind = 'events' | 'command-results' | 'commands' | 'commands-dlq' | 'changelog';

/** Largest bytes per produce request: well under the broker's 1 MiB message.max.bytes per record batch. */
export const produceChunkBytesMax = 512 * 1024;
const recordOverheadBytes = 70;

/**
 * Everything one batch writes, gathered before its transaction. Events, results and DLQ records
 * go to the input partition itself: all topics are co-partitioned, so that is where the key
 * would hash to anyway (for the Java-compatible partitioner), it keeps an aggregate's records
 * together whatever partitioner the clients used, and it skips hashing two records in three.
 * Follow-up commands are keyed by their target account and hashed like a client's.
 */
export class BatchOutput {
  readonly events: Message[] = [];
  readonly results: Message[] = [];
  readonly commands: Message[] = [];
  readonly dlq: Message[] = [];
  /** Latest snapshot per aggregate, JSON bytes: written to the changelog, then to RocksDB. */
  readonly snapshots = new Map<string, Buffer>();
  /** Records, and bytes of their keys, values and headers, per output, as chunks() cut them (for the metrics). */
  readonly written = new Map<OutputKind, { records: number; bytes: number }>();

  constructor(
    private readonly topics: Topology,
    private readonly partition: number,
  ) {}

  event(event: EventEnvelope): void {
    this.events.push({ key: event.aggregateId, value: JSON.stringify(event), partition: this.partition });
  }

  result(result: CommandResult): void {
    this.results.push({ key: result.aggregateId, value: JSON.stringify(result), partition: this.partition });
  }

  command(command: Command): void {
    this.commands.push({ key: command.aggregateId, value: encodeCommand(command) });
  }

  /** The original record, byte for byte, plus why and where from. */
  deadLetter(message: KafkaMessage, reason: string): void {
    const headers = { ...message.headers, [dlqHeaders.reason]: reason, [dlqHeaders.source]: `${this.topics.commands.name}/${this.partition}@${message.offset}` };
    this.dlq.push({ key: message.key, value: message.value, headers, partition: this.partition });
  }

  snapshot(aggregateId: string, snapshot: AggregateSnapshot): void {
    this.snapshots.set(aggregateId, encodeSnapshot(snapshot));
  }

  /** The records, cut into produce requests of at most produceChunkBytesMax. */
  chunks(): TopicMessages[][] {
    const changelog: Message[] = [];
    for (const [key, value] of this.snapshots) changelog.push({ key, value, partition: this.partition });
    const all: Array<[OutputKind, string, Message[]]> = [
      ['events', this.topics.events.name, this.events],
      ['command-results', this.topics.commandResults.name, this.results],
      ['commands', this.topics.commands.name, this.commands],
      ['commands-dlq', this.topics.commandsDlq.name, this.dlq],
      ['changelog', this.topics.changelog.name, changelog],
    ];
    const chunks: TopicMessages[][] = [];
    let current = new Map<string, Message[]>();
    let bytes = 0;
    this.written.clear();
    for (const [kind, topic, messages] of all) {
      if (messages.length > 0) this.written.set(kind, { records: messages.length, bytes: 0 });
      for (const message of messages) {
        const recordBytes = sizeOf(message.key) + sizeOf(message.value) + headersSize(message.headers);
        this.written.get(kind)!.bytes += recordBytes;
        const size = recordBytes + recordOverheadBytes;
        if (bytes > 0 && bytes + size > produceChunkBytesMax) {
          chunks.push(toTopicMessages(current));
          current = new Map();
          bytes = 0;
        }
        let list = current.get(topic);
        if (!list) current.set(topic, (list = []));
        list.push(message);
        bytes += size;
      }
    }
    if (current.size > 0) chunks.push(toTopicMessages(current));
    return chunks;
  }
}

const sizeOf = (value: Buffer | string | null | undefined): number => (value == null ? 0 : typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength);
const headersSize = (headers: Message['headers']): number =>
  Object.entries(headers ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + (Array.isArray(v) ? v.reduce((m: number, x) => m + sizeOf(x as Buffer | string), 0) : sizeOf(v as Buffer | string | undefined)), 0);

const toTopicMessages = (byTopic: Map<string, Message[]>): TopicMessages[] => [...byTopic].map(([topic, messages]) => ({ topic, messages }));
