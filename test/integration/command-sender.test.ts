import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Partitioners, type Producer } from 'kafkajs';
import { CommandSender } from '../../src/kafka/command-sender.js';
import { murmur2Partition } from '../../topics/commands.js';
import { createTopic, testKafka, unique } from '../support/env.js';
import { until } from '../support/until.js';

const kafka = testKafka('command-sender-test');

/** As the API makes it (src/main.ts): idempotent, retrying without end. */
async function createProducer(): Promise<Producer> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: Number.MAX_SAFE_INTEGER }, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return producer;
}

test('commands sent at once share produce requests; each gets its own partition (murmur2) and offset, where its record is', async () => {
  const topic = unique('commands');
  await createTopic(topic, 4);
  const sender = new CommandSender(
    createProducer,
    topic,
    4,
  );
  const count = 600;
  try {
    const sending = Array.from({ length: count }, (_, i) => sender.send(`acc-${i % 50}`, Buffer.from(`command ${i}`)));
    // Not acknowledged yet: every command of a partition counts, queued or in its request (the API's per-partition bound).
    const partitionOf = (i: number) => murmur2Partition(Buffer.from(`acc-${i % 50}`), 4);
    for (let partition = 0; partition < 4; partition++) {
      const commands = Array.from({ length: count }, (_, i) => i).filter((i) => partitionOf(i) === partition);
      assert.is(sender.waiting(partition), commands.length, `waiting on partition ${partition}`);
    }
    const sent = await Promise.all(sending);
    for (let partition = 0; partition < 4; partition++) assert.is(sender.waiting(partition), 0, `nothing waits on partition ${partition} once acknowledged`);
    assert.ok(sender.requests <= 3 * 4, `${sender.requests} produce requests for ${count} commands`);
    sent.forEach(({ partition }, i) => assert.is(partition, partitionOf(i), `partition of command ${i}`));
    assert.is(sender.partitionOf('acc-7'), partitionOf(7));
    assert.is(new Set(sent.map(({ partition, offset }) => `${partition}@${offset}`)).size, count, 'no two commands at one offset');

    const at = new Map<string, string>();
    const consumer = kafka.consumer({ groupId: unique('reader'), maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ partition, message }) => void at.set(`${partition}@${message.offset}`, message.value?.toString() ?? '') });
    try {
      await until('every command read back', () => at.size >= count, 30_000, 100).catch(() => undefined); // the assertions below name what is missing
      sent.forEach(({ partition, offset }, i) => assert.is(at.get(`${partition}@${offset}`), `command ${i}`, `the record at ${partition}@${offset}`));
    } finally {
      await consumer.disconnect();
    }
  } finally {
    await sender.close();
  }
});

test('a send kafkajs gives up on fails its commands, and the next go through a new producer (new sequence numbers)', async () => {
  const topic = unique('commands');
  await createTopic(topic, 2);
  let created = 0;
  const sender = new CommandSender(
    () => {
      created++;
      return createProducer();
    },
    topic,
    2,
  );
  try {
    // Over the broker's 1 MiB message.max.bytes: refused, not retried.
    const refused = await sender.send('acc-1', Buffer.alloc(2 * 1024 * 1024, 'x')).catch((err: Error) => err);
    assert.instance(refused, Error);
    const sent = await sender.send('acc-1', Buffer.from('after'));
    assert.is(sent.offset, '0', 'nothing of the refused send was written');
    assert.is(created, 2);
  } finally {
    await sender.close();
  }
});

test.run();
