// kafkajs 2.2.4 (its last release) groups a produce request's messages per partition with
// `[...current, message]`: quadratic in the messages per partition. Our batches put thousands of
// records into one partition, and it showed as the hottest kafkajs function in the processor's
// CPU profile. This installs a linear version with the same contract in the module cache before
// kafkajs loads it. Import this module before anything imports kafkajs (src/kafka/client.ts does).
import { createRequire } from 'node:module';

type Partitioner = (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
interface GroupArgs {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: Partitioner;
}

function groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }: GroupArgs): Record<number, unknown[]> {
  if (partitionMetadata.length === 0) return {};
  const result: Record<number, unknown[]> = {};
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}

const require = createRequire(import.meta.url);
const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
if (require.cache[path] === undefined) {
  require.cache[path] = { id: path, filename: path, loaded: true, exports: groupMessagesPerPartition } as unknown as NodeJS.Module;
} else if (require.cache[path]!.exports !== groupMessagesPerPartition) {
  throw new Error('kafkajs was loaded before src/kafka/kafkajs-patch.ts: import the patch first');
}

