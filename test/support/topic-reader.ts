import type { Consumer, KafkaMessage } from 'kafkajs';
import { drained } from './deployment.js';
import { testKafka, unique } from './env.js';
import { until } from './until.js';

/** Collects every committed record of some topics (read_committed) into memory, from the beginning. */
export class TopicReader {
  readonly records = new Map<string, KafkaMessage[]>();
  private readonly topics: string[] = [];
  /** Per "topic:partition", the offset after the last one fetched, transaction markers included. */
  private readonly positions = new Map<string, bigint>();
  private readonly consumer: Consumer = testKafka('reader').consumer({ groupId: unique('reader'), maxWaitTimeInMs: 100, maxBytesPerPartition: 4 * 1024 * 1024 });

  static async start(topics: string[]): Promise<TopicReader> {
    const reader = new TopicReader();
    for (const topic of topics) reader.records.set(topic, []);
    reader.topics.push(...topics);
    const advance = (topic: string, partition: number, lastOffset: string) => {
      const key = `${topic}:${partition}`;
      if (BigInt(lastOffset) + 1n > (reader.positions.get(key) ?? 0n)) reader.positions.set(key, BigInt(lastOffset) + 1n);
    };
    // kafkajs hands a fetch of only markers (or aborted records) to no eachBatch: its end comes from this event.
    reader.consumer.on(reader.consumer.events.END_BATCH_PROCESS, ({ payload }) => void (payload.firstOffset !== null && advance(payload.topic, payload.partition, payload.lastOffset)));
    await reader.consumer.connect();
    await reader.consumer.subscribe({ topics, fromBeginning: true });
    await reader.consumer.run({
      eachBatch: async ({ batch }) => {
        reader.records.get(batch.topic)!.push(...batch.messages);
        advance(batch.topic, batch.partition, batch.lastOffset());
      },
    });
    return reader;
  }

  values<T>(topic: string): T[] {
    return (this.records.get(topic) ?? []).map((m) => JSON.parse(m.value!.toString()) as T);
  }

  /** Resolves when predicate holds; fails after timeoutMs saying what it waited for. */
  until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    return until(what, predicate, timeoutMs, 100);
  }

  /**
   * Resolves once groupId (a processor's) has committed everything its input topics hold, and
   * this reader has then fetched everything its own topics hold: every output of those inputs
   * is in `records`, and a late extra one would be too.
   */
  async caughtUp(groupId: string, inputTopics: string[], timeoutMs = 90_000): Promise<void> {
    const admin = testKafka('reader-admin').admin();
    await admin.connect();
    try {
      await this.until(`${groupId} to drain`, () => drained(admin, groupId, inputTopics), timeoutMs);
    } finally {
      await admin.disconnect();
    }
    await this.atEnd(timeoutMs);
  }

  /** Resolves once this reader has fetched everything its topics hold now, transaction markers included. */
  async atEnd(timeoutMs = 90_000): Promise<void> {
    const admin = testKafka('reader-admin').admin();
    await admin.connect();
    try {
      await this.until('the reader to reach the end of its topics', async () => {
        for (const topic of this.topics) {
          for (const { partition, high } of await admin.fetchTopicOffsets(topic)) if ((this.positions.get(`${topic}:${partition}`) ?? 0n) < BigInt(high)) return false;
        }
        return true;
      }, timeoutMs);
    } finally {
      await admin.disconnect();
    }
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}
