// kafkajs 2.2.4's produce request v3 (protocol/requests/produce/v3/request.js; v4 to v7 reuse
// it), the same bytes, with one change: each record is built from its message's key, value,
// headers and timestamp, not by spreading the message into a new object. Our messages come in
// several shapes (events, results, snapshots, saga commands, DLQ records), which made that
// spread megamorphic: 6.17 against 1.40 µs per record (`npm run bench:record-encoding`), and the
// spread was the processor's largest self time after GC (10%) in its CPU profile.
import { createRequire } from 'node:module';
import { encodeRecord, type RecordArgs } from './record-encoder.js';

const require = createRequire(import.meta.url);
type KafkaEncoder = { writeString(s: string | null): KafkaEncoder; writeInt16(n: number): KafkaEncoder; writeInt32(n: number): KafkaEncoder; writeArray(a: unknown[]): KafkaEncoder; writeEncoder(e: unknown): KafkaEncoder };
const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => KafkaEncoder;
const Long = require('kafkajs/src/utils/long.js') as { fromInt(n: number): unknown };
const { Produce: apiKey } = require('kafkajs/src/protocol/requests/apiKeys.js') as { Produce: number };
const { Types } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: { None: number } };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (args: object) => Promise<{ size(): number }> };

interface Message extends Omit<RecordArgs, 'offsetDelta' | 'timestampDelta'> {
  timestamp?: number | string | null;
}
interface PartitionData {
  partition: number;
  firstSequence?: number;
  messages: Message[];
}
interface TopicData {
  topic: string;
  partitions: PartitionData[];
}
interface RequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: TopicData[];
}

export function produceRequestV3({ acks, timeout, transactionalId = null, producerId = Long.fromInt(-1), producerEpoch = 0, compression = Types.None, topicData }: RequestArgs) {
  return {
    apiKey,
    apiVersion: 3,
    apiName: 'Produce',
    expectResponse: () => acks !== 0,
    encode: async () => {
      const encodedTopicData = [];
      for (const { topic, partitions } of topicData) {
        const encodedPartitions = [];
        for (const data of partitions) encodedPartitions.push(await encodePartition(data, compression, transactionalId, producerId, producerEpoch));
        encodedTopicData.push(new Encoder().writeString(topic).writeArray(encodedPartitions));
      }
      return new Encoder().writeString(transactionalId).writeInt16(acks).writeInt32(timeout).writeArray(encodedTopicData);
    },
  };
}

async function encodePartition({ partition, messages, firstSequence }: PartitionData, compression: number, transactionalId: string | null, producerId: unknown, producerEpoch: number) {
  const dateNow = Date.now();
  // As kafkajs: the first and largest timestamp by a string sort of the given ones.
  const messageTimestamps = messages
    .map((m) => m.timestamp)
    .filter((timestamp) => timestamp != null)
    .sort();
  const timestamps = messageTimestamps.length === 0 ? [dateNow] : messageTimestamps;
  const firstTimestamp = timestamps[0] as number;
  const maxTimestamp = timestamps[timestamps.length - 1];
  const records = messages.map((m, i) =>
    encodeRecord({ key: m.key, value: m.value, headers: m.headers, offsetDelta: i, timestampDelta: ((m.timestamp as number) || dateNow) - firstTimestamp }),
  );
  const recordBatch = await RecordBatch({
    compression,
    records,
    firstTimestamp,
    maxTimestamp,
    producerId,
    producerEpoch,
    firstSequence,
    transactional: !!transactionalId,
    lastOffsetDelta: records.length - 1,
  });
  return new Encoder().writeInt32(partition).writeInt32(recordBatch.size()).writeEncoder(recordBatch);
}
