import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Consumer, Kafka } from 'kafkajs';
import { waitForLeaders } from '../../src/kafka/topics-admin.js';
import { ChangelogReader } from '../../src/processor/changelog-reader.js';
import { withTimeout } from '../../src/timeout.js';
import { rejects } from '../support/assert.js';
import { until } from '../support/until.js';
import { createTopic, testKafka, unique } from '../support/env.js';

const kafka = testKafka('kafka-test');
const consumeTimeoutMs = 20_000;

async function createTopics(k: Kafka, ...topics: string[]): Promise<void> {
  const admin = k.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: false, topics: topics.map((topic) => ({ topic, numPartitions: 1 })) });
  await waitForLeaders(admin, topics);
  await admin.disconnect();
}

/** Reads topic from the beginning until `count` values arrived (or times out), as a read_committed consumer. */
async function readValues(topic: string, count: number, quietMs = 0): Promise<string[]> {
  const consumer: Consumer = kafka.consumer({ groupId: unique('reader'), maxWaitTimeInMs: 100, readUncommitted: false });
  const values: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let done: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => (done = resolve));
  await consumer.run({
    eachMessage: async ({ message }) => {
      values.push(message.value?.toString() ?? '');
      if (values.length >= count) done();
    },
  });
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, count > 0 ? consumeTimeoutMs : quietMs));
  await Promise.race([reached, deadline]);
  if (quietMs > 0) await new Promise((resolve) => setTimeout(resolve, quietMs)); // anything extra shows up here
  await consumer.disconnect();
  return values;
}

test('produce and consume round trip keeps key order within a partition', async () => {
  const topic = unique('roundtrip');
  await createTopics(kafka, topic);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [1, 2, 3].map((n) => ({ key: 'acc-1', value: `m${n}` })) });
  await producer.disconnect();
  assert.equal(await readValues(topic, 3), ['m1', 'm2', 'm3']);
});

test('a committed transaction with sendOffsets is visible read_committed and moves the group offset; an aborted one is not', async () => {
  const [input, output, groupId] = [unique('tx-in'), unique('tx-out'), unique('tx-group')];
  await createTopics(kafka, input, output);
  const producer = kafka.producer({ transactionalId: unique('tx'), idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();

  const committed = await producer.transaction();
  await committed.send({ topic: output, messages: [{ value: 'committed' }] });
  await committed.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '5' }] }] });
  await committed.commit();

  const aborted = await producer.transaction();
  await aborted.send({ topic: output, messages: [{ value: 'aborted' }] });
  await aborted.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '9' }] }] });
  await aborted.abort();
  await producer.disconnect();

  assert.equal(await readValues(output, 0, 2_000), ['committed']);
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchOffsets({ groupId, topics: [input] });
  await admin.disconnect();
  assert.is(offsets[0]?.partitions[0]?.offset, '5');
});

test('read_committed drops aborted transactions whose aborts came in another order than their starts', async () => {
  // The broker lists a fetch's aborted transactions in the order they ended; kafkajs 2.2.4 expects
  // the order they started, and let a record of an aborted transaction through (see kafkajs-patch.ts).
  const topic = unique('tx-order');
  await createTopics(kafka, topic);
  const producers = await Promise.all(['first', 'second'].map(async (name) => {
    const producer = kafka.producer({ transactionalId: unique(`tx-${name}`), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    return producer;
  }));
  const [first, second] = await Promise.all(producers.map((p) => p.transaction()));
  await first!.send({ topic, messages: [{ value: 'aborted-first' }] });
  await second!.send({ topic, messages: [{ value: 'aborted-second' }] });
  await second!.abort(); // the later-started transaction ends first
  await first!.abort();
  const committed = await producers[0]!.transaction();
  await committed.send({ topic, messages: [{ value: 'committed' }] });
  await committed.commit();
  await Promise.all(producers.map((p) => p.disconnect()));

  assert.equal(await readValues(topic, 0, 2_000), ['committed']);
});

test('the changelog reader hands over exactly [from, until], though its consumer fetched the partition from 0 before the seek', async () => {
  const topic = unique('changelog');
  await createTopic(topic, 5);
  const producer = kafka.producer();
  await producer.connect();
  for (let partition = 0; partition < 5; partition++) {
    await producer.send({ topic, messages: Array.from({ length: 50 }, (_, i) => ({ key: `acc-${partition}`, value: `v${i}`, partition })) });
  }
  await producer.disconnect();
  // A new reader's consumer is given every partition unpaused and fetches them from offset 0
  // before the restores' seeks land (their reads begin as the reader joins its group): a batch
  // from below the seek, which must not be taken (it would write older snapshots over newer ones).
  const reader = new ChangelogReader(kafka, topic, unique('restore'));
  const offsets = new Map<number, number[]>();
  try {
    await Promise.all(
      [0, 1, 2, 3, 4].map((partition) =>
        reader.read(partition, 40n, 45n, async (messages) => void (offsets.get(partition) ?? offsets.set(partition, []).get(partition)!).push(...messages.map((m) => Number(m.offset)))),
      ),
    );
  } finally {
    await reader.stop();
  }
  for (let partition = 0; partition < 5; partition++) assert.equal(offsets.get(partition), [40, 41, 42, 43, 44, 45], `partition ${partition}`);
});

test('ChangelogReader: a range that ends in aborted records and their marker ends (kafkajs hands them to no eachBatch); an abort ends a read, and the partition reads again', async () => {
  const topic = unique('changelog-tail');
  await createTopics(kafka, topic);
  const producer = kafka.producer({ transactionalId: unique('tail-tx'), idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const committed = await producer.transaction();
  await committed.send({ topic, messages: ['k1', 'k2'].map((key) => ({ key, value: key })) });
  await committed.commit();
  const aborted = await producer.transaction();
  const [sent] = await aborted.send({ topic, messages: ['k3', 'k4'].map((key) => ({ key, value: key })) });
  await aborted.abort();
  await producer.disconnect();
  const firstAborted = BigInt(sent!.baseOffset!);
  // The coordinator writes the abort marker after abort() returns: wait for it (k3, k4, the marker).
  const admin = kafka.admin();
  await admin.connect();
  let end = 0n; // read_committed: the last stable offset
  await until('the abort marker', async () => (end = BigInt((await admin.fetchTopicOffsets(topic))[0]!.high)) === firstAborted + 3n, consumeTimeoutMs, 50);
  await admin.disconnect();
  const lastOffset = end - 1n; // the abort marker

  const reader = new ChangelogReader(kafka, topic, unique('restore'));
  const keys = (from: bigint, to: bigint, signal?: AbortSignal) => {
    const read: string[] = [];
    return withTimeout(reader.read(0, from, to, async (messages) => void read.push(...messages.map((m) => m.key!.toString())), signal), consumeTimeoutMs, `reading ${from}-${to}`).then(() => read);
  };
  try {
    assert.equal(await keys(0n, lastOffset), ['k1', 'k2'], 'the committed records, and the read ends at the marker');
    // Only the aborted records and their marker: the fetch holds nothing kafkajs hands to eachBatch.
    assert.equal(await keys(firstAborted, lastOffset), []);
    const cancel = new AbortController();
    const waiting = keys(lastOffset + 1n, lastOffset + 10n, cancel.signal); // nothing there yet
    setTimeout(() => cancel.abort(new Error('revoked')), 500);
    await rejects(() => waiting, /revoked/);
    assert.equal(await keys(0n, lastOffset), ['k1', 'k2'], 'read again after the abort');
  } finally {
    await reader.stop();
  }
});

test.run();
