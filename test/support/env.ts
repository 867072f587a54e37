import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { createKafka } from '../../src/kafka/client.js';
import { waitForLeaders } from '../../src/kafka/topics-admin.js';

/** The stack test/run.ts started (or the one KAFKA_BROKERS / REDIS_URL point at). */
export function testEnv(): { brokers: string[]; redisUrl: string } {
  const brokers = process.env.KAFKA_BROKERS;
  const redisUrl = process.env.REDIS_URL;
  if (!brokers || !redisUrl) throw new Error('run tests with `npm test`: it starts Kafka and Redis');
  return { brokers: brokers.split(','), redisUrl };
}

export const testKafka = (clientId = 'test') => createKafka(testEnv().brokers, clientId);

/** Creates a topic and waits until each of its partitions has a leader. */
export async function createTopic(topic: string, numPartitions: number): Promise<void> {
  const admin = testKafka('topic-creator').admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions }] });
    await waitForLeaders(admin, [topic]);
  } finally {
    await admin.disconnect();
  }
}

/** A name no earlier run used, so tests can share a broker (and rerun against yours). */
export const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A fresh directory inside the run's temp dir, removed with it. */
export const tempDir = (prefix: string) => mkdtempSync(join(process.env.TEST_TMP_DIR ?? '/tmp', `${prefix}-`));
