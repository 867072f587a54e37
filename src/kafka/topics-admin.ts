import type { Admin } from 'kafkajs';
import kafkajs from 'kafkajs';
import type { TopicSpec, Topology } from '../../topics/index.js';
import { logger } from '../log.js';

const log = logger('topics');

/**
 * Creates the topics that are missing; existing ones are left as they are. Idempotent, and safe
 * when several instances start at once (the broker's TOPIC_ALREADY_EXISTS is not an error here).
 * Fails when the topics are not co-partitioned: restore reads changelog/p for commands/p, and
 * events, results and DLQ records of commands/p are written to partition p.
 */
export async function ensureTopics(admin: Admin, topics: Topology, replication: TopicReplication = {}): Promise<string[]> {
  // Each topic's configs, with min.insync.replicas when one is configured.
  const replicationConfigs: Record<string, string> = replication.minInsyncReplicas === undefined ? {} : { 'min.insync.replicas': String(replication.minInsyncReplicas) };
  const specs: TopicSpec[] = Object.values(topics).map((spec) => ({ ...spec, configs: { ...spec.configs, ...replicationConfigs } }));
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((spec) => !existing.has(spec.name));
  if (missing.length > 0) {
    await createTopics(admin, {
      waitForLeaders: false, // kafkajs gives up on UNKNOWN_TOPIC_OR_PARTITION while KRaft propagates; we wait below
      topics: missing.map((spec) => ({
        topic: spec.name,
        numPartitions: spec.partitions,
        replicationFactor: replication.factor ?? -1, // -1: the broker's default.replication.factor
        configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  await waitForLeaders(admin, specs.map((spec) => spec.name));
  await warnOnConfigDrift(admin, specs.filter((spec) => existing.has(spec.name)));
  const metadata = await admin.fetchTopicMetadata({ topics: specs.map((spec) => spec.name) });
  const counts = new Set(metadata.topics.map((t) => t.partitions.length));
  if (counts.size !== 1) {
    const detail = metadata.topics.map((t) => `${t.name}: ${t.partitions.length}`).join(', ');
    throw new Error(`topics must have the same partition count to be co-partitioned (${detail})`);
  }
  for (const topic of metadata.topics) {
    const spec = specs.find((s) => s.name === topic.name)!;
    if (topic.partitions.length !== spec.partitions) log.warn('topic exists with another partition count than PARTITIONS; it is used as it is', { topic: topic.name, partitions: topic.partitions.length, configured: spec.partitions });
    const replicas = Math.min(...topic.partitions.map((p) => p.replicas.length));
    if (replication.factor !== undefined && replicas < replication.factor) log.warn('topic has fewer replicas than TOPIC_REPLICATION_FACTOR', { topic: topic.name, replicas, configured: replication.factor });
  }
  return missing.map((spec) => spec.name);
}

/** kafkajs's createTopics, whose aggregate error says only "Topic creation errors": the broker's reasons are added. */
async function createTopics(admin: Admin, options: Parameters<Admin['createTopics']>[0]): Promise<void> {
  try {
    await admin.createTopics(options);
  } catch (err) {
    const reasons = (err as { errors?: Array<{ topic?: string; message?: string }> }).errors?.map((e) => `${e.topic ?? '?'}: ${e.message ?? String(e)}`);
    if (!reasons?.length) throw err;
    throw new Error(`creating topics failed: ${reasons.join('; ')}`, { cause: err });
  }
}

/** TOPIC_REPLICATION_FACTOR and TOPIC_MIN_INSYNC_REPLICAS; unset: the broker's defaults. */
export interface TopicReplication {
  readonly factor?: number | undefined;
  readonly minInsyncReplicas?: number | undefined;
}

const leadersTimeoutMs = 30_000;

/** Resolves once every partition of the topics has a leader; retriable metadata errors are waited out. */
export async function waitForLeaders(admin: Admin, names: string[], timeoutMs = leadersTimeoutMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: names });
      if (topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      if (!(err as { retriable?: boolean }).retriable || Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics ${names.join(', ')} have no leaders after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Existing topics keep their configs (AlterConfigs would replace every dynamic config an operator
 * set). A difference from the spec is logged: e.g. `commands` without LogAppendTime makes the
 * idempotency window follow the producers' clocks.
 */
async function warnOnConfigDrift(admin: Admin, specs: TopicSpec[]): Promise<void> {
  if (specs.length === 0) return;
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: specs.map((spec) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name: spec.name, configNames: Object.keys(spec.configs) })),
  });
  for (const resource of resources) {
    const spec = specs.find((s) => s.name === resource.resourceName);
    for (const entry of resource.configEntries) {
      const wanted = spec?.configs[entry.configName];
      if (wanted !== undefined && wanted !== entry.configValue) {
        log.warn('topic config differs from its spec', { topic: resource.resourceName, config: entry.configName, actual: entry.configValue, expected: wanted });
      }
    }
  }
}
