import { test } from 'uvu';
import * as assert from 'uvu/assert';
import kafkajs from 'kafkajs';
import { ensureTopics } from '../../src/kafka/topics-admin.js';
import { topology } from '../../topics/index.js';
import { rejects } from '../support/assert.js';
import { testKafka, unique } from '../support/env.js';

const admin = testKafka('topics-test').admin();
test.before(() => admin.connect());
test.after(() => admin.disconnect());

async function config(topic: string, name: string): Promise<string | undefined> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }],
  });
  return resources[0]?.configEntries.find((entry) => entry.configName === name)?.configValue;
}

test('creating the topics twice creates them once, with their configs', async () => {
  const appId = unique('app');
  const topics = topology(appId, 3, `${appId}.`);
  const first = await ensureTopics(admin, topics);
  assert.equal(first.sort(), Object.values(topics).map((spec) => spec.name).sort());
  assert.equal(await ensureTopics(admin, topics), []);
  const existing = await admin.listTopics();
  for (const spec of Object.values(topics)) assert.ok(existing.includes(spec.name), spec.name);
  assert.is(await config(topics.changelog.name, 'cleanup.policy'), 'compact');
  assert.is(await config(topics.events.name, 'retention.ms'), '-1');
});

test('TOPIC_REPLICATION_FACTOR and TOPIC_MIN_INSYNC_REPLICAS go to the topics created; more replicas than brokers fail', async () => {
  const appId = unique('app');
  const topics = topology(appId, 2, `${appId}.`);
  await ensureTopics(admin, topics, { factor: 1, minInsyncReplicas: 1 });
  const { topics: created } = await admin.fetchTopicMetadata({ topics: [topics.events.name] });
  assert.equal(created[0]!.partitions.map((p) => p.replicas.length), [1, 1]);
  const described = await admin.describeConfigs({
    includeSynonyms: true,
    resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topics.events.name, configNames: ['min.insync.replicas'] }],
  });
  // Set on the topic itself (not inherited from the broker): a topic config's source is 1.
  assert.equal(described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue, e.configSource]), [['min.insync.replicas', '1', 1]]);
  // The single test broker cannot hold three replicas: the broker refuses, and so does the start.
  const topicsOfThree = topology(unique('app'), 2, `${unique('ns')}.`);
  await rejects(() => ensureTopics(admin, topicsOfThree, { factor: 3 }), new RegExp(`^creating topics failed: .*${topicsOfThree.commands.name}: Replication-factor is invalid`));
});

test('a changelog not co-partitioned with commands is refused', async () => {
  const prefix = `${unique('ns')}.`;
  await ensureTopics(admin, topology('app-a', 3, prefix));
  // Same prefix, so the same commands topic (3 partitions), but a new changelog with 4.
  await rejects(() => ensureTopics(admin, topology('app-b', 4, prefix)), /same partition count/);
});

test.run();
