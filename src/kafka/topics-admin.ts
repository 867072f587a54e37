import type { Admin } from 'kafkajs';
import { coPartitionedTopics, type TopicSpec } from '../../topics/index.js';

/**
 * Creates the topics that are missing; existing ones are left as they are. Idempotent, and safe
 * when several instances start at once (the broker's TOPIC_ALREADY_EXISTS is not an error here).
 * Fails when commands and the changelog are not co-partitioned, since restore relies on it.
 */
export async function ensureTopics(admin: Admin, specs: TopicSpec[], appId: string): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((spec) => !existing.has(spec.name));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((spec) => ({
        topic: spec.name,
        numPartitions: spec.partitions,
        configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  const { topics } = await admin.fetchTopicMetadata({ topics: coPartitionedTopics(appId) });
  const counts = new Set(topics.map((t) => t.partitions.length));
  if (counts.size !== 1) {
    const detail = topics.map((t) => `${t.name}: ${t.partitions.length}`).join(', ');
    throw new Error(`topics must have the same partition count to be co-partitioned (${detail})`);
  }
  return missing.map((spec) => spec.name);
}
