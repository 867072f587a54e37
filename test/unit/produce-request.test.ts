import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import '../../src/kafka/kafkajs-patch.js';
import { produceRequestV3 } from '../../src/kafka/produce-request.js';

const require = createRequire(import.meta.url);
type Request = { encode(): Promise<{ buffer: Buffer }>; apiKey: number; apiVersion: number; apiName: string; expectResponse(): boolean };

/** kafkajs's own produce v3 request, though the patch replaced it in the module cache. */
function kafkajsOriginal(): (args: object) => Request {
  const path = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');
  const patched = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as (args: object) => Request;
  } finally {
    if (patched) require.cache[path] = patched;
  }
}
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
];

test('encodes every case byte for byte as kafkajs does, with the same request fields', async () => {
  const original = kafkajsOriginal();
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

test.run();
