import { test } from 'uvu';
import * as assert from 'uvu/assert';
import kafkajs from 'kafkajs';
import { ensureTopics } from '../../src/kafka/topics-admin.js';
import { topicSpecs } from '../../topics/index.js';
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
  const specs = topicSpecs(appId, 3);
  const first = await ensureTopics(admin, specs, appId);
  assert.ok(first.includes(`${appId}-aggregates-changelog`));
  assert.equal(await ensureTopics(admin, specs, appId), []);
  const existing = await admin.listTopics();
  for (const spec of specs) assert.ok(existing.includes(spec.name), spec.name);
  assert.is(await config(`${appId}-aggregates-changelog`, 'cleanup.policy'), 'compact');
  assert.is(await config('events', 'retention.ms'), '-1');
});

test('a changelog not co-partitioned with commands is refused', async () => {
  const appId = unique('app');
  await ensureTopics(admin, topicSpecs(appId, 3), appId); // commands may exist already; learn its count
  const { topics } = await admin.fetchTopicMetadata({ topics: ['commands'] });
  const otherCount = (topics[0]?.partitions.length ?? 3) + 1;
  const other = unique('app');
  await rejects(() => ensureTopics(admin, topicSpecs(other, otherCount), other), /same partition count/);
});

test.run();
