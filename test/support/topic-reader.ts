import type { Consumer, KafkaMessage } from 'kafkajs';
import { testKafka, unique } from './env.js';

/** Collects every committed record of some topics (read_committed) into memory, from the beginning. */
export class TopicReader {
  readonly records = new Map<string, KafkaMessage[]>();
  private readonly consumer: Consumer = testKafka('reader').consumer({ groupId: unique('reader'), maxWaitTimeInMs: 100, maxBytesPerPartition: 4 * 1024 * 1024 });

  static async start(topics: string[]): Promise<TopicReader> {
    const reader = new TopicReader();
    for (const topic of topics) reader.records.set(topic, []);
    await reader.consumer.connect();
    await reader.consumer.subscribe({ topics, fromBeginning: true });
    await reader.consumer.run({ eachMessage: async ({ topic, message }) => void reader.records.get(topic)!.push(message) });
    return reader;
  }

  values<T>(topic: string): T[] {
    return (this.records.get(topic) ?? []).map((m) => JSON.parse(m.value!.toString()) as T);
  }

  /** Resolves when predicate holds; fails after timeoutMs saying what it waited for. */
  async until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await predicate())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}
