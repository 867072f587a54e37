import { Partitioners, type Admin } from 'kafkajs';
import { ensureTopics } from '../../src/kafka/topics-admin.js';
import { retriable } from '../../src/kafka/retry.js';
import { topology, type Topology } from '../../topics/index.js';
import type { RawCommand, Workload } from './ledger-model.js';
import { tempDir, testKafka, unique } from './env.js';

export const partitions = 4;
let client: ReturnType<typeof testKafka> | undefined;
/** Created on first use: a benchmark sets the stack's env after importing this module. */
const kafka = () => (client ??= testKafka('deployment'));

/** A namespace of its own on the shared broker: topics, consumer groups, data dir, Redis keys. */
export interface Deployment {
  readonly ns: string;
  readonly appId: string;
  readonly topics: Topology;
  readonly env: Record<string, string>;
  readonly dataDir: string;
}

export async function deployment(extraEnv: Record<string, string> = {}, partitionCount = partitions): Promise<Deployment> {
  const ns = unique('p');
  const appId = `app-${ns}`;
  const topics = topology(appId, partitionCount, `${ns}.`);
  const admin = kafka().admin();
  await admin.connect();
  await ensureTopics(admin, topics);
  await admin.disconnect();
  const dataDir = tempDir('deployment');
  const env = { APP_ID: appId, TOPIC_PREFIX: `${ns}.`, PARTITIONS: String(partitionCount), DATA_DIR: dataDir, ...extraEnv };
  return { ns, appId, topics, env, dataDir };
}

export async function produce(topic: string, commands: RawCommand[], poison: Workload['poison'] = []): Promise<void> {
  // Idempotent: kafkajs retries a whole multi-partition request when one partition fails, and
  // without idempotence the partitions that had succeeded would get every command twice.
  const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const messages = [
    ...commands.map((c) => ({ key: c.aggregateId, value: JSON.stringify(c) })),
    ...poison.map((p) => ({ key: p.key, value: p.value, headers: { 'x-trace': 'poison' } })),
  ];
  for (let i = 0; i < messages.length; i += 500) await producer.send({ topic, messages: messages.slice(i, i + 500) });
  await producer.disconnect();
}

/** True when the group has committed everything the topics hold. */
export async function drained(admin: Admin, groupId: string, topicNames: string[]): Promise<boolean> {
  return (await lagging(admin, groupId, topicNames)).length === 0;
}

/** The partitions where the group has committed less than the topic holds, as "topic/p: committed c, end e". */
export async function lagging(admin: Admin, groupId: string, topicNames: string[]): Promise<string[]> {
  const behind: string[] = [];
  for (const topic of topicNames) {
    const ends = await retriable(() => admin.fetchTopicOffsets(topic));
    const [committed] = await retriable(() => admin.fetchOffsets({ groupId, topics: [topic] }));
    for (const end of ends) {
      const offset = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
      if (BigInt(offset) < BigInt(end.high)) behind.push(`${topic}/${end.partition}: committed ${offset}, end ${end.high}`);
    }
  }
  return behind;
}

export const expectedResultCount = (w: Workload) => [...w.results.values()].reduce((n, statuses) => n + statuses.length, 0);
