import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { KafkaMessage } from 'kafkajs';
import { start, stop } from 'nact';
import { loadConfig } from '../../src/config.js';
import { ChangelogReader } from '../../src/processor/changelog-reader.js';
import { PartitionWorker, type WorkerContext } from '../../src/processor/partition-worker.js';
import type { CommandResult } from '../../topics/command-results.js';
import { murmur2Partition } from '../../topics/commands.js';
import { rejects } from '../support/assert.js';
import { deployment, partitions } from '../support/deployment.js';
import { testKafka, unique } from '../support/env.js';
import { TopicReader } from '../support/topic-reader.js';

const kafka = testKafka('worker-test');

test('a worker whose partition the group gave to another instance aborts its transaction instead of committing it; one revoked before its restore does not open', async () => {
  const d = await deployment();
  const admin = kafka.admin();
  await admin.connect();
  const { clusterId } = await admin.describeCluster();
  const reader = new ChangelogReader(kafka, d.topics.changelog.name, unique('restore'));
  const actorSystem = start();
  const transactionalId = unique('worker-tx');
  let owned = true;
  const open = async () => {
    const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const ctx: WorkerContext = {
      partition: 0,
      partitionCount: partitions,
      topics: d.topics,
      groupId: `${d.appId}-processor`,
      dataDir: d.dataDir,
      producer,
      reader,
      actorSystem: actorSystem as WorkerContext['actorSystem'],
      limits: loadConfig({}).processor,
      committedOffset: async () => -1n, // as if nothing was committed: the second worker handles the same record again
      clusterId: async () => clusterId,
      owns: () => owned,
      partitionsOwned: () => 1,
      actorsChanged: () => undefined,
    };
    try {
      return { worker: await PartitionWorker.open(ctx, async () => undefined), producer };
    } catch (err) {
      await producer.disconnect();
      throw err;
    }
  };
  // One OpenAccount on partition 0, as the consumer would hand it over.
  let n = 0;
  while (murmur2Partition(Buffer.from(`acc-${n}`), partitions) !== 0) n++;
  const aggregateId = `acc-${n}`;
  const command = { commandId: unique('open'), type: 'OpenAccount', aggregateId, payload: { ownerId: 'o', currency: 'EUR' }, issuedAt: '2026-01-01T00:00:00Z' };
  const message = { key: Buffer.from(aggregateId), value: Buffer.from(JSON.stringify(command)), offset: '0', timestamp: String(Date.now()), headers: {}, attributes: 0 } as KafkaMessage;
  /** The batch's failure, or undefined once it committed. */
  const handle = async (worker: PartitionWorker) => {
    let failure: unknown;
    await worker.accept({ messages: [message], lastOffset: 0n }, async () => undefined, (err) => (failure = err));
    await worker.idle(30_000);
    return failure;
  };

  const results = await TopicReader.start([d.topics.commandResults.name, d.topics.events.name]);
  try {
    const first = await open();
    owned = false; // the group's next assignment gives the partition away while the batch is handled
    const failure = await handle(first.worker);
    assert.match(String(failure), /assigned to another instance: its transaction is aborted/);
    await first.worker.close();
    await first.producer.disconnect();

    await rejects(() => open(), /revoked before its restore/);

    owned = true; // assigned back: the same record is handled, and committed, once
    const second = await open();
    assert.is(await handle(second.worker), undefined, 'committed');
    await second.worker.close();
    await second.producer.disconnect();
    await results.atEnd();
    assert.equal(results.values<CommandResult>(d.topics.commandResults.name), [{ commandId: command.commandId, aggregateId, status: 'accepted', version: 1 }], 'one result: the aborted transaction left none');
    assert.is(results.records.get(d.topics.events.name)!.length, 1, 'one event');
  } finally {
    await results.stop();
    await reader.stop();
    await admin.disconnect();
    stop(actorSystem as never);
  }
});

test.run();
