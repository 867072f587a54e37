// kafkajs 2.2.4's produce request v3 (protocol/requests/produce/v3/request.js; v4 to v7 reuse
// it), the same bytes, written in one pass into one buffer of the exact size. kafkajs builds each
// record by spreading its message into a new object (megamorphic over our message shapes: the
// processor's largest self time after GC, 10%), then copies the records through six nested
// Encoders, each growing by zero-filled doubling, and sums the CRC a byte at a time.
// test/unit/produce-request.test.ts compares the bytes with kafkajs's module.
import { createRequire } from 'node:module';
import { crc32c } from './crc32c.js';
import { encodeRecord, type RecordArgs } from './record-encoder.js';

const require = createRequire(import.meta.url);
type KafkaLong = { value: bigint };
const Long = require('kafkajs/src/utils/long.js') as { fromInt(n: number): KafkaLong; fromValue(v: unknown): KafkaLong };
const { Produce: apiKey } = require('kafkajs/src/protocol/requests/apiKeys.js') as { Produce: number };
const { Types } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: { None: number } };

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

/** A partition's record batch before it is written: its records encoded, its header fields. */
interface PartitionBatch {
  partition: number;
  firstSequence: number;
  records: Buffer[];
  recordsBytes: number;
  firstTimestamp: unknown;
  maxTimestamp: unknown;
}

const magic = 2;
const transactionalAttribute = 16;
/** Record batch header from the batch length on: leader epoch, magic, CRC, then the CRC'd fields up to the record count. */
const batchHeaderBytes = 4 + 1 + 4 + (2 + 4 + 8 + 8 + 8 + 2 + 4 + 4);

export function produceRequestV3({ acks, timeout, transactionalId = null, producerId = Long.fromInt(-1), producerEpoch = 0, compression = Types.None, topicData }: RequestArgs) {
  return {
    apiKey,
    apiVersion: 3,
    apiName: 'Produce',
    expectResponse: () => acks !== 0,
    encode: async () => {
      if (compression !== Types.None) throw new Error('compressed produce requests are not supported (src/kafka/produce-request.ts)');
      const topics = topicData.map(({ topic, partitions }) => ({ topic, batches: partitions.map(partitionBatch) }));
      let size = stringBytes(transactionalId) + 2 + 4 + 4;
      for (const { topic, batches } of topics) {
        size += stringBytes(topic) + 4;
        for (const batch of batches) size += 4 + 4 + 8 + 4 + batchHeaderBytes + batch.recordsBytes;
      }
      const producerIdValue = Long.fromValue(producerId).value;
      const buf = Buffer.allocUnsafe(size);
      let at = writeString(buf, 0, transactionalId);
      at = buf.writeInt16BE(acks, at);
      at = buf.writeInt32BE(timeout, at);
      at = buf.writeInt32BE(topics.length, at);
      for (const { topic, batches } of topics) {
        at = writeString(buf, at, topic);
        at = buf.writeInt32BE(batches.length, at);
        for (const batch of batches) at = writeBatch(buf, at, batch, !!transactionalId, producerIdValue, producerEpoch);
      }
      if (at !== size) throw new Error(`produce request encoding wrote ${at} of ${size} bytes`);
      return { buf, buffer: buf };
    },
  };
}

function partitionBatch({ partition, messages, firstSequence = 0 }: PartitionData): PartitionBatch {
  const dateNow = Date.now();
  // As kafkajs: the first and largest timestamp by a string sort of the given ones.
  const messageTimestamps = messages
    .map((m) => m.timestamp)
    .filter((timestamp) => timestamp != null)
    .sort();
  const timestamps = messageTimestamps.length === 0 ? [dateNow] : messageTimestamps;
  const firstTimestamp = timestamps[0] as number;
  let recordsBytes = 0;
  const records = messages.map((m, i) => {
    const { buf } = encodeRecord({ key: m.key, value: m.value, headers: m.headers, offsetDelta: i, timestampDelta: ((m.timestamp as number) || dateNow) - firstTimestamp });
    recordsBytes += buf.length;
    return buf;
  });
  return { partition, firstSequence, records, recordsBytes, firstTimestamp, maxTimestamp: timestamps[timestamps.length - 1] };
}

/** Partition, record set size, then the record batch (v2) with its CRC. */
function writeBatch(buf: Buffer, at: number, batch: PartitionBatch, transactional: boolean, producerId: bigint, producerEpoch: number): number {
  const batchLength = batchHeaderBytes + batch.recordsBytes; // after the first offset and the length itself
  at = buf.writeInt32BE(batch.partition, at);
  at = buf.writeInt32BE(8 + 4 + batchLength, at);
  at = buf.writeBigInt64BE(0n, at); // first offset: the broker assigns it
  at = buf.writeInt32BE(batchLength, at);
  at = buf.writeInt32BE(0, at); // partition leader epoch
  at = buf.writeInt8(magic, at);
  const crcAt = at;
  at += 4;
  at = buf.writeInt16BE(transactional ? transactionalAttribute : 0, at);
  at = buf.writeInt32BE(batch.records.length - 1, at); // last offset delta
  at = buf.writeBigInt64BE(int64(batch.firstTimestamp), at);
  at = buf.writeBigInt64BE(int64(batch.maxTimestamp), at);
  at = buf.writeBigInt64BE(BigInt.asIntN(64, producerId), at);
  at = buf.writeInt16BE(producerEpoch, at);
  at = buf.writeInt32BE(batch.firstSequence, at);
  at = buf.writeInt32BE(batch.records.length, at);
  for (const record of batch.records) at += record.copy(buf, at);
  buf.writeUInt32BE(crc32c(buf, crcAt + 4, at), crcAt); // from the attributes to the end
  return at;
}

/** A timestamp as kafkajs's Encoder writes an int64: number, numeric string or Long. */
const int64 = (value: unknown): bigint => BigInt.asIntN(64, Long.fromValue(value).value);

/** A Kafka string: int16 length (-1 for null), then UTF-8. */
const stringBytes = (value: string | null): number => 2 + (value == null ? 0 : Buffer.byteLength(value, 'utf8'));

function writeString(buf: Buffer, at: number, value: string | null): number {
  if (value == null) return buf.writeInt16BE(-1, at);
  const length = buf.write(value, at + 2, 'utf8');
  buf.writeInt16BE(length, at);
  return at + 2 + length;
}
