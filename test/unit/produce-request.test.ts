import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import '../../src/kafka/kafkajs-patch.js';
import { produceRequestV3 } from '../../src/kafka/produce-request.js';
import { kafkajsOriginal } from '../support/kafkajs-original.js';

const require = createRequire(import.meta.url);
type Request = { encode(): Promise<{ buffer: Buffer }>; apiKey: number; apiVersion: number; apiName: string; expectResponse(): boolean };

const Long = require('kafkajs/src/utils/long.js') as { fromString(s: string): unknown };

const value = JSON.stringify({ eventId: 'acc-1:5', aggregateId: 'acc-1', seq: 5, type: 'MoneyDeposited', payload: { amount: 500, balance: 12_345 } });
const cases: [string, object][] = [
  [
    'a transactional request of mixed message shapes over two topics',
    {
      acks: -1,
      timeout: 30_000,
      transactionalId: 'app-processor-p3',
      producerId: Long.fromString('4711'),
      producerEpoch: 2,
      topicData: [
        { topic: 'events', partitions: [{ partition: 3, firstSequence: 17, messages: [{ key: 'acc-1', value, partition: 3 }, { partition: 3, key: Buffer.from('acc-2'), value: Buffer.from(value) }] }] },
        { topic: 'dlq', partitions: [{ partition: 0, firstSequence: 0, messages: [{ key: null, value: 'x', headers: { 'dlq-reason': 'bad', trace: ['a', 'b'] } }, { key: 'k', value: null }] }] },
      ],
    },
  ],
  ['given timestamps, unsorted, as numbers and strings', { acks: 1, timeout: 5_000, topicData: [{ topic: 't', partitions: [{ partition: 1, messages: [{ key: 'a', value: 'b', timestamp: 1_795_000_000_500 }, { key: 'c', value: 'd', timestamp: '1795000000100' }, { key: 'e', value: 'f' }] }] }] }],
  ['no messages', { acks: 0, timeout: 1_000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [] }] }] }],
  ['no topics', { acks: -1, timeout: 1_000, transactionalId: 't', topicData: [] }],
  [
    'thousands of records over partitions, non-ASCII names, a producer id beyond 2^53',
    {
      acks: -1,
      timeout: 30_000,
      transactionalId: 'ap\u00e9-processor-p\u{1f600}',
      producerId: Long.fromString('9007199254740993'),
      producerEpoch: 32_000,
      topicData: [
        {
          topic: '\u00e9v\u00e9nements',
          partitions: [0, 1].map((partition) => ({
            partition,
            firstSequence: 2_000_000_000,
            messages: Array.from({ length: 3_000 }, (_, i) => ({ key: `acc-\u00fc-${i}`, value: i % 2 ? value : Buffer.from(value.repeat(i % 7)), partition })),
          })),
        },
      ],
    },
  ],
];

test('encodes every case byte for byte as kafkajs does, with the same request fields', async () => {
  const original = kafkajsOriginal<(args: object) => Request>('kafkajs/src/protocol/requests/produce/v3/request.js');
  const realNow = Date.now;
  Date.now = () => 1_795_000_000_000; // both read the clock for messages without a timestamp
  try {
    for (const [name, args] of cases) {
      const [ours, theirs] = [produceRequestV3(args as never) as unknown as Request, original(args)];
      assert.equal((await ours.encode()).buffer, (await theirs.encode()).buffer, name);
      assert.equal([ours.apiKey, ours.apiVersion, ours.apiName, ours.expectResponse()], [theirs.apiKey, theirs.apiVersion, theirs.apiName, theirs.expectResponse()], name);
    }
  } finally {
    Date.now = realNow;
  }
});

test('refuses compression loudly (nothing of ours compresses)', async () => {
  const request = produceRequestV3({ acks: -1, timeout: 1_000, compression: 1, topicData: [] }) as unknown as Request;
  const error = await request.encode().then(() => undefined, (err: unknown) => err);
  assert.match(String(error), /compressed produce requests are not supported/);
});

test.run();
